#include "mapping.h"

#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "../core/cpu.h"
#include "../core/persist.h"
#include "../core/sysfs.h"
#include "addon.h"
#include "errors.h"
#include "hot.h"
#include "view.h"

namespace daxfs {

static std::mutex g_live_mutex;
static std::set<MappingState *> g_live;

void ref(MappingState *s) { s->refs.fetch_add(1); }

// Marks mapping handles, so a foreign object passed to copyAsync is refused, not cast.
static const napi_type_tag kHandleTag = {0x6461786673u, 0x6d617070696e67u};

void unref(MappingState *s) {
  if (s->refs.fetch_sub(1) != 1) return;
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.erase(s);
  }
  hot_unregister(s);
  unmap(s->map);  // the placeholder left by close(), or the mapping itself
  unmap(s->readOnlyAlias);
  delete s;
}

static void finalize_unref(napi_env, void *data, void *) { unref(static_cast<MappingState *>(data)); }

// The handle was collected without close(). Every window's ArrayBuffer holds the handle
// (see make_handle), so no window can reach the memory any more. Page views hold a native
// ref instead (they must not expose the handle): while one lives, the memory stays mapped
// and unref() unmaps it after the last one.
static void finalize_handle(napi_env env, void *data, void *) {
  auto *s = static_cast<MappingState *>(data);
  if (!s->closed) {
    for (napi_ref r : s->windows)
      if (r) napi_delete_reference(env, r);
    s->windows.clear();
    if (s->views.empty()) {
      s->closed = true;
      retire(s->map);
    }
  }
  if (s->handle) napi_delete_reference(env, s->handle);   // the wrap's own reference
  s->handle = nullptr;
  unref(s);
}

static void detach_and_unmap(napi_env env, MappingState *s) {
  if (s->closed) return;
  s->closed = true;
  // Flushed but never drained: written back anyway (best effort; only a drain promises it).
  drain_pending(s);
  // Detach first: any view of a window then has length 0 and never reaches unmapped memory.
  revoke_all_views(env, s);
  for (napi_ref r : s->windows) {
    if (!r) continue;   // never made
    napi_value ab = nullptr;
    if (env && napi_get_reference_value(env, r, &ab) == napi_ok && ab) napi_detach_arraybuffer(env, ab);
    if (env) napi_delete_reference(env, r);
  }
  s->windows.clear();
  // s->handle stays: it is the wrap's reference, and deleting it would cancel
  // finalize_handle, which drops the handle's ref on s.
  // Native code that still holds a raw pointer (a libuv thread reading a view) must not
  // fault: put throwaway anonymous memory where the mapping was; the GC unmaps it later.
  retire(s->map);
  retire(s->readOnlyAlias);
}

void close_all_mappings(napi_env env) {
  std::vector<MappingState *> mine;
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    for (MappingState *s : g_live)
      if (s->env == env) {
        // Held across detach_and_unmap: when the handle was collected, the page views hold
        // the last refs, and revoking them would free s while it is still being closed.
        ref(s);
        mine.push_back(s);
      }
  }
  if (mine.empty()) return;
  // Cleanup hooks run outside any JS call: handles need a scope of their own.
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  for (MappingState *s : mine) {
    detach_and_unmap(env, s);
    unref(s);
  }
  napi_close_handle_scope(env, scope);
}

// --- argument helpers for the hot path (raw Node-API: no per-call wrapper objects) -------

static MappingState *open_state(napi_env env, void *data) {
  auto *s = static_cast<MappingState *>(data);
  if (s->closed) {
    throw_sys(env, EBADF, "", "", "the mapping is closed");
    return nullptr;
  }
  return s;
}

static bool get_range(napi_env env, MappingState *s, napi_value voff, napi_value vlen, uint64_t &off,
                      uint64_t &len) {
  if (!get_size_arg(env, voff, "offset", off) || !get_size_arg(env, vlen, "length", len)) return false;
  if (off > s->map.size || len > s->map.size - off) {
    throw_range(env, "The range [" + std::to_string(off) + ", " + std::to_string(off + len) +
                ") is out of range. The mapping is " + std::to_string(s->map.size) + " bytes");
    return false;
  }
  return true;
}

