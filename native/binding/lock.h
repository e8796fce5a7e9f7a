// Node-API side of native/core/lock: registers its functions on the exports.
#pragma once
#include <node_api.h>

namespace daxfs {

void add_lock_functions(napi_env env, napi_value exports);

}  // namespace daxfs
