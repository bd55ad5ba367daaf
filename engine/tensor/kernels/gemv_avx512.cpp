// AVX-512 GEMV row kernels (this file is compiled with -mavx512f/bw/vl/dq -mfma;
// it runs only where gemv.cpp's start-up check found those features).
#include <immintrin.h>

// GCC 12's _mm512_cvtph_ps / reduce / masked-load intrinsics trip -W(maybe-)uninitialized on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "tensor/kernels/gemv_internal.h"
#include "tensor/kernels/stream_rows.h"

namespace rbe::kernels::gemv_detail {
namespace {

inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load16(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

// Sum of each of four vectors, as the four lanes of the result.
inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  auto fold = [](__m512 v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); };
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(fold(a), fold(b)), _mm256_hadd_ps(fold(c), fold(d)));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// Reads of a bandwidth-bound product: each stream is prefetched some bytes
// ahead, into L2 or L1. On an Intel Xeon VM the hardware prefetcher alone
// kept too few lines in flight for the FMA-heavy loop (66-76% of the best
// read-only loop on one 124M token's products); 4 streams with a prefetch
// read at 88-95% (tests/bench/bench_gemv, docs/performance.md).
//
// f32 goes into L2, 1 KiB ahead, everywhere. f16 has two schedules, one
// table each (gemv.cpp picks by CPU vendor): into L1, 2 KiB ahead, where its
// loads feed the conversions (vcvtph2ps, two uops on the FMA ports for 16
// weights) sooner: on an Emerald Rapids VM whole f16 tokens ran at 82-85% of
// the limit against 76-78% with L2 prefetches. On a Zen 4 VM the f32
// schedule is the faster one: 84-88% against 73-83% (docs/performance.md,
// "The f16 prefetch on Zen 4").
struct Prefetch {
  int ahead;  // bytes, per stream
  bool to_l1;
};
inline constexpr Prefetch kToL2{1024, false};
inline constexpr Prefetch kToL1{2048, true};

// Prefetches the weight lines that one 32-weight step of a row consumes,
// P.ahead bytes further along its stream (the following rows, when the
// rows are contiguous).
template <Prefetch P, class T>
inline void prefetch_step(const T* p) {
  const char* q = reinterpret_cast<const char*>(p) + P.ahead;
  for (int b = 0; b < 32 * int(sizeof(T)); b += 64) {
    if constexpr (P.to_l1) _mm_prefetch(q + b, _MM_HINT_T0);
    else _mm_prefetch(q + b, _MM_HINT_T1);
  }
}

// The first P.ahead bytes of a stream, which prefetch_step does not reach.
template <Prefetch P, class T>
inline void prefetch_start(const T* p) {
  const char* q = reinterpret_cast<const char*>(p);
  for (int b = 0; b < P.ahead; b += 64) _mm_prefetch(q + b, _MM_HINT_T1);
}

// One row: the tail rows of a range.
template <Prefetch P, class T>
float row_dot(const T* w, int64_t K, const float* x) {
  const int64_t K16 = K & ~int64_t(15), K32 = K & ~int64_t(31);
  const __mmask16 tail = __mmask16((1u << (K - K16)) - 1);
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  int64_t k = 0;
  for (; k < K32; k += 32) {
    prefetch_step<P>(w + k);
    a0 = _mm512_fmadd_ps(load16(w + k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(load16(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
  }
  if (k < K16) a0 = _mm512_fmadd_ps(load16(w + k), _mm512_loadu_ps(x + k), a0);
  if (tail) a1 = _mm512_fmadd_ps(load16(w + K16, tail), _mm512_maskz_loadu_ps(tail, x + K16), a1);
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// The rows [r0, r1) as four interleaved streams: step i computes rows
// r0 + i, r0 + h + i, r0 + 2h + i and r0 + 3h + i (h = a quarter of the range),
// each 32 weights sharing the x loads, each stream prefetched ahead. Four
// streams per thread keep more lines in flight than one (docs/performance.md).
template <Prefetch P, class T>
void rows_avx512(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* x, const float* bias,
                 float* y) {
  constexpr int S = 4;
  const int64_t h = stream_rows(r1 - r0, S, ldw * int64_t(sizeof(T)));
  const int64_t K16 = K & ~int64_t(15), K32 = K & ~int64_t(31);
  const __mmask16 tail = __mmask16((1u << (K - K16)) - 1);
  if (h > 0)
    for (int s = 0; s < S; ++s) prefetch_start<P>(W + (r0 + s * h) * ldw);
  for (int64_t i = 0; i < h; ++i) {
    const T* w[S];
    for (int s = 0; s < S; ++s) w[s] = W + (r0 + s * h + i) * ldw;
    __m512 a[S][2];
    for (int s = 0; s < S; ++s) a[s][0] = a[s][1] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k < K32; k += 32) {
      const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) {
        prefetch_step<P>(w[s] + k);
        a[s][0] = _mm512_fmadd_ps(load16(w[s] + k), x0, a[s][0]);
        a[s][1] = _mm512_fmadd_ps(load16(w[s] + k + 16), x1, a[s][1]);
      }
    }
    if (k < K16) {
      const __m512 x0 = _mm512_loadu_ps(x + k);
      for (int s = 0; s < S; ++s) a[s][0] = _mm512_fmadd_ps(load16(w[s] + k), x0, a[s][0]);
    }
    if (tail) {
      const __m512 x1 = _mm512_maskz_loadu_ps(tail, x + K16);
      for (int s = 0; s < S; ++s) a[s][1] = _mm512_fmadd_ps(load16(w[s] + K16, tail), x1, a[s][1]);
    }
    alignas(16) float out[S];
    _mm_store_ps(out, reduce4(_mm512_add_ps(a[0][0], a[0][1]), _mm512_add_ps(a[1][0], a[1][1]),
                              _mm512_add_ps(a[2][0], a[2][1]), _mm512_add_ps(a[3][0], a[3][1])));
    for (int s = 0; s < S; ++s) {
      const int64_t r = r0 + s * h + i;
      y[r] = out[s] + (bias ? bias[r] : 0.f);
    }
  }
  // Rows that stream_rows left over: as streams (row_dot sums a row's lanes in another order).
  if (r1 - (r0 + S * h) >= S) return rows_avx512<P, T>(r0 + S * h, r1, K, W, ldw, x, bias, y);
  for (int64_t r = r0 + S * h; r < r1; ++r) y[r] = row_dot<P>(W + r * ldw, K, x) + (bias ? bias[r] : 0.f);
}

// S weight rows times M inputs (batched decoding): the S rows are S
// interleaved streams of the range, each prefetched ahead, as in rows_avx512;
// S*M accumulators + S weight vectors + 1 input vector within the 32 zmm.
// Each 16 weights are loaded (and converted) once for all M inputs, each 16
// inputs once for all S rows. The rows left over run as one stream (S = 1).
// Against S adjacent rows with no software prefetch (the kernel before),
// a 124M token's 49 products at M = 2 / 4 / 8 took 8.1 / 9.1 / 12.4 ms
// instead of 14.6 / 16.6 / 20.3 (f16, Zen 4 VM; docs/performance.md).
template <Prefetch P, class T, int M, int S>
void multi_streams_avx512(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                          const float* bias, float* Y, int64_t ldy) {
  static_assert(S * M + S + 1 <= 32, "accumulators, weights and an input must fit the zmm registers");
  const int64_t h = stream_rows(r1 - r0, S, ldw * int64_t(sizeof(T)));
  const int64_t K16 = K & ~int64_t(15), K32 = K & ~int64_t(31);
  const __mmask16 tail = __mmask16((1u << (K - K16)) - 1);
  if (h > 0)
    for (int s = 0; s < S; ++s) prefetch_start<P>(W + (r0 + s * h) * ldw);
  for (int64_t i = 0; i < h; ++i) {
    const T* w[S];
    for (int s = 0; s < S; ++s) w[s] = W + (r0 + s * h + i) * ldw;
    __m512 acc[S][M];
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) acc[s][m] = _mm512_setzero_ps();
    auto step = [&](int64_t k, __mmask16 mask) __attribute__((always_inline)) {
      __m512 wv[S];
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) wv[s] = mask == 0xffff ? load16(w[s] + k) : load16(w[s] + k, mask);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        __m512 xv = mask == 0xffff ? _mm512_loadu_ps(X + m * ldx + k) : _mm512_maskz_loadu_ps(mask, X + m * ldx + k);
        // Keep xv in a register: GCC would otherwise fold the load into each
        // of the S FMAs, loading it S times (the load ports are the bottleneck).
        if constexpr (S > 1) __asm__("" : "+v"(xv));
#pragma GCC unroll 8
        for (int s = 0; s < S; ++s) acc[s][m] = _mm512_fmadd_ps(wv[s], xv, acc[s][m]);
      }
    };
    int64_t k = 0;
    for (; k < K32; k += 32) {
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) prefetch_step<P>(w[s] + k);
      step(k, 0xffff);
      step(k + 16, 0xffff);
    }
    if (k < K16) step(k, 0xffff);
    if (tail) step(K16, tail);
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) {
      const int64_t r = r0 + s * h + i;
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) Y[m * ldy + r] = _mm512_reduce_add_ps(acc[s][m]) + (bias ? bias[r] : 0.f);
    }
  }
  if constexpr (S > 1) {
    const int64_t done = r0 + S * h;  // S or more rows left (stream_rows): as streams again
    if (r1 - done >= S) return multi_streams_avx512<P, T, M, S>(done, r1, K, W, ldw, X, ldx, bias, Y, ldy);
    if (done < r1) multi_streams_avx512<P, T, M, 1>(done, r1, K, W, ldw, X, ldx, bias, Y, ldy);
  }
}

