// One path from native failures to JS errors: a factory registered by lib/errors.ts
// builds DaxError (system errors) or Node-style argument errors.
#pragma once
#include <node_api.h>

#include <string>

namespace daxfs {

// kind: "sys" (code derived from errno in JS), "type", "range" or "value" (argument errors).
void throw_error(napi_env env, const char *kind, const char *code, int err, const char *syscall,
                 const std::string &path, const std::string &message);

inline void throw_sys(napi_env env, int err, const char *syscall, const std::string &path,
                      const std::string &message) {
  throw_error(env, "sys", "", err, syscall, path, message);
}
inline void throw_type(napi_env env, const std::string &message) {
  throw_error(env, "type", "ERR_INVALID_ARG_TYPE", 0, "", "", message);
}
inline void throw_range(napi_env env, const std::string &message) {
  throw_error(env, "range", "ERR_OUT_OF_RANGE", 0, "", "", message);
}
inline void throw_value(napi_env env, const std::string &message) {
  throw_error(env, "value", "ERR_INVALID_ARG_VALUE", 0, "", "", message);
}

// Stores the factory (called once from JS at load).
napi_value set_error_factory(napi_env env, napi_callback_info info);

// Reads a non-negative safe integer, or throws an argument error naming `what`.
bool get_size_arg(napi_env env, napi_value value, const char *what, uint64_t &out);

}  // namespace daxfs
