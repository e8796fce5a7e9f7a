#include "persist.h"

#include <atomic>
#include <cstring>

namespace daxfs {

static void flush_none(const void *, size_t) {}
static void fence_compiler() { std::atomic_thread_fence(std::memory_order_seq_cst); }

void copy_plain_flush(void *dst, const void *src, size_t len) {
  std::memcpy(dst, src, len);
  persist_ops().flush(dst, len);
}

void fill_plain_flush(void *dst, int value, size_t len) {
  std::memset(dst, value, len);
  persist_ops().flush(dst, len);
}

// Architectures without a known flush instruction: stores are only ordered, and the
// mapping layer relies on msync where the memory is a file.
void select_generic(PersistOps &ops) {
  ops.flushName = "none";
  ops.fenceName = "none";
  ops.copyName = "plain";
  ops.flush = flush_none;
  ops.fence = fence_compiler;
  ops.copyNoDrain = copy_plain_flush;
  ops.fillNoDrain = fill_plain_flush;
}

static PersistOps choose() {
  PersistOps ops;
  select_generic(ops);
  if (!select_x86_64(ops)) select_aarch64(ops);
  return ops;
}

const PersistOps &persist_ops() {
  static const PersistOps ops = choose();
  return ops;
}

}  // namespace daxfs
