#include "async_copy.h"

#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "mapping.h"
#include "view.h"

namespace daxfs {

namespace {

struct Segment {
  uint64_t mapOffset;
  uint64_t bufOffset;
  uint64_t length;
};

// One queued copy. Everything the libuv thread reads is copied in here or kept alive by a
// reference: the state (so close() leaves a placeholder mapped, never a hole), the JS
// handle (so the GC does not retire a mapping nobody closed) and the user's buffer (so the
// GC cannot free it mid-copy).
struct CopyJob {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref handle = nullptr;
  napi_ref buffer = nullptr;
  MappingState *state = nullptr;
  // When the buffer is a page view of a mapping: that mapping's state, held like `state`.
  // The view's own ref goes when it is revoked (or its mapping closed), and the GC could
  // then unmap the memory this thread is copying.
  MappingState *bufferState = nullptr;
  bool write = false;
  char *bytes = nullptr;
  std::vector<Segment> segments;
  int err = 0;   // errno of a failed msync
};

bool is_size(double d) {
  return d >= 0 && d <= 9007199254740991.0 && static_cast<double>(static_cast<uint64_t>(d)) == d;
}

// Reads and checks the segment list against both ends before anything is queued.
bool get_segments(napi_env env, napi_value v, const MappingState *s, size_t buffer_length,
                  std::vector<Segment> &out) {
  napi_typedarray_type type;
  size_t count = 0;
  void *data = nullptr;
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &count, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array) {
    throw_type(env, "The \"segments\" argument must be a Float64Array of (mappingOffset, bufferOffset, length) triples");
    return false;
  }
  if (count % 3 != 0) {
    throw_value(env, "The \"segments\" argument must hold whole triples. Received " + std::to_string(count) + " numbers");
    return false;
  }
  const double *d = static_cast<const double *>(data);
  out.reserve(count / 3);
  for (size_t i = 0; i < count; i += 3) {
    if (!is_size(d[i]) || !is_size(d[i + 1]) || !is_size(d[i + 2])) {
      throw_range(env, "The value of \"segments[" + std::to_string(i / 3) +
                  "]\" is out of range. Offsets and lengths must be non-negative safe integers");
      return false;
    }
    Segment seg{static_cast<uint64_t>(d[i]), static_cast<uint64_t>(d[i + 1]), static_cast<uint64_t>(d[i + 2])};
    if (seg.mapOffset > s->map.size || seg.length > s->map.size - seg.mapOffset) {
      throw_range(env, "segment " + std::to_string(i / 3) + ": the range [" + std::to_string(seg.mapOffset) + ", " +
                  std::to_string(seg.mapOffset + seg.length) + ") is out of range. The mapping is " +
                  std::to_string(s->map.size) + " bytes");
      return false;
    }
    if (seg.bufOffset > buffer_length || seg.length > buffer_length - seg.bufOffset) {
      throw_range(env, "segment " + std::to_string(i / 3) + ": the range [" + std::to_string(seg.bufOffset) + ", " +
                  std::to_string(seg.bufOffset + seg.length) + ") is out of range. The buffer is " +
                  std::to_string(buffer_length) + " bytes");
      return false;
    }
    if (seg.length) out.push_back(seg);
  }
  return true;
}

// libuv thread: no JS here. Writes go through the same store as the synchronous copy with
// { drain: false }, then one fence, so the bytes are exactly as durable as on the sync path.
void execute(napi_env, void *data) {
  auto *job = static_cast<CopyJob *>(data);
  MappingState *s = job->state;
  char *base = static_cast<char *>(s->map.base);
  for (const Segment &seg : job->segments) {
    char *buf = job->bytes + seg.bufOffset;
    if (job->write) {
      if (int err = store_bytes(s, seg.mapOffset, buf, 0, seg.length, kStoreNoDrain)) {
        job->err = err;
        break;
      }
    } else {
      std::memmove(buf, base + seg.mapOffset, seg.length);   // memmove: the buffer may view this mapping
    }
  }
  if (job->write) s->fence();
}

// Main thread: settle the promise, then let go of the buffer and the state.
void complete(napi_env env, napi_status status, void *data) {
  auto *job = static_cast<CopyJob *>(data);
  napi_value result = nullptr;
  if (status == napi_cancelled) {
    throw_sys(env, ECANCELED, "", "", "the copy was cancelled before it started");
  } else if (job->state->closed) {
    // close() swapped a placeholder in while the copy ran: some bytes went there, not to
    // (or from) the mapping. Never report that as success.
    throw_sys(env, EBADF, "", "", "the mapping was closed while the copy ran; the copy did not complete");
  } else if (job->bufferState && job->bufferState->closed) {
    throw_sys(env, EBADF, "", "", "the mapping of the buffer (a page view) was closed while the copy ran; the copy did not complete");
  } else if (job->err) {
    throw_sys(env, job->err, "msync", "", "msync failed");
  }
  bool failed = false;
  napi_is_exception_pending(env, &failed);
  if (failed) {
    napi_get_and_clear_last_exception(env, &result);
    napi_reject_deferred(env, job->deferred, result);
  } else {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_reference(env, job->buffer);
  napi_delete_reference(env, job->handle);
  napi_delete_async_work(env, job->work);
  release_mapping(job->state);
  if (job->bufferState) release_mapping(job->bufferState);
  delete job;
}

}  // namespace

napi_value copy_async_binding(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 4) {
    throw_type(env, "copyAsync(mapping, write, buffer, segments) needs four arguments");
    return nullptr;
  }
  MappingState *s = mapping_of_handle(env, argv[0]);
  if (!s) return nullptr;
  if (s->closed) {
    throw_sys(env, EBADF, "", "", "the mapping is closed");
    return nullptr;
  }
  bool write = false;
  if (napi_get_value_bool(env, argv[1], &write) != napi_ok) {
    throw_type(env, "The \"write\" argument must be of type boolean");
    return nullptr;
  }
  void *bytes = nullptr;
  size_t length = 0;
  napi_value arraybuffer = nullptr;
  if (!get_bytes_arg(env, argv[2], "buffer", bytes, length, &arraybuffer)) return nullptr;
  // A read stores into the buffer on a libuv thread: into PROT_READ memory that is a
  // SIGSEGV no JavaScript can catch, so it is refused here.
  const ViewRecord *view = arraybuffer ? view_of(env, arraybuffer) : nullptr;
  if (!write && view && view->readOnly) {
    throw_value(env, "The \"buffer\" argument is a read-only page view; a read cannot store into it");
    return nullptr;
  }
  auto *job = new CopyJob();
  if (!get_segments(env, argv[3], s, length, job->segments)) {
    delete job;
    return nullptr;
  }
  job->state = s;
  job->write = write;
  job->bytes = static_cast<char *>(bytes);
  napi_value promise, name;
  napi_create_string_utf8(env, "daxfs.copyAsync", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, nullptr, name, execute, complete, job, &job->work) != napi_ok) {
    delete job;
    throw_sys(env, ENOMEM, "napi_create_async_work", "", "cannot queue the copy");
    return nullptr;
  }
  napi_create_reference(env, argv[2], 1, &job->buffer);
  napi_create_reference(env, argv[0], 1, &job->handle);
  retain_mapping(s);
  if (view && view->state) {
    job->bufferState = view->state;
    retain_mapping(job->bufferState);
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_reference(env, job->buffer);
    napi_delete_reference(env, job->handle);
    napi_delete_async_work(env, job->work);
    release_mapping(s);
    if (job->bufferState) release_mapping(job->bufferState);
    delete job;
    throw_sys(env, ENOMEM, "napi_queue_async_work", "", "cannot queue the copy");
    return nullptr;
  }
  return promise;
}

}  // namespace daxfs
