#include "view.h"

#include <sys/mman.h>

#include <cerrno>
#include <string>
#include <vector>

#include "errors.h"

namespace daxfs {

// Tells our records apart from anything else wrapped onto an ArrayBuffer.
static const napi_type_tag kViewTag = {0x6461786673766965ull, 0x7770616765763031ull};

static void drop_state(ViewRecord *r) {
  if (!r->state) return;
  r->state->views.erase(r);
  unref(r->state);
  r->state = nullptr;
}

static void finalize_view(napi_env env, void *data, void *) {
  auto *r = static_cast<ViewRecord *>(data);
  drop_state(r);
  if (r->buffer) napi_delete_reference(env, r->buffer);
  delete r;
}

static void revoke(napi_env env, ViewRecord *r) {
  napi_value ab = nullptr;
  if (r->buffer && napi_get_reference_value(env, r->buffer, &ab) == napi_ok && ab) napi_detach_arraybuffer(env, ab);
  drop_state(r);   // a revoked view no longer keeps the memory mapped
}

void revoke_all_views(napi_env env, MappingState *s) {
  std::vector<ViewRecord *> all(s->views.begin(), s->views.end());
  for (ViewRecord *r : all) revoke(env, r);
}

// An external ArrayBuffer over [base, base+len) with a record wrapped onto it.
static napi_value make_view(napi_env env, void *base, size_t len, MappingState *s, bool read_only, bool unpinnable) {
  napi_value ab;
  if (napi_create_external_arraybuffer(env, base, len, nullptr, nullptr, &ab) != napi_ok) {
    throw_sys(env, ENOMEM, "napi_create_external_arraybuffer", "", "cannot expose a page to JavaScript");
    return nullptr;
  }
  auto *r = new ViewRecord();
  r->readOnly = read_only;
  r->unpinnable = unpinnable;
  // revoke() follows the wrap's own weak reference, deleted by finalize_view as Node-API
  // asks. (A second weak reference to the same object, deleted from the wrap's finalizer,
  // is the pattern that has crashed Node-API during GC before.)
  if (napi_wrap(env, ab, r, finalize_view, nullptr, &r->buffer) != napi_ok) {
    delete r;
    napi_detach_arraybuffer(env, ab);
    throw_sys(env, ENOMEM, "napi_wrap", "", "cannot track a page view");
    return nullptr;
  }
  napi_type_tag_object(env, ab, &kViewTag);
  if (s) {
    ref(s);
    r->state = s;
    s->views.insert(r);
  }
  return ab;
}

// Made once per mapping: mremap with old size 0 maps the same pages a second time (only
// possible for shared memory), then the copy loses write permission.
static bool ensure_read_only_alias(napi_env env, MappingState *s) {
  if (s->readOnlyAlias.base) return true;
  void *a = mremap(s->map.base, 0, s->map.size, MREMAP_MAYMOVE);
  if (a == MAP_FAILED) {
    int err = errno;
    throw_sys(env, err == EINVAL ? EOPNOTSUPP : err, "mremap", "",
              "cannot make a read-only alias of this memory (it must be shared memory, not a private mapping)");
    return false;
  }
  if (mprotect(a, s->map.size, PROT_READ) != 0) {
    int err = errno;
    munmap(a, s->map.size);
    throw_sys(env, err, "mprotect", "", "cannot make a read-only alias of this memory");
    return false;
  }
  s->readOnlyAlias = Mapping{a, s->map.size, MapKind::Anonymous, false, 0};
  return true;
}

// An optional boolean argument: false when absent or undefined.
static bool optional_bool(napi_env env, size_t argc, napi_value *argv, size_t i, const char *name, bool &out) {
  out = false;
  if (argc <= i) return true;
  napi_valuetype t;
  napi_typeof(env, argv[i], &t);
  if (t == napi_undefined) return true;
  if (napi_get_value_bool(env, argv[i], &out) != napi_ok) {
    throw_type(env, std::string("The \"") + name + "\" argument must be of type boolean");
    return false;
  }
  return true;
}

napi_value page_view_fn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  auto *s = static_cast<MappingState *>(data);
  if (s->closed) {
    throw_sys(env, EBADF, "", "", "the mapping is closed");
    return nullptr;
  }
  if (argc < 3) {
    throw_type(env, "pageView(offset, length, readOnly) needs three arguments");
    return nullptr;
  }
  uint64_t off, len;
  bool read_only;
  if (!get_size_arg(env, argv[0], "offset", off) || !get_size_arg(env, argv[1], "length", len)) return nullptr;
  if (napi_get_value_bool(env, argv[2], &read_only) != napi_ok) {
    throw_type(env, "The \"readOnly\" argument must be of type boolean");
    return nullptr;
  }
  bool unpinnable;
  if (!optional_bool(env, argc, argv, 3, "unpinnable", unpinnable)) return nullptr;
  const uint64_t page = page_size();
  if (off % page != 0 || len % page != 0 || len == 0) {
    throw_range(env, "A page view must start and end on a page boundary (" + std::to_string(page) +
                " bytes) and not be empty. Received [" + std::to_string(off) + ", " + std::to_string(off + len) + ")");
    return nullptr;
  }
  if (len > kWindowSize || off > s->map.size || len > s->map.size - off) {
    throw_range(env, "The page view [" + std::to_string(off) + ", " + std::to_string(off + len) +
                ") is out of range. The mapping is " + std::to_string(s->map.size) +
                " bytes and a view at most " + std::to_string(kWindowSize));
    return nullptr;
  }
  if (read_only && !ensure_read_only_alias(env, s)) return nullptr;
  char *base = static_cast<char *>(read_only ? s->readOnlyAlias.base : s->map.base) + off;
  return make_view(env, base, len, s, read_only, unpinnable);
}