static inline bool is_size(double d) { return d >= 0 && d <= 9007199254740991.0 && static_cast<double>(static_cast<uint64_t>(d)) == d; }

// is_size() and the conversion for a double JS just stored into the shared args, read as
// its bits: integer operations only. The float round trip (two conversions and compares
// in a dependency chain) was a third of a bound copy's own time in a profile.
static inline bool shared_size(const double *slot, uint64_t &out) {
  uint64_t bits;
  std::memcpy(&bits, slot, sizeof bits);
  if ((bits << 1) == 0) {   // +0 or -0
    out = 0;
    return true;
  }
  const uint64_t exponent = bits >> 52;   // with the sign bit: negatives land above 2047
  if (exponent < 1023 || exponent > 1023 + 52) return false;   // below 1, at least 2^53, negative, NaN, Inf
  const uint64_t fraction_bits = 1023 + 52 - exponent;
  const uint64_t mantissa = (bits & ((1ull << 52) - 1)) | (1ull << 52);
  if (mantissa & ((1ull << fraction_bits) - 1)) return false;   // not an integer
  out = mantissa >> fraction_bits;
  return true;
}

[[gnu::cold, gnu::noinline]] static void throw_bad_args(napi_env env, MappingState *s, double off, double len) {
  if (!is_size(off)) {
    throw_range(env, "The value of \"offset\" is out of range. It must be a non-negative safe integer");
  } else if (!is_size(len)) {
    throw_range(env, "The value of \"length\" is out of range. It must be a non-negative safe integer");
  } else {
    throw_range(env, "The range [" + std::to_string(static_cast<uint64_t>(off)) + ", " +
                std::to_string(static_cast<uint64_t>(off + len)) + ") is out of range. The mapping is " +
                std::to_string(s->map.size) + " bytes");
  }
}

// persist(offset, length) / flush(offset, length) on the handle itself (the wrapper calls
// the environment's hot functions instead, see hot.h).
static inline bool handle_range(napi_env env, napi_callback_info info, MappingState *&s, uint64_t &off, uint64_t &len) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  s = static_cast<MappingState *>(data);
  if (s->closed) {
    throw_sys(env, EBADF, "", "", "the mapping is closed");
    return false;
  }
  double d_off, d_len;
  if (argc < 2) {
    throw_type(env, "two numbers are needed: offset and length");
    return false;
  }
  if (napi_get_value_double(env, argv[0], &d_off) != napi_ok || napi_get_value_double(env, argv[1], &d_len) != napi_ok) {
    throw_type(env, "The \"offset\" and \"length\" arguments must be of type number");
    return false;
  }
  if (!is_size(d_off) || !is_size(d_len) || d_off + d_len > static_cast<double>(s->map.size)) {
    throw_bad_args(env, s, d_off, d_len);
    return false;
  }
  off = static_cast<uint64_t>(d_off);
  len = static_cast<uint64_t>(d_len);
  return true;
}

static char *at(MappingState *s, uint64_t off) { return static_cast<char *>(s->map.base) + off; }

static inline void defer_sync(MappingState *s, uint64_t off, uint64_t len) {
  if (len == 0) return;
  if (off < s->pendingLo) s->pendingLo = off;
  if (off + len > s->pendingHi) s->pendingHi = off + len;
}

int drain_pending(MappingState *s) {
  if (s->pendingHi <= s->pendingLo) return 0;
  uint64_t lo = s->pendingLo, hi = s->pendingHi;
  s->pendingLo = UINT64_MAX;
  s->pendingHi = 0;
  return sync_pages(s->map, lo, hi - lo);
}

static inline void do_flush(MappingState *s, uint64_t off, uint64_t len) {
  if (s->mode == PersistMode::Msync) defer_sync(s, off, len);
  else s->flush(at(s, off), len);
}

