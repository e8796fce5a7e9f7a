#include "errors.h"

#include <cmath>
#include <cstdio>

#include "addon.h"

namespace daxfs {


napi_value set_error_factory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value fn;
  napi_get_cb_info(env, info, &argc, &fn, nullptr, nullptr);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, fn, &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "error factory must be a function");
    return nullptr;
  }
  AddonData *data = addon_data(env);
  if (data->errorFactory) napi_delete_reference(env, data->errorFactory);
  napi_create_reference(env, fn, 1, &data->errorFactory);
  return nullptr;
}

static napi_value str(napi_env env, const std::string &s) {
  napi_value v;
  napi_create_string_utf8(env, s.data(), s.size(), &v);
  return v;
}

void throw_error(napi_env env, const char *kind, const char *code, int err, const char *syscall,
                 const std::string &path, const std::string &message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  AddonData *data = addon_data(env);
  napi_value fn = nullptr;
  if (data->errorFactory) napi_get_reference_value(env, data->errorFactory, &fn);
  if (!fn) {  // the JS layer did not load: still never crash
    napi_throw_error(env, code, message.c_str());
    return;
  }
  napi_value args[6], errno_value, global, result;
  napi_create_int32(env, err, &errno_value);
  args[0] = str(env, kind);
  args[1] = str(env, code);
  args[2] = errno_value;
  args[3] = str(env, syscall);
  args[4] = str(env, path);
  args[5] = str(env, message);
  napi_get_global(env, &global);
  if (napi_call_function(env, global, fn, 6, args, &result) == napi_ok) napi_throw(env, result);
}

bool get_size_arg(napi_env env, napi_value value, const char *what, uint64_t &out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    throw_type(env, std::string("The \"") + what + "\" argument must be of type number");
    return false;
  }
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d) {
    char shown[64];
    if (std::isnan(d)) std::snprintf(shown, sizeof shown, "NaN");
    else if (std::isinf(d)) std::snprintf(shown, sizeof shown, d > 0 ? "Infinity" : "-Infinity");
    else std::snprintf(shown, sizeof shown, "%.17g", d);
    throw_range(env, std::string("The value of \"") + what +
                "\" is out of range. It must be a non-negative safe integer. Received " + shown);
    return false;
  }
  out = static_cast<uint64_t>(d);
  return true;
}

}  // namespace daxfs
