// Module entry: registers the functions lib/native.ts types and loads.
#include <node_api.h>

#include <string>

#include "../core/cpu.h"
#include "../core/map.h"
#include "../core/persist.h"
#include "../core/sysfs.h"
#include "addon.h"
#include "async_copy.h"
#include "errors.h"
#include "hot.h"
#include "lock.h"
#include "mapping.h"
#include "view.h"

namespace daxfs {

AddonData *addon_data(napi_env env) {
  void *data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<AddonData *>(data);
}

static void set_str(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_num(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_bool(napi_env env, napi_value obj, const char *name, bool value) {
  napi_value v;
  napi_get_boolean(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

// platform(): what the CPU and the system offer, as the native side sees it.
static napi_value platform(napi_env env, napi_callback_info) {
  const PersistOps &ops = persist_ops();
  napi_value obj;
  napi_create_object(env, &obj);
  set_str(env, obj, "flush", ops.flushName);
  set_str(env, obj, "fence", ops.fenceName);
  set_str(env, obj, "copy", ops.copyName);
  set_bool(env, obj, "nontemporal", std::string(ops.copyName) != "plain");
  set_num(env, obj, "cacheLine", static_cast<double>(cpu_features().cacheLine));
  set_num(env, obj, "pageSize", static_cast<double>(page_size()));
  set_bool(env, obj, "autoFlush", cpu_cache_is_persistent());
  set_bool(env, obj, "forcePmem", env_switch("DAXFS_FORCE_PMEM"));
  return obj;
}

// setSysfsRootForTests(path): point sysfs look-ups at a fake tree ("" restores /sys).
static napi_value set_sysfs_root_for_tests(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  char buf[4096];
  size_t n = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, arg, buf, sizeof buf, &n) != napi_ok) {
    throw_type(env, "The \"root\" argument must be of type string");
    return nullptr;
  }
  set_sysfs_root(std::string(buf, n));
  return nullptr;
}

// Worker exit: mappings first (an async copy in flight then writes to a placeholder), then
// the locks and device claims, so another worker can free or reuse what they guarded.
static void cleanup(void *arg) {
  auto env = static_cast<napi_env>(arg);
  close_all_mappings(env);
  release_env_locks(env);
}

static napi_value init(napi_env env, napi_value exports) {
  auto *data = new AddonData();
  napi_set_instance_data(env, data, [](napi_env e, void *d, void *) {
    auto *a = static_cast<AddonData *>(d);
    if (a->errorFactory) napi_delete_reference(e, a->errorFactory);
    if (a->hot) hot_release(a->hot);
    delete a;
  }, nullptr);
  // Worker exit: unmap what the worker mapped and release what it holds, even if it never
  // called close() or unmount().
  napi_add_env_cleanup_hook(env, cleanup, env);
  persist_ops();  // choose the flush, fence and copy once, at load
  napi_property_descriptor props[] = {
      {"platform", nullptr, platform, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setErrorFactory", nullptr, set_error_factory, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setSysfsRootForTests", nullptr, set_sysfs_root_for_tests, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mapFile", nullptr, map_file_binding, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mapAnonymous", nullptr, map_anonymous_binding, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"revokeView", nullptr, revoke_view_binding, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"zeroPageView", nullptr, zero_page_view_binding, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"viewUnpinnable", nullptr, view_unpinnable_binding, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"copyAsync", nullptr, copy_async_binding, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  add_lock_functions(env, exports);
  add_hot_functions(env, exports);
  return exports;
}

}  // namespace daxfs

NAPI_MODULE_INIT() { return daxfs::init(env, exports); }
