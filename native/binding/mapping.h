// PmemMapping's native side: one state per mapping, shared by the JS handle, its bound
// functions and the external ArrayBuffers of its windows (reference counted, so memory
// is unmapped only after close() or when nothing can reach it any more).
#pragma once
#include <node_api.h>

#include <atomic>
#include <unordered_set>
#include <vector>

#include "../core/map.h"

namespace daxfs {

// How persist() makes a range durable on this memory.
enum class PersistMode {
  FlushFence,   // pmem: flush each line, then fence
  FenceOnly,    // pmem with eADR: the caches are persistent, only ordering is needed
  Msync,        // a file on ordinary storage: msync the pages
  CpuOnly,      // anonymous or private memory: flush + fence run, nothing survives
};

// Largest view: a Node 20 Buffer holds at most 4 GiB, so a mapping is cut into windows.
constexpr uint64_t kWindowSize = 1ull << 31;

struct MappingState {
  Mapping map;
  PersistMode mode = PersistMode::CpuOnly;
  // Chosen once from the mode, so the hot calls do not switch per call.
  void (*flush)(const void *, size_t) = nullptr;
  void (*fence)() = nullptr;
  // hot.h: this mapping's slot in its environment's registry (null once unregistered).
  struct HotTable *hot = nullptr;
  uint32_t hotSlot = 0;
  bool closed = false;
  napi_env env = nullptr;
  std::atomic<int> refs{0};
  std::vector<napi_ref> windows;   // weak, made on first use: detached on close if alive
  napi_ref handle = nullptr;       // weak: the JS handle (the reference napi_wrap returned; finalize_handle deletes it), which each window keeps alive
  // Page views (view.cc): their own external ArrayBuffers over parts of the mapping, each
  // holding a ref on this state; detached before the memory goes away.
  std::unordered_set<struct ViewRecord *> views;
  // A PROT_READ alias of the whole mapping (made on the first read-only view), so a store
  // through a read-only view raises SIGSEGV instead of changing storage.
  Mapping readOnlyAlias;
  // Msync mode: the range flushed since the last drain (main thread only). flush() only
  // widens it and drain() makes one msync of it, so a fence costs one writeback + journal
  // commit of the backing file instead of one per flushed range.
  uint64_t pendingLo = UINT64_MAX, pendingHi = 0;
};

void ref(MappingState *s);
void unref(MappingState *s);
// What copy() and fill() do after the stores (the JS side passes one of these).
enum StoreMode { kStorePlain = 0, kStorePersist = 1, kStoreNoDrain = 2 };

// For the asynchronous copy (async_copy.cc), which keeps a state alive off the main thread.
void retain_mapping(MappingState *s);
void release_mapping(MappingState *s);   // main thread only: the last one unmaps
// The state behind a mapping handle made by mapFile/mapAnonymous; null (and a TypeError
// thrown) for any other value.
MappingState *mapping_of_handle(napi_env env, napi_value handle);
// Writes [off, off+len) from src (or fills it with value when src is null) in a store
// mode. Touches no JS: also safe on a libuv thread. Returns 0 or the errno of msync.
// `defer`: msync mode may leave the msync to the next drain (main thread only; the
// asynchronous copy's thread passes false and syncs at once).
int store_bytes(MappingState *s, uint64_t off, const void *src, int value, size_t len, int32_t mode, bool defer = false);
// Msync mode: the one msync of everything flushed since the last drain (0 or an errno).
int drain_pending(MappingState *s);
// The bytes of a TypedArray or DataView, or a TypeError naming `what`; with `arraybuffer`,
// also the ArrayBuffer behind them.
bool get_bytes_arg(napi_env env, napi_value v, const char *what, void *&ptr, size_t &len,
                   napi_value *arraybuffer = nullptr);

napi_value map_file_binding(napi_env env, napi_callback_info info);
napi_value map_anonymous_binding(napi_env env, napi_callback_info info);

// Unmaps every live mapping of env (worker exit).
void close_all_mappings(napi_env env);

// Puts `hot` on the exports: the environment's hot functions and their shared args (hot.h).
void add_hot_functions(napi_env env, napi_value exports);

}  // namespace daxfs
