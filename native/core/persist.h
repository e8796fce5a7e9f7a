// The instructions that move stores into the persistence domain, chosen once at load.
//
// Every function here works on any memory; whether the result survives a power loss
// depends on the memory (pmem, eADR) and is decided by the caller (see map.h).
#pragma once
#include <cstddef>

namespace daxfs {

struct PersistOps {
  const char *flushName;       // "clwb", "clflushopt", "clflush", "dc cvap", "dc cvac", "none"
  const char *fenceName;       // "sfence", "dsb", "none"
  const char *copyName;        // "avx512", "avx2", "sse2" (non-temporal) or "plain" (copy + flush)
  // Write back every cache line that overlaps [addr, addr+len). No ordering implied.
  void (*flush)(const void *addr, size_t len);
  // Order all earlier flushes and non-temporal stores before later stores.
  void (*fence)();
  // Copy / fill so that the bytes are flushed (or written around the cache); the caller
  // still needs fence() before they are durable. Small sizes use ordinary stores + flush.
  void (*copyNoDrain)(void *dst, const void *src, size_t len);
  void (*fillNoDrain)(void *dst, int value, size_t len);
};

const PersistOps &persist_ops();

// Convenience: flush + fence.
inline void persist_range(const void *addr, size_t len) {
  const PersistOps &ops = persist_ops();
  ops.flush(addr, len);
  ops.fence();
}

// Below this many bytes a non-temporal copy is not worth its setup.
constexpr size_t kNonTemporalThreshold = 256;

// Per-architecture selection (each defined in its own file; only the one for the
// architecture being compiled does anything).
bool select_x86_64(PersistOps &ops);
bool select_aarch64(PersistOps &ops);
void select_generic(PersistOps &ops);

// Plain copy + flush, shared by every architecture as the fallback.
void copy_plain_flush(void *dst, const void *src, size_t len);
void fill_plain_flush(void *dst, int value, size_t len);

}  // namespace daxfs
