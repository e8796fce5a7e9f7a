#include "cpu.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_DCPOP
#define HWCAP_DCPOP (1 << 16)
#endif
#endif

namespace daxfs {

bool env_switch(const char *name) {
  const char *v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    f.clflush = (d >> 19) & 1;
    f.sse2 = (d >> 26) & 1;
    // CLFLUSH line size is reported in 8-byte units in EBX[15:8].
    unsigned line = ((b >> 8) & 0xff) * 8;
    if (line != 0) f.cacheLine = line;
    bool osxsave = (c >> 27) & 1;
    bool avx = (c >> 28) & 1;
    bool ymm_enabled = false, zmm_enabled = false;
    if (osxsave && avx) {
      unsigned lo, hi;
      __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      ymm_enabled = (lo & 0x6) == 0x6;     // the OS saves XMM and YMM state
      zmm_enabled = (lo & 0xe6) == 0xe6;   // ... and opmask and all of ZMM
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
      f.clflushopt = (b >> 23) & 1;
      f.clwb = (b >> 24) & 1;
      f.avx2 = ymm_enabled && ((b >> 5) & 1);
      f.avx512 = zmm_enabled && ((b >> 16) & 1);
    }
  }
  if (env_switch("DAXFS_NO_CLWB")) f.clwb = false;
  if (env_switch("DAXFS_NO_CLFLUSHOPT")) f.clflushopt = false;
  if (env_switch("DAXFS_NO_AVX512")) f.avx512 = false;
  if (env_switch("DAXFS_NO_AVX2")) { f.avx2 = false; f.avx512 = false; }
  if (env_switch("DAXFS_NO_MOVNT")) { f.avx512 = false; f.avx2 = false; f.sse2 = false; }
#elif defined(__aarch64__)
  f.dcpop = (getauxval(AT_HWCAP) & HWCAP_DCPOP) != 0;
  unsigned long ctr;
  __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
  // DminLine (bits 19:16) is log2 of the smallest data cache line in 4-byte words.
  f.cacheLine = size_t(4) << ((ctr >> 16) & 0xf);
  if (env_switch("DAXFS_NO_CVAP")) f.dcpop = false;
#endif
  return f;
}

const CpuFeatures &cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace daxfs
