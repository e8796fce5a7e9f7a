// What the CPU offers for making stores durable, detected once at load.
#pragma once
#include <cstddef>

namespace daxfs {

struct CpuFeatures {
  // x86-64
  bool clflush = false;
  bool clflushopt = false;
  bool clwb = false;
  bool sse2 = false;
  bool avx2 = false;
  bool avx512 = false;         // AVX-512F with the OS saving ZMM state
  // aarch64
  bool dcpop = false;          // DC CVAP: clean to the point of persistence
  // everywhere
  size_t cacheLine = 64;       // bytes per flush step
};

// Features as the hardware reports them, then narrowed by the DAXFS_NO_* switches so
// one machine can exercise every code path.
const CpuFeatures &cpu_features();

// Reads a boolean-ish environment switch ("", "0" mean off).
bool env_switch(const char *name);

}  // namespace daxfs
