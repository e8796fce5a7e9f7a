// x86-64: CLWB (keeps the line cached) > CLFLUSHOPT > CLFLUSH, then SFENCE. Large copies
// and fills use non-temporal stores, which bypass the cache and need only the fence.
#include <cstdint>
#include <cstring>

#include "cpu.h"
#include "persist.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace daxfs {

#if defined(__x86_64__)

static constexpr uintptr_t kLine = 64;  // all x86-64 parts flush 64-byte lines

static inline uintptr_t line_down(const void *p) {
  return reinterpret_cast<uintptr_t>(p) & ~(kLine - 1);
}

__attribute__((target("clwb"))) static void flush_clwb(const void *addr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = line_down(addr); p < end; p += kLine) _mm_clwb(reinterpret_cast<void *>(p));
}

__attribute__((target("clflushopt"))) static void flush_clflushopt(const void *addr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = line_down(addr); p < end; p += kLine)
    _mm_clflushopt(reinterpret_cast<void *>(p));
}

static void flush_clflush(const void *addr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = line_down(addr); p < end; p += kLine) _mm_clflush(reinterpret_cast<void *>(p));
}

static void fence_sfence() { _mm_sfence(); }

// --- copy -------------------------------------------------------------------------------

__attribute__((target("avx2"))) static void copy_lines_avx2(char *d, const char *s, size_t lines) {
  for (; lines; --lines, d += 64, s += 64) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(s));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(s + 32));
    _mm256_stream_si256(reinterpret_cast<__m256i *>(d), a);
    _mm256_stream_si256(reinterpret_cast<__m256i *>(d + 32), b);
  }
}

__attribute__((target("avx512f"))) static void copy_lines_avx512(char *d, const char *s, size_t lines) {
  for (; lines; --lines, d += 64, s += 64)
    _mm512_stream_si512(reinterpret_cast<__m512i *>(d), _mm512_loadu_si512(s));
}

static void copy_lines_sse2(char *d, const char *s, size_t lines) {
  for (; lines; --lines, d += 64, s += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + 48));
    _mm_stream_si128(reinterpret_cast<__m128i *>(d), a);
    _mm_stream_si128(reinterpret_cast<__m128i *>(d + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i *>(d + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i *>(d + 48), e);
  }
}

template <void (*Lines)(char *, const char *, size_t)>
static void copy_nt(void *dst, const void *src, size_t len) {
  if (len < kNonTemporalThreshold) {
    copy_plain_flush(dst, src, len);
    return;
  }
  char *d = static_cast<char *>(dst);
  const char *s = static_cast<const char *>(src);
  size_t head = (kLine - (reinterpret_cast<uintptr_t>(d) & (kLine - 1))) & (kLine - 1);
  if (head) copy_plain_flush(d, s, head);
  size_t lines = (len - head) / kLine;
  Lines(d + head, s + head, lines);
  size_t done = head + lines * kLine;
  if (done < len) copy_plain_flush(d + done, s + done, len - done);
}

// --- fill -------------------------------------------------------------------------------

__attribute__((target("avx2"))) static void fill_lines_avx2(char *d, int value, size_t lines) {
  __m256i v = _mm256_set1_epi8(static_cast<char>(value));
  for (; lines; --lines, d += 64) {
    _mm256_stream_si256(reinterpret_cast<__m256i *>(d), v);
    _mm256_stream_si256(reinterpret_cast<__m256i *>(d + 32), v);
  }
}

__attribute__((target("avx512f"))) static void fill_lines_avx512(char *d, int value, size_t lines) {
  __m512i v = _mm512_set1_epi8(static_cast<char>(value));
  for (; lines; --lines, d += 64) _mm512_stream_si512(reinterpret_cast<__m512i *>(d), v);
}

static void fill_lines_sse2(char *d, int value, size_t lines) {
  __m128i v = _mm_set1_epi8(static_cast<char>(value));
  for (; lines; --lines, d += 64) {
    _mm_stream_si128(reinterpret_cast<__m128i *>(d), v);
    _mm_stream_si128(reinterpret_cast<__m128i *>(d + 16), v);
    _mm_stream_si128(reinterpret_cast<__m128i *>(d + 32), v);
    _mm_stream_si128(reinterpret_cast<__m128i *>(d + 48), v);
  }
}

template <void (*Lines)(char *, int, size_t)>
static void fill_nt(void *dst, int value, size_t len) {
  if (len < kNonTemporalThreshold) {
    fill_plain_flush(dst, value, len);
    return;
  }
  char *d = static_cast<char *>(dst);
  size_t head = (kLine - (reinterpret_cast<uintptr_t>(d) & (kLine - 1))) & (kLine - 1);
  if (head) fill_plain_flush(d, value, head);
  size_t lines = (len - head) / kLine;
  Lines(d + head, value, lines);
  size_t done = head + lines * kLine;
  if (done < len) fill_plain_flush(d + done, value, len - done);
}

bool select_x86_64(PersistOps &ops) {
  const CpuFeatures &f = cpu_features();
  if (f.clwb) {
    ops.flush = flush_clwb;
    ops.flushName = "clwb";
  } else if (f.clflushopt) {
    ops.flush = flush_clflushopt;
    ops.flushName = "clflushopt";
  } else {
    ops.flush = flush_clflush;  // every x86-64 CPU has CLFLUSH
    ops.flushName = "clflush";
  }
  ops.fence = fence_sfence;
  ops.fenceName = "sfence";
  if (f.avx512) {
    ops.copyNoDrain = copy_nt<copy_lines_avx512>;
    ops.fillNoDrain = fill_nt<fill_lines_avx512>;
    ops.copyName = "avx512";
  } else if (f.avx2) {
    ops.copyNoDrain = copy_nt<copy_lines_avx2>;
    ops.fillNoDrain = fill_nt<fill_lines_avx2>;
    ops.copyName = "avx2";
  } else if (f.sse2) {
    ops.copyNoDrain = copy_nt<copy_lines_sse2>;
    ops.fillNoDrain = fill_nt<fill_lines_sse2>;
    ops.copyName = "sse2";
  } else {
    ops.copyNoDrain = copy_plain_flush;
    ops.fillNoDrain = fill_plain_flush;
    ops.copyName = "plain";
  }
  return true;
}

#else

bool select_x86_64(PersistOps &) { return false; }

#endif

}  // namespace daxfs
