// copyAsync: copies between one mapping and a user buffer on a libuv thread, so a large
// transfer does not hold the main thread (the `promises` API of lib/fs uses it).
#pragma once
#include <node_api.h>

namespace daxfs {

// copyAsync(mapping, write, buffer, segments) -> Promise<void>
//   mapping:  a handle from mapFile/mapAnonymous
//   write:    true copies buffer -> mapping (flushed, one fence at the end, as the sync
//             copy with drain), false copies mapping -> buffer
//   segments: Float64Array of (mappingOffset, bufferOffset, length) triples
napi_value copy_async_binding(napi_env env, napi_callback_info info);

}  // namespace daxfs
