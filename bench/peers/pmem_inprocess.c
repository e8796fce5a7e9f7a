/*
 * pmem_inprocess: libpmem's pmem_memcpy_persist as a Node-API module, so `npm run bench`
 * can time it in the same process as daxfs, repetitions interleaved. Timed minutes apart
 * in separate processes, the two sides of a 4 KiB comparison saw different machines: the
 * shared cores here change speed by 1.5x from one minute to the next.
 *
 *   map(path)           maps the benchmark file with libpmem (PMEM_IS_PMEM_FORCE=1 is set
 *                       by bench/run.js), every page touched, and a 64 KiB source buffer
 *   memcpyPersist(len, n)   n calls of pmem_memcpy_persist, rotating through 4 MiB of the
 *                       file as pmem_peer.c and bench/run.js do; the loop is all C
 *
 * build: cc -O2 -shared -fPIC -I<node>/include/node -o pmem_inprocess.node pmem_inprocess.c -lpmem
 * (bench/run.js does this itself when libpmem-dev is installed)
 */
#include <libpmem.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LINE 64
#define SMALL_REGION (4u << 20)
#define SOURCE_SIZE (64u << 10)

static char *pm;
static size_t pm_len;
static char *src;

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value map(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t n;
  int is_pmem;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) return fail(env, "map(path)");
  if (pm) return fail(env, "already mapped");
  pm = pmem_map_file(path, 0, 0, 0, &pm_len, &is_pmem);
  if (!pm) return fail(env, pmem_errormsg());
  if (pm_len < SMALL_REGION) return fail(env, "the file is smaller than 4 MiB");
  for (size_t i = 0; i < pm_len; i += 4096) pm[i] = pm[i];   /* every page faulted in, writable */
  if (posix_memalign((void **)&src, 4096, SOURCE_SIZE)) return fail(env, "out of memory");
  for (size_t i = 0; i < SOURCE_SIZE; i++) src[i] = (char)(i * 131 + 7);
  return NULL;
}

static napi_value memcpy_persist(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t len, count;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!pm) return fail(env, "map() first");
  if (argc < 2 || napi_get_value_int64(env, argv[0], &len) != napi_ok || napi_get_value_int64(env, argv[1], &count) != napi_ok ||
      len < 1 || (uint64_t)len > SOURCE_SIZE || count < 0) {
    return fail(env, "memcpyPersist(len <= 64 KiB, n)");
  }
  size_t stride = (size_t)len < LINE ? LINE : (size_t)len;
  size_t slots = SMALL_REGION / stride;
  for (int64_t i = 0; i < count; i++) {
    pmem_memcpy_persist(pm + (size_t)(i % slots) * stride, src, (size_t)len);
    __asm__ __volatile__("" ::: "memory");
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "map", NAPI_AUTO_LENGTH, map, NULL, &fn);
  napi_set_named_property(env, exports, "map", fn);
  napi_create_function(env, "memcpyPersist", NAPI_AUTO_LENGTH, memcpy_persist, NULL, &fn);
  napi_set_named_property(env, exports, "memcpyPersist", fn);
  return exports;
}