// The fence: in msync mode, first the msync of what was flushed since the last one.
static inline bool do_drain(napi_env env, MappingState *s) {
  if (s->mode == PersistMode::Msync) {
    if (int err = drain_pending(s)) {
      throw_sys(env, err, "msync", "", "msync failed");
      return false;
    }
  }
  s->fence();
  return true;
}

// persist(offset, length), or persist() with the shared args
static napi_value persist_fn(napi_env env, napi_callback_info info) {
  MappingState *s;
  uint64_t off, len;
  if (!handle_range(env, info, s, off, len)) return nullptr;
  do_flush(s, off, len);
  do_drain(env, s);
  return nullptr;
}

// flush(offset, length), or flush() with the shared args
static napi_value flush_fn(napi_env env, napi_callback_info info) {
  MappingState *s;
  uint64_t off, len;
  if (!handle_range(env, info, s, off, len)) return nullptr;
  do_flush(s, off, len);
  return nullptr;
}

// drain()
static napi_value drain_fn(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  if (MappingState *s = open_state(env, data)) do_drain(env, s);
  return nullptr;
}

static bool overlaps(const void *a, size_t alen, const void *b, size_t blen) {
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + blen && y < x + alen;
}

int store_bytes(MappingState *s, uint64_t off, const void *src, int value, size_t len, int32_t mode, bool defer) {
  char *dst = at(s, off);
  const PersistOps &ops = persist_ops();
  if (mode == kStorePlain) {
    if (src) std::memmove(dst, src, len); else std::memset(dst, value, len);
    return 0;
  }
  switch (s->mode) {
    case PersistMode::Msync:
      if (src) std::memmove(dst, src, len); else std::memset(dst, value, len);
      if (!defer) return sync_pages(s->map, off, len);
      defer_sync(s, off, len);
      return mode == kStorePersist ? drain_pending(s) : 0;
    case PersistMode::FlushFence:
    case PersistMode::FenceOnly:
    case PersistMode::CpuOnly:
      if (src && overlaps(dst, len, src, len)) {
        std::memmove(dst, src, len);
        ops.flush(dst, len);
      } else if (src) {
        ops.copyNoDrain(dst, src, len);
      } else {
        ops.fillNoDrain(dst, value, len);
      }
      if (mode == kStorePersist) s->fence();
      return 0;
  }
  return 0;
}

// store_bytes on the main thread: plain stores, durable on return, or flushed and waiting
// for one drain() after a batch.
static void store(napi_env env, MappingState *s, uint64_t off, const void *src, int value, size_t len,
                  int32_t mode) {
  if (int err = store_bytes(s, off, src, value, len, mode, true)) throw_sys(env, err, "msync", "", "msync failed");
}

static bool get_store_mode(napi_env env, napi_value v, int32_t &mode) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number || napi_get_value_int32(env, v, &mode) != napi_ok) {
    throw_type(env, "The \"mode\" argument must be of type number (0 plain, 1 persist, 2 no drain)");
    return false;
  }
  if (mode < kStorePlain || mode > kStoreNoDrain) {
    throw_range(env, "The value of \"mode\" is out of range. It must be 0, 1 or 2. Received " + std::to_string(mode));
    return false;
  }
  return true;
}

bool get_bytes_arg(napi_env env, napi_value v, const char *what, void *&ptr, size_t &len, napi_value *arraybuffer) {
  bool is;
  napi_typedarray_type type;
  size_t count;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, &count, &p, arraybuffer, nullptr) == napi_ok) {
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: break;
    }
    ptr = p;
    len = count * elem;
    return true;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t byte_offset;
    napi_get_dataview_info(env, v, &len, &p, &ab, &byte_offset);
    ptr = p;
    if (arraybuffer) *arraybuffer = ab;
    return true;
  }
  throw_type(env, std::string("The \"") + what + "\" argument must be a Buffer, TypedArray or DataView");
  return false;
}