template <Prefetch P, class T>
void multi_avx512(int64_t r0, int64_t r1, int64_t M, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                  const float* bias, float* Y, int64_t ldy) {
  with_row_count(M, [&](auto m) {
    constexpr int kM = decltype(m)::value;
    multi_streams_avx512<P, T, kM, kM <= 6 ? 4 : 3>(r0, r1, K, W, ldw, X, ldx, bias, Y, ldy);
  });
}

// f32 rows as S = 8 streams of the multi-row kernel with one input: one
// accumulator per row, 16 weights a step. On the Zen 4 VM whole f32 tokens
// ran at 0.90-0.93 of the limit against 0.83-0.89 with rows_avx512 (slow
// memory) and 0.78-0.80 against 0.72-0.75 (fast), every run above every run
// of the old kernel in the same memory state (docs/performance.md, "Eight
// f32 streams on Zen 4"). f16 rows gained nothing from it (4 or 8 streams,
// L1 or L2, 1 or 2 KiB ahead), and Intel was not measured: both keep
// rows_avx512. Each row's sum is the one the multi-row kernel computes for
// it, bit for bit, so batched and single f32 decoding agree exactly in the
// products.
void rows_f32_streams8(int64_t r0, int64_t r1, int64_t K, const float* W, int64_t ldw, const float* x,
                       const float* bias, float* y) {
  multi_streams_avx512<kToL2, float, 1, 8>(r0, r1, K, W, ldw, x, K, bias, y, 0);
}

