/*
 * pmem_peer: the C reference for `npm run bench`.
 *
 * Maps the benchmark file with libpmem (run it with PMEM_IS_PMEM_FORCE=1, as bench/run.js
 * does), touches every page before any timing, and measures, in ns per operation:
 *   - pmem_persist of 64 B / 256 B / 4 KiB of lines dirtied by a store just before;
 *   - pmem_memcpy_persist of 256 B / 4 KiB / 64 KiB / 64 MiB;
 *   - plain memcpy of the same sizes (no durability: the ceiling);
 *   - a raw non-temporal copy (AVX2 or SSE2 streaming stores + one sfence) of 64 MiB;
 *   - sfence alone and an empty one-cycle loop, for reading the other figures.
 * The loops mirror bench/run.js case by case (same offsets, same rotation, same sizes).
 *
 * Each figure is the median over repetitions, by the process's CPU clock ("ns", "reps"),
 * and by the wall clock ("wall_ns", "wall_reps").
 *
 * usage: pmem_peer FILE [--quick]      prints one JSON object on stdout
 * build: cc -O2 -o pmem_peer pmem_peer.c -lpmem      (bench/run.js does this itself)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <immintrin.h>
#include <libpmem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB (1024ull * 1024ull)
#define LINE 64
#define SMALL_REGION (4 * MiB) /* small cases rotate through this much of the file */
#define BIG (64 * MiB)

static char *pm;            /* the mapped file */
static size_t pm_len;
static char *src;           /* ordinary memory, 64-byte aligned, faulted in */
static int quick;
static volatile uint64_t sink;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void barrier(void) { __asm__ __volatile__("" ::: "memory"); }

/* ---- the operations, one function per case; each runs `n` iterations --------------- */

typedef void (*op_fn)(size_t len, uint64_t n);

/* Offset of iteration i: consecutive slots of `len` bytes (at least a line) through
 * SMALL_REGION, so every iteration works on lines the previous one did not touch. */
static size_t slot_off(size_t len, uint64_t i) {
  size_t stride = len < LINE ? LINE : len;
  size_t slots = SMALL_REGION / stride;
  return (size_t)(i % slots) * stride;
}

static void op_persist(size_t len, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    size_t off = slot_off(len, i);
    volatile char *p = pm + off;
    for (size_t j = 0; j < len; j += LINE) p[j] = (char)i; /* dirty every line */
    pmem_persist(pm + off, len);
  }
}

static void op_memcpy_persist(size_t len, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    size_t off = len >= BIG ? 0 : slot_off(len, i);
    pmem_memcpy_persist(pm + off, src, len);
    barrier();
  }
}

static void op_memcpy(size_t len, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    size_t off = len >= BIG ? 0 : slot_off(len, i);
    memcpy(pm + off, src, len);
    barrier();
  }
}

/* Raw non-temporal copy: whole lines only (dst and src 64-byte aligned, len a multiple of
 * 128 here), no head/tail handling, no size dispatch, one fence at the end. Written as
 * straight-line code: with the registers in an array GCC -O2 spills them to the stack,
 * which made an earlier version of this loop 1.5-2.5x slower than the copy it measures. */
__attribute__((target("avx2"))) static void nt_copy_avx2(char *d, const char *s, size_t len) {
  for (size_t k = 0; k < len; k += 2 * LINE) {
    const __m256i *in = (const __m256i *)(s + k);
    __m256i *out = (__m256i *)(d + k);
    __m256i a = _mm256_load_si256(in), b = _mm256_load_si256(in + 1);
    __m256i c = _mm256_load_si256(in + 2), e = _mm256_load_si256(in + 3);
    _mm256_stream_si256(out, a);
    _mm256_stream_si256(out + 1, b);
    _mm256_stream_si256(out + 2, c);
    _mm256_stream_si256(out + 3, e);
  }
  _mm_sfence();
}

static void nt_copy_sse2(char *d, const char *s, size_t len) {
  for (size_t k = 0; k < len; k += LINE) {
    const __m128i *in = (const __m128i *)(s + k);
    __m128i *out = (__m128i *)(d + k);
    __m128i a = _mm_load_si128(in), b = _mm_load_si128(in + 1);
    __m128i c = _mm_load_si128(in + 2), e = _mm_load_si128(in + 3);
    _mm_stream_si128(out, a);
    _mm_stream_si128(out + 1, b);
    _mm_stream_si128(out + 2, c);
    _mm_stream_si128(out + 3, e);
  }
  _mm_sfence();
}

static int have_avx2;

static void op_nt_copy(size_t len, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    size_t off = len >= BIG ? 0 : slot_off(len, i);
    if (have_avx2) nt_copy_avx2(pm + off, src, len); else nt_copy_sse2(pm + off, src, len);
    barrier();
  }
}

/* A one-cycle loop: how fast the CPU runs for this process right now (on a shared VM it
 * can be several times slower than its clock, which inflates every CPU-bound figure). */
static void op_loop(size_t len, uint64_t n) {
  (void)len;
  for (uint64_t i = 0; i < n; i++) __asm__ __volatile__("");
}

static void op_sfence(size_t len, uint64_t n) {
  (void)len;
  for (uint64_t i = 0; i < n; i++) _mm_sfence();
}