static bool get_bytes(napi_env env, napi_value v, const void *&ptr, size_t &len) {
  void *p;
  // Node takes any ArrayBufferView here and answers its byte length without asking the
  // element type (napi_get_typedarray_info's dearest part); other values go the long way.
  if (napi_get_buffer_info(env, v, &p, &len) == napi_ok) {
    ptr = p;
    return true;
  }
  if (!get_bytes_arg(env, v, "source", p, len)) return false;
  ptr = p;
  return true;
}

static napi_value copy_common(napi_env env, MappingState *s, uint64_t off, const void *src, size_t len, napi_value vmode);

// copy(offset, source, mode)
static napi_value copy_fn(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  MappingState *s = open_state(env, data);
  if (!s) return nullptr;
  if (argc < 2) {
    throw_type(env, "copy(offset, source) needs an offset and a source");
    return nullptr;
  }
  uint64_t off;
  const void *src;
  size_t len;
  if (!get_size_arg(env, argv[0], "offset", off) || !get_bytes(env, argv[1], src, len)) return nullptr;
  return copy_common(env, s, off, src, len, argc >= 3 ? argv[2] : nullptr);
}

// --- the environment's hot functions (hot.h) ----------------------------------------------

// The open mapping args[0] names; null (and an exception pending) otherwise.
static MappingState *hot_state(napi_env env, napi_callback_info info, size_t &argc, napi_value *argv, HotTable *&t) {
  void *data;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  t = static_cast<HotTable *>(data);
  uint64_t token;
  MappingState *s = shared_size(&t->args[0], token) ? hot_lookup(t, token) : nullptr;
  if (!s) {
    throw_sys(env, EBADF, "", "", "the shared args name no mapping (a stale or forged token)");
    return nullptr;
  }
  return open_state(env, s);
}

// [token, offset, length]: the range of a persist or flush, checked against the mapping.
static bool hot_args_range(napi_env env, HotTable *t, MappingState *s, uint64_t &off, uint64_t &len) {
  if (shared_size(&t->args[1], off) && shared_size(&t->args[2], len) && off <= s->map.size && len <= s->map.size - off) {
    return true;
  }
  throw_bad_args(env, s, t->args[1], t->args[2]);
  return false;
}

// persist (Drain) and flush of [token, offset, length].
template <bool Drain>
static napi_value hot_range_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  HotTable *t;
  MappingState *s = hot_state(env, info, argc, nullptr, t);
  uint64_t off, len;
  if (!s || !hot_args_range(env, t, s, off, len)) return nullptr;
  do_flush(s, off, len);
  if (Drain) do_drain(env, s);
  return nullptr;
}

static napi_value hot_drain_fn(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  HotTable *t;
  if (MappingState *s = hot_state(env, info, argc, nullptr, t)) do_drain(env, s);
  return nullptr;
}

// The store of a copy to args[1], once the source is known.
static void hot_store(napi_env env, HotTable *t, MappingState *s, const void *src, size_t len, int32_t mode) {
  uint64_t off;
  if (!shared_size(&t->args[1], off) || off > s->map.size || len > s->map.size - off) {
    throw_bad_args(env, s, t->args[1], static_cast<double>(len));
    return;
  }
  if (len) store(env, s, off, src, 0, len, mode);
}

// The source as a view, unpacked here: copy()'s path, and copier()'s for shared memory.
static void hot_copy_view(napi_env env, HotTable *t, MappingState *s, size_t argc, napi_value source, int32_t mode) {
  const void *src;
  size_t len;
  if (argc < 1) {
    throw_type(env, "The \"source\" argument must be a Buffer, TypedArray or DataView");
    return;
  }
  if (get_bytes(env, source, src, len)) hot_store(env, t, s, src, len, mode);
}

// copyPersist / copyNoDrain / copyPlain (source): copy() to args[1].
template <int32_t Mode>
static napi_value hot_copy_fn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value source;
  HotTable *t;
  if (MappingState *s = hot_state(env, info, argc, &source, t)) hot_copy_view(env, t, s, argc, source, Mode);
  return nullptr;
}

