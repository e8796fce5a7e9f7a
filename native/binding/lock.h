// Node-API side of native/core/lock: registers its functions on the exports.
#pragma once
#include <node_api.h>

namespace daxfs {

void add_lock_functions(napi_env env, napi_value exports);
// Environment teardown: releases every lock and device claim the environment still holds.
void release_env_locks(napi_env env);

}  // namespace daxfs