/* ---- timing ---------------------------------------------------------------------------- */

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *v, int count) {
  double sorted[64];
  memcpy(sorted, v, (size_t)count * sizeof(double));
  qsort(sorted, (size_t)count, sizeof(double), cmp_double);
  return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

static double best_per_op;

/* Runs n iterations and keeps the fastest ns/op seen: a run during which the process was
 * preempted only looks slower, never faster, so that is what the iteration count uses. */
static uint64_t timed(op_fn fn, size_t len, uint64_t n) {
  uint64_t t0 = now_ns();
  fn(len, n);
  uint64_t dt = now_ns() - t0;
  double per = (double)(dt ? dt : 1) / (double)n;
  if (per < best_per_op) best_per_op = per;
  return dt;
}

static uint64_t fit(double target_ns) {
  uint64_t n = (uint64_t)(target_ns / best_per_op);
  return n ? n : 1;
}

/* Calibrates n so one repetition takes about 5 ms (2 ms with --quick), warms up, then
 * times `reps` repetitions: ns/op by the process's CPU clock (cpu[]) and by the wall
 * clock (wall[]). bench/run.js does exactly the same on our side. */
static uint64_t measure(op_fn fn, size_t len, int reps, double *cpu, double *wall) {
  double target_ns = (quick ? 2.0 : 5.0) * 1e6;
  best_per_op = 1e300;
  uint64_t n = 1;
  while (timed(fn, len, n) < target_ns / 4 && n < (1ull << 30)) n *= 4; /* calibration, warm-up */
  /* Full-size warm-ups: at least one, and at least one repetition's worth of time. */
  uint64_t warm_until = now_ns() + (uint64_t)target_ns;
  do timed(fn, len, n = fit(target_ns)); while (now_ns() < warm_until);
  n = fit(target_ns);
  for (int r = 0; r < reps; r++) {
    uint64_t c0 = cpu_ns(), t0 = now_ns();
    fn(len, n);
    uint64_t t1 = now_ns(), c1 = cpu_ns();
    wall[r] = (double)(t1 - t0) / (double)n;
    cpu[r] = (double)(c1 - c0) / (double)n;
  }
  return n;
}

static int first = 1;

static void print_list(const char *name, const double *v, int count) {
  printf(", \"%s\": [", name);
  for (int r = 0; r < count; r++) printf("%s%.3f", r ? ", " : "", v[r]);
  printf("]");
}

static void emit(const char *kase, size_t len, op_fn fn, int reps) {
  double cpu[64], wall[64];
  uint64_t n = measure(fn, len, reps, cpu, wall);
  printf("%s\n    {\"case\": \"%s\", \"bytes\": %zu, \"ns\": %.3f, \"wall_ns\": %.3f, \"iterations\": %llu",
         first ? "" : ",", kase, len, median(cpu, reps), median(wall, reps), (unsigned long long)n);
  print_list("reps", cpu, reps);
  print_list("wall_reps", wall, reps);
  printf("}");
  first = 0;
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE [--quick]\n", argv[0]);
    return 2;
  }
  quick = argc > 2 && strcmp(argv[2], "--quick") == 0;
  int reps = quick ? 5 : 21;

  int is_pmem = 0;
  pm = pmem_map_file(argv[1], 0, 0, 0, &pm_len, &is_pmem);
  if (!pm) {
    fprintf(stderr, "pmem_peer: pmem_map_file(%s): %s\n", argv[1], pmem_errormsg());
    return 1;
  }
  if (pm_len < BIG + SMALL_REGION) {
    fprintf(stderr, "pmem_peer: %s is %zu bytes; need at least %llu\n", argv[1], pm_len,
            (unsigned long long)(BIG + SMALL_REGION));
    return 1;
  }
  if (posix_memalign((void **)&src, 4096, BIG) != 0) {
    fprintf(stderr, "pmem_peer: out of memory\n");
    return 1;
  }
  /* Fault in every page of both sides before timing anything. */
  for (size_t i = 0; i < BIG; i++) src[i] = (char)(i * 131 + 7);
  for (size_t i = 0; i < pm_len; i += 4096) {
    volatile char *q = pm + i;
    *q = *q;
  }
  __builtin_cpu_init();
  have_avx2 = __builtin_cpu_supports("avx2");

  const size_t persist_sizes[] = {64, 256, 4096};
  const size_t copy_sizes[] = {256, 4096, 64 * 1024, BIG};

  printf("{\n  \"peer\": \"libpmem\",\n  \"is_pmem\": %d,\n  \"mapped_bytes\": %zu,\n", is_pmem, pm_len);
  printf("  \"nt_copy\": \"%s\",\n  \"quick\": %s,\n  \"results\": [", have_avx2 ? "avx2" : "sse2",
         quick ? "true" : "false");
  emit("loop", 0, op_loop, reps);
  emit("sfence", 0, op_sfence, reps);
  for (int k = 0; k < 3; k++) emit("persist", persist_sizes[k], op_persist, reps);
  for (int k = 0; k < 4; k++) {
    emit("pmem_memcpy_persist", copy_sizes[k], op_memcpy_persist, reps);
    emit("memcpy", copy_sizes[k], op_memcpy, reps);
  }
  emit("nt_copy", BIG, op_nt_copy, reps);
  printf("\n  ]\n}\n");
  sink = (uint64_t)(unsigned char)pm[0];
  pmem_unmap(pm, pm_len);
  free(src);
  return 0;
}