// copyFromPersist / copyFromNoDrain / copyFromPlain (buffer): copier()'s call. The view was
// unpacked when it was bound; JS passes its ArrayBuffer with [sourceOffset, length] in
// args[2], args[3], and native code asks V8 only for that buffer's memory and length. The
// range is checked against the buffer, so whatever a call passes, the copy stays inside it;
// a buffer detached or shrunk since binding is EFAULT. Shared memory comes as the view.
template <int32_t Mode>
static napi_value hot_copy_from_fn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value source;
  HotTable *t;
  MappingState *s = hot_state(env, info, argc, &source, t);
  if (!s) return nullptr;
  void *base = nullptr;
  size_t capacity = 0;
  if (argc >= 1 && napi_get_arraybuffer_info(env, source, &base, &capacity) == napi_ok) {
    uint64_t from, len;
    if (!shared_size(&t->args[2], from) || !shared_size(&t->args[3], len)) {
      throw_range(env, "The bound source's offset and length must be non-negative safe integers");
      return nullptr;
    }
    if (len == 0) return nullptr;
    if (!base || from > capacity || len > capacity - from) {
      throw_sys(env, EFAULT, "", "", "the bound source's ArrayBuffer was detached or shrunk since copier() bound it");
      return nullptr;
    }
    hot_store(env, t, s, static_cast<const char *>(base) + from, len, Mode);
    return nullptr;
  }
  hot_copy_view(env, t, s, argc, source, Mode);
  return nullptr;
}

void add_hot_functions(napi_env env, napi_value exports) {
  auto *t = new HotTable();
  addon_data(env)->hot = t;
  napi_value hot, args;
  void *args_data;
  napi_create_object(env, &hot);
  napi_create_arraybuffer(env, kHotArgs * sizeof(double), &args_data, &args);
  t->args = static_cast<double *>(args_data);   // V8 never moves an ArrayBuffer's memory
  napi_set_named_property(env, hot, "args", args);   // exports keep it alive
  const struct { const char *name; napi_callback cb; } fns[] = {
      {"persist", hot_range_fn<true>}, {"flush", hot_range_fn<false>}, {"drain", hot_drain_fn},
      {"copyPersist", hot_copy_fn<kStorePersist>}, {"copyNoDrain", hot_copy_fn<kStoreNoDrain>},
      {"copyPlain", hot_copy_fn<kStorePlain>}, {"copyFromPersist", hot_copy_from_fn<kStorePersist>},
      {"copyFromNoDrain", hot_copy_from_fn<kStoreNoDrain>}, {"copyFromPlain", hot_copy_from_fn<kStorePlain>},
  };
  for (const auto &f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, t, &fn);
    napi_set_named_property(env, hot, f.name, fn);
  }
  napi_set_named_property(env, exports, "hot", hot);
}

static napi_value copy_common(napi_env env, MappingState *s, uint64_t off, const void *src, size_t len, napi_value vmode) {
  if (off > s->map.size || len > s->map.size - off) {
    throw_range(env, "copy of " + std::to_string(len) + " bytes at offset " + std::to_string(off) +
                " runs past the end of the mapping (" + std::to_string(s->map.size) + " bytes)");
    return nullptr;
  }
  int32_t mode = kStorePersist;
  if (vmode && !get_store_mode(env, vmode, mode)) return nullptr;
  if (len) store(env, s, off, src, 0, len, mode);
  return nullptr;
}

// fill(offset, value, length, mode)
static napi_value fill_fn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *data;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  MappingState *s = open_state(env, data);
  if (!s) return nullptr;
  if (argc < 3) {
    throw_type(env, "fill(offset, value, length) needs three numbers");
    return nullptr;
  }
  uint64_t off, value, len;
  if (!get_size_arg(env, argv[1], "value", value)) return nullptr;
  if (value > 255) {
    throw_range(env, "The value of \"value\" is out of range. It must be >= 0 && <= 255. Received " +
                std::to_string(value));
    return nullptr;
  }
  if (!get_range(env, s, argv[0], argv[2], off, len)) return nullptr;
  int32_t mode = kStorePersist;
  if (argc >= 4 && !get_store_mode(env, argv[3], mode)) return nullptr;
  if (len) store(env, s, off, nullptr, static_cast<int>(value), len, mode);
  return nullptr;
}

