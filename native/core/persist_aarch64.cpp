// arm64: DC CVAP cleans a line to the point of persistence (ARMv8.2 DCPOP); without it
// DC CVAC cleans to the point of coherency. DSB orders the cleans before later stores.
#include <cstdint>

#include "cpu.h"
#include "persist.h"

namespace daxfs {

#if defined(__aarch64__)

static size_t line_size() { return cpu_features().cacheLine; }

static void flush_cvap(const void *addr, size_t len) {
  const size_t line = line_size();
  uintptr_t p = reinterpret_cast<uintptr_t>(addr) & ~(line - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  // "sys #3, c7, c12, #1" is DC CVAP spelled so it assembles without -march=armv8.2-a.
  for (; p < end; p += line) __asm__ volatile("sys #3, c7, c12, #1, %0" : : "r"(p) : "memory");
}

static void flush_cvac(const void *addr, size_t len) {
  const size_t line = line_size();
  uintptr_t p = reinterpret_cast<uintptr_t>(addr) & ~(line - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (; p < end; p += line) __asm__ volatile("dc cvac, %0" : : "r"(p) : "memory");
}

static void fence_dsb() { __asm__ volatile("dsb ish" : : : "memory"); }

bool select_aarch64(PersistOps &ops) {
  const CpuFeatures &f = cpu_features();
  ops.flush = f.dcpop ? flush_cvap : flush_cvac;
  ops.flushName = f.dcpop ? "dc cvap" : "dc cvac";
  ops.fence = fence_dsb;
  ops.fenceName = "dsb";
  ops.copyName = "plain";
  ops.copyNoDrain = copy_plain_flush;
  ops.fillNoDrain = fill_plain_flush;
  return true;
}

#else

bool select_aarch64(PersistOps &) { return false; }

#endif

}  // namespace daxfs
