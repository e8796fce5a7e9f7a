// Device claims, reader/writer locks and counters shared by every worker of the process.
#include "lock.h"

#include <cmath>
#include <string>

#include "../core/lock.h"
#include "addon.h"
#include "errors.h"

namespace daxfs {

static constexpr double kMaxSafe = 9007199254740991.0;   // 2^53 - 1

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < want) {
    throw_type(env, "missing arguments");
    return false;
  }
  return true;
}

static bool get_key(napi_env env, napi_value v, const char *what, uint64_t &out) {
  return get_size_arg(env, v, what, out);
}

// claimDevice(path) -> identity
static napi_value claim_device(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], nullptr, 0, &len) != napi_ok) {
    throw_type(env, "The \"path\" argument must be of type string");
    return nullptr;
  }
  std::string path(len, '\0');
  napi_get_value_string_utf8(env, argv[0], &path[0], len + 1, &len);
  uint64_t id = 0;
  int err = device_claim(path.c_str(), &id);
  if (err == 0) addon_data(env)->claims[id]++;
  if (err) {
    throw_sys(env, err, "flock", path,
              err == EBUSY ? path + " is in use by another process (daxfs takes one flock per device per process); unmount it there first"
                           : path + ": cannot claim the device");
    return nullptr;
  }
  napi_value result;
  napi_create_double(env, static_cast<double>(id), &result);
  return result;
}

// releaseDevice(identity)
static napi_value release_device(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint64_t id;
  if (!get_args(env, info, 1, argv) || !get_key(env, argv[0], "id", id)) return nullptr;
  auto &claims = addon_data(env)->claims;
  auto it = claims.find(id);
  if (it == claims.end()) return nullptr;   // not this environment's claim: nothing to give back
  if (--it->second == 0) claims.erase(it);
  device_release(id);
  return nullptr;
}

// deviceClaims(identity) -> count
static napi_value device_claims_fn(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  uint64_t id;
  if (!get_args(env, info, 1, argv) || !get_key(env, argv[0], "id", id)) return nullptr;
  napi_create_int32(env, device_claims(id), &result);
  return result;
}

static bool lock_args(napi_env env, napi_callback_info info, uint64_t &domain, uint64_t &key, bool &exclusive) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv) || !get_key(env, argv[0], "domain", domain) || !get_key(env, argv[1], "key", key))
    return false;
  if (napi_get_value_bool(env, argv[2], &exclusive) != napi_ok) {
    throw_type(env, "The \"exclusive\" argument must be of type boolean");
    return false;
  }
  return true;
}

static void note_held(napi_env env, uint64_t domain, uint64_t key, bool exclusive) {
  addon_data(env)->locks[{domain, key, exclusive}]++;
}

// rwLock(domain, key, exclusive): blocks until granted
static napi_value rw_lock_fn(napi_env env, napi_callback_info info) {
  uint64_t domain, key;
  bool exclusive;
  if (!lock_args(env, info, domain, key, exclusive)) return nullptr;
  rw_lock(domain, key, exclusive);
  note_held(env, domain, key, exclusive);
  return nullptr;
}

// rwTryLock(domain, key, exclusive) -> boolean
static napi_value rw_try_lock_fn(napi_env env, napi_callback_info info) {
  uint64_t domain, key;
  bool exclusive;
  if (!lock_args(env, info, domain, key, exclusive)) return nullptr;
  bool got = rw_try_lock(domain, key, exclusive);
  if (got) note_held(env, domain, key, exclusive);
  napi_value result;
  napi_get_boolean(env, got, &result);
  return result;
}

// rwUnlock(domain, key, exclusive): EPERM when not held in that mode
static napi_value rw_unlock_fn(napi_env env, napi_callback_info info) {
  uint64_t domain, key;
  bool exclusive;
  if (!lock_args(env, info, domain, key, exclusive)) return nullptr;
  // Only what this environment took: another worker's hold is not ours to give back.
  auto &locks = addon_data(env)->locks;
  auto it = locks.find({domain, key, exclusive});
  if (it == locks.end() || !rw_unlock(domain, key, exclusive)) {
    throw_sys(env, EPERM, "unlock", "", "the lock is not held in that mode by this thread");
    return nullptr;
  }
  if (--it->second == 0) locks.erase(it);
  return nullptr;
}

void release_env_locks(napi_env env) {
  AddonData *data = addon_data(env);
  if (!data) return;
  for (auto &[lock, holds] : data->locks)
    for (int i = 0; i < holds; i++) rw_unlock(std::get<0>(lock), std::get<1>(lock), std::get<2>(lock));
  data->locks.clear();
  for (auto &[id, count] : data->claims)
    for (int i = 0; i < count; i++) device_release(id);
  data->claims.clear();
}

// counterAdd(domain, key, delta) -> new value. delta and the value stay safe integers:
// napi_get_value_int64 alone would truncate 0.5, read NaN as 0 and saturate 2^64.
static napi_value counter_add_fn(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  uint64_t domain, key;
  double d;
  if (!get_args(env, info, 3, argv) || !get_key(env, argv[0], "domain", domain) || !get_key(env, argv[1], "key", key))
    return nullptr;
  if (napi_get_value_double(env, argv[2], &d) != napi_ok) {
    throw_type(env, "The \"delta\" argument must be of type number");
    return nullptr;
  }
  if (!(std::fabs(d) <= kMaxSafe) || std::floor(d) != d) {
    throw_range(env, "The value of \"delta\" is out of range. It must be a safe integer");
    return nullptr;
  }
  int64_t value;
  if (!counter_add(domain, key, static_cast<int64_t>(d), static_cast<int64_t>(kMaxSafe), &value)) {
    throw_range(env, "counter (" + std::to_string(domain) + ", " + std::to_string(key) +
                ") would pass the safe integer range; it is unchanged");
    return nullptr;
  }
  napi_create_double(env, static_cast<double>(value), &result);
  return result;
}

// counterCell(domain, key) -> an 8-byte ArrayBuffer over the counter (a little-endian int64),
// so a hot path reads it with a load instead of a call. Never freed, so never detached.
static napi_value counter_cell_fn(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  uint64_t domain, key;
  if (!get_args(env, info, 2, argv) || !get_key(env, argv[0], "domain", domain) || !get_key(env, argv[1], "key", key))
    return nullptr;
  static_assert(sizeof(std::atomic<int64_t>) == 8, "a counter cell is one int64");
  if (napi_create_external_arraybuffer(env, counter_cell(domain, key), 8, nullptr, nullptr, &result) != napi_ok) {
    throw_sys(env, ENOMEM, "napi_create_external_arraybuffer", "", "cannot expose a counter");
    return nullptr;
  }
  return result;
}

void add_lock_functions(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"claimDevice", nullptr, claim_device, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"releaseDevice", nullptr, release_device, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"deviceClaims", nullptr, device_claims_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rwLock", nullptr, rw_lock_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rwTryLock", nullptr, rw_try_lock_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rwUnlock", nullptr, rw_unlock_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"counterAdd", nullptr, counter_add_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"counterCell", nullptr, counter_cell_fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace daxfs