// close(): idempotent
static napi_value close_fn(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  detach_and_unmap(env, static_cast<MappingState *>(data));
  return nullptr;
}

// --- building the handle -------------------------------------------------------------------

static bool force_pmem() {
  static const bool forced = env_switch("DAXFS_FORCE_PMEM");
  return forced;
}

static void set(napi_env env, napi_value obj, const char *name, napi_value v) {
  napi_set_named_property(env, obj, name, v);
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

// A function held on its own (`const { persist } = mapping`) keeps the mapping alive, as
// a view does: the handle is unmapped by the GC only when nothing can reach it.
static void add_function(napi_env env, napi_value obj, const char *name, napi_callback cb, MappingState *s) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, s, &fn);
  ref(s);
  napi_add_finalizer(env, fn, s, finalize_unref, nullptr, nullptr);
  napi_property_descriptor owner = {"daxfsMapping", nullptr, nullptr, nullptr, nullptr, obj, napi_default, nullptr};
  napi_define_properties(env, fn, 1, &owner);
  set(env, obj, name, fn);
}

// The external ArrayBuffer over window i (2 GiB at most), made once; null after a throw.
static napi_value make_window(napi_env env, MappingState *s, size_t i) {
  napi_value ab = nullptr;
  if (s->windows[i] && napi_get_reference_value(env, s->windows[i], &ab) == napi_ok && ab) return ab;
  napi_value handle = nullptr;
  if (s->handle) napi_get_reference_value(env, s->handle, &handle);
  if (!handle) {
    throw_sys(env, EBADF, "", "", "the mapping is closed");
    return nullptr;
  }
  uint64_t start = i * kWindowSize;
  uint64_t len = s->map.size - start < kWindowSize ? s->map.size - start : kWindowSize;
  if (napi_create_external_arraybuffer(env, static_cast<char *>(s->map.base) + start, len, nullptr, nullptr, &ab) != napi_ok) {
    throw_sys(env, ENOMEM, "napi_create_external_arraybuffer", "", "cannot expose the mapping to JavaScript");
    return nullptr;
  }
  // The ArrayBuffer keeps the handle alive, so the memory stays mapped while any view
  // exists, and the handle's finalizer may unmap (see finalize_handle).
  napi_property_descriptor owner = {"daxfsMapping", nullptr, nullptr, nullptr, nullptr, handle, napi_default, nullptr};
  napi_define_properties(env, ab, 1, &owner);
  if (s->windows[i]) napi_delete_reference(env, s->windows[i]);
  napi_create_reference(env, ab, 0, &s->windows[i]);
  return ab;
}

// window(i): the ArrayBuffer of window i
static napi_value window_fn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  void *data;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, &data);
  MappingState *s = open_state(env, data);
  uint64_t i;
  if (!s || argc < 1 || !get_size_arg(env, arg, "index", i)) {
    if (s && argc < 1) throw_type(env, "The \"index\" argument must be of type number");
    return nullptr;
  }
  if (i >= s->windows.size()) {
    throw_range(env, "The value of \"index\" is out of range. The mapping has " + std::to_string(s->windows.size()) + " windows");
    return nullptr;
  }
  return make_window(env, s, i);
}