// f16 rows of 2048 weights or more on AMD (the 124M's mlp.c_proj, 3072) as
// one stream per range, prefetched 6 KiB ahead into L2. With four streams
// of such rows, four rows (24 KiB) pass through L1 between two reads of the
// same input line, and the input (12 KiB) no longer stays there: in a
// scratch build, the same kernel reading the input modulo 1024 ran 4-8%
// faster on rows of 3072 (docs/performance.md, "Chunk starts and long
// rows"). One stream keeps one row (6 KiB) between two reads; 6 KiB ahead
// (5 and 7 KiB measured lower) keeps as many lines in flight as four
// streams 1 KiB ahead. Rows of 768 gained nothing from it and keep the four
// streams. Each row is row_dot's, whatever the range.
inline constexpr Prefetch kOneStream{6144, false};
inline constexpr int64_t kLongRow = 2048;

void rows_f16_l2(int64_t r0, int64_t r1, int64_t K, const uint16_t* W, int64_t ldw, const float* x, const float* bias,
                 float* y) {
  if (K < kLongRow) return rows_avx512<kToL2, uint16_t>(r0, r1, K, W, ldw, x, bias, y);
  if (r0 < r1) prefetch_start<kOneStream>(W + r0 * ldw);
  for (int64_t r = r0; r < r1; ++r) y[r] = row_dot<kOneStream>(W + r * ldw, K, x) + (bias ? bias[r] : 0.f);
}

}  // namespace

const GemvKernels kGemvAvx512 = {"avx512", &rows_avx512<kToL2, float>, &rows_avx512<kToL1, uint16_t>,
                                 &multi_avx512<kToL2, float>, &multi_avx512<kToL1, uint16_t>};
const GemvKernels kGemvAvx512L2 = {"avx512l2", &rows_f32_streams8, &rows_f16_l2,
                                   &multi_avx512<kToL2, float>, &multi_avx512<kToL2, uint16_t>};

}  // namespace rbe::kernels::gemv_detail
