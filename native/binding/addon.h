// Per-environment (main thread or worker) state of the addon.
#pragma once
#include <node_api.h>

#include <cstdint>
#include <map>
#include <tuple>

namespace daxfs {

struct HotTable;

struct AddonData {
  napi_ref errorFactory = nullptr;
  HotTable *hot = nullptr;   // hot.h: the hot calls' registry and shared args
  // What this environment holds of the process-wide tables (native/core/lock), so that a
  // worker that ends without releasing them (terminate(), an uncaught throw) gives them back.
  std::map<std::tuple<uint64_t, uint64_t, bool>, int> locks;   // (domain, key, exclusive) -> holds
  std::map<uint64_t, int> claims;                              // device identity -> claims
};

AddonData *addon_data(napi_env env);

}  // namespace daxfs