// Wraps a fresh mapping into { size, kind, isPmem, granularity, windowSize, windows,
// persist, flush, drain, copy, fill, close }.
static napi_value make_handle(napi_env env, const Mapping &m) {
  auto *s = new MappingState();
  s->map = m;
  s->env = env;
  bool pmem = m.kind == MapKind::DevDax || m.kind == MapKind::FsDax ||
              (m.kind == MapKind::File && !m.isPrivate && force_pmem());
  bool eadr = pmem && cpu_cache_is_persistent();
  const char *granularity;
  if (pmem) {
    s->mode = eadr ? PersistMode::FenceOnly : PersistMode::FlushFence;
    granularity = eadr ? "byte" : "cache-line";
  } else if (m.kind == MapKind::File && !m.isPrivate) {
    s->mode = PersistMode::Msync;
    granularity = "page";
  } else {
    s->mode = PersistMode::CpuOnly;
    granularity = "none";
  }
  static void (*const no_flush)(const void *, size_t) = [](const void *, size_t) {};
  s->flush = s->mode == PersistMode::FenceOnly ? no_flush : persist_ops().flush;
  s->fence = s->mode == PersistMode::Msync ? +[] {} : persist_ops().fence;
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.insert(s);
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  ref(s);
  // One wrap carries the state, the finalizer and the weak reference windows use to reach
  // the handle (finalize_handle deletes it), rather than a second weak reference to the
  // same object deleted from its finalizer.
  napi_wrap(env, obj, s, finalize_handle, nullptr, &s->handle);
  napi_type_tag_object(env, obj, &kHandleTag);
  napi_create_double(env, static_cast<double>(m.size), &v);
  set(env, obj, "size", v);
  static const char *kinds[] = {"devdax", "fsdax", "file", "anonymous"};
  set(env, obj, "kind", make_string(env, kinds[static_cast<int>(m.kind)]));
  napi_get_boolean(env, pmem, &v);
  set(env, obj, "isPmem", v);
  set(env, obj, "granularity", make_string(env, granularity));
  napi_create_double(env, static_cast<double>(kWindowSize), &v);
  set(env, obj, "windowSize", v);
  napi_create_double(env, static_cast<double>(m.align), &v);
  set(env, obj, "align", v);

  // Windows are made on first use: each external ArrayBuffer counts as external memory to
  // V8, and making all 512 of a 1 TiB mapping at once would force a GC for each.
  size_t count = (m.size + kWindowSize - 1) / kWindowSize;
  s->windows.assign(count, nullptr);
  napi_value windows, first = make_window(env, s, 0);
  if (!first) {
    detach_and_unmap(env, s);
    return nullptr;
  }
  napi_create_array_with_length(env, count, &windows);
  napi_set_element(env, windows, 0, first);
  set(env, obj, "windows", windows);
  add_function(env, obj, "window", window_fn, s);
  HotTable *table = hot_table(env);
  napi_create_double(env, table ? hot_register(table, s) : -1, &v);
  set(env, obj, "token", v);
  add_function(env, obj, "persist", persist_fn, s);
  add_function(env, obj, "flush", flush_fn, s);
  add_function(env, obj, "drain", drain_fn, s);
  add_function(env, obj, "copy", copy_fn, s);
  add_function(env, obj, "fill", fill_fn, s);
  add_function(env, obj, "close", close_fn, s);
  add_function(env, obj, "pageView", page_view_fn, s);
  return obj;
}

void retain_mapping(MappingState *s) { ref(s); }
void release_mapping(MappingState *s) { unref(s); }

MappingState *mapping_of_handle(napi_env env, napi_value handle) {
  bool tagged = false;
  void *s = nullptr;
  napi_valuetype t;
  // Objects only: napi_check_object_type_tag on null or undefined leaves V8's own TypeError
  // (no code) pending, and it would be thrown instead of ours.
  if (napi_typeof(env, handle, &t) != napi_ok || t != napi_object ||
      napi_check_object_type_tag(env, handle, &kHandleTag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, handle, &s) != napi_ok || !s) {
    throw_type(env, "The \"mapping\" argument must be a mapping handle (from mapFile or mapAnonymous)");
    return nullptr;
  }
  return static_cast<MappingState *>(s);
}

