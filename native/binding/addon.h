// Per-environment (main thread or worker) state of the addon.
#pragma once
#include <node_api.h>

namespace daxfs {

struct AddonData {
  napi_ref errorFactory = nullptr;
};

AddonData *addon_data(napi_env env);

}  // namespace daxfs