ViewRecord *view_of(napi_env env, napi_value arraybuffer) {
  bool ours = false;
  void *data = nullptr;
  if (napi_check_object_type_tag(env, arraybuffer, &kViewTag, &ours) != napi_ok || !ours ||
      napi_unwrap(env, arraybuffer, &data) != napi_ok)
    return nullptr;
  return static_cast<ViewRecord *>(data);
}

napi_value revoke_view_binding(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  bool is_ab = false;
  if (argc < 1 || napi_is_arraybuffer(env, arg, &is_ab) != napi_ok || !is_ab) {
    throw_type(env, "The \"buffer\" argument must be an ArrayBuffer");
    return nullptr;
  }
  bool ours = false;
  void *data = nullptr;
  napi_value result;
  if (napi_check_object_type_tag(env, arg, &kViewTag, &ours) == napi_ok && ours &&
      napi_unwrap(env, arg, &data) == napi_ok && data) {
    revoke(env, static_cast<ViewRecord *>(data));
  } else {
    ours = false;
  }
  napi_get_boolean(env, ours, &result);
  return result;
}

napi_value view_unpinnable_binding(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg = nullptr;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, arg, &t);
  ViewRecord *r = t == napi_object ? view_of(env, arg) : nullptr;
  napi_value result;
  napi_get_boolean(env, r != nullptr && r->unpinnable, &result);
  return result;
}

napi_value zero_page_view_binding(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg = nullptr;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  bool unpinnable;
  if (!optional_bool(env, argc, &arg, 0, "unpinnable", unpinnable)) return nullptr;
  // One PROT_READ page for the whole process, never unmapped: a store raises SIGSEGV.
  static void *const zero = mmap(nullptr, page_size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (zero == MAP_FAILED) {
    throw_sys(env, ENOMEM, "mmap", "", "cannot map the zero page");
    return nullptr;
  }
  return make_view(env, zero, page_size(), nullptr, true, unpinnable);
}

}  // namespace daxfs