// 1: present, 0: absent or undefined, -1: reading it threw (the exception stays pending).
static int get_prop(napi_env env, napi_value obj, const char *name, napi_value &out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return -1;
  if (!has) return 0;
  if (napi_get_named_property(env, obj, name, &out) != napi_ok) return -1;
  napi_valuetype t;
  napi_typeof(env, out, &t);
  return t == napi_undefined ? 0 : 1;
}

static bool get_bool_opt(napi_env env, napi_value obj, const char *name, bool &out) {
  napi_value v;
  int got = get_prop(env, obj, name, v);
  if (got <= 0) return got == 0;
  if (napi_get_value_bool(env, v, &out) != napi_ok) {
    throw_type(env, std::string("The \"options.") + name + "\" property must be of type boolean");
    return false;
  }
  return true;
}

static bool get_size_opt(napi_env env, napi_value obj, const char *name, uint64_t &out, bool *present) {
  napi_value v;
  int got = get_prop(env, obj, name, v);
  if (got <= 0) return got == 0;
  if (present) *present = true;
  return get_size_arg(env, v, (std::string("options.") + name).c_str(), out);
}

// mapFile(path, options) - options already validated in JS; checked again here.
napi_value map_file_binding(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  size_t plen = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], nullptr, 0, &plen) != napi_ok) {
    throw_type(env, "The \"path\" argument must be of type string");
    return nullptr;
  }
  std::string path(plen, '\0');
  napi_get_value_string_utf8(env, argv[0], &path[0], plen + 1, &plen);
  if (path.empty() || path.find('\0') != std::string::npos) {
    throw_value(env, "The \"path\" argument must be a non-empty string without null bytes");
    return nullptr;
  }
  MapOptions o;
  napi_valuetype t = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &t);
  if (t == napi_object) {
    napi_value obj = argv[1], v;
    uint64_t mode = o.mode;
    if (!get_size_opt(env, obj, "size", o.size, &o.hasSize) || !get_size_opt(env, obj, "offset", o.offset, nullptr) ||
        !get_size_opt(env, obj, "mode", mode, nullptr))
      return nullptr;
    if (mode > 07777) {
      throw_range(env, "The value of \"options.mode\" is out of range. It must be <= 0o7777");
      return nullptr;
    }
    o.mode = static_cast<unsigned>(mode);
    if (!get_bool_opt(env, obj, "create", o.create) || !get_bool_opt(env, obj, "exclusive", o.exclusive) ||
        !get_bool_opt(env, obj, "sparse", o.sparse) || !get_bool_opt(env, obj, "private", o.isPrivate))
      return nullptr;
    int got = get_prop(env, obj, "sync", v);
    if (got < 0) return nullptr;
    if (got > 0) {
      char buf[16] = {0};
      size_t n = 0;
      if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &n) != napi_ok) {
        throw_value(env, "The \"options.sync\" property must be 'auto' or 'required'");
        return nullptr;
      }
      std::string sync(buf, n);
      if (sync != "auto" && sync != "required") {
        throw_value(env, "The \"options.sync\" property must be 'auto' or 'required'");
        return nullptr;
      }
      o.syncRequired = sync == "required";
    }
  } else if (t != napi_undefined && t != napi_null) {
    throw_type(env, "The \"options\" argument must be of type object");
    return nullptr;
  }
  Mapping m;
  MapError e;
  if (!map_file(path.c_str(), o, m, e)) {
    throw_sys(env, e.err, e.syscall, path, e.message);
    return nullptr;
  }
  return make_handle(env, m);
}

// mapAnonymous(size)
napi_value map_anonymous_binding(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint64_t size;
  if (argc < 1) {
    throw_type(env, "The \"size\" argument must be of type number");
    return nullptr;
  }
  if (!get_size_arg(env, argv[0], "size", size)) return nullptr;
  Mapping m;
  MapError e;
  if (!map_anonymous(size, m, e)) {
    throw_sys(env, e.err, e.syscall, "", e.message);
    return nullptr;
  }
  return make_handle(env, m);
}

}  // namespace daxfs
