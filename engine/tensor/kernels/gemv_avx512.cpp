// AVX-512 GEMV row kernels (this file is compiled with -mavx512f/bw/vl/dq -mfma;
// it runs only where gemv.cpp's start-up check found those features).
#include <immintrin.h>

// GCC 12's _mm512_cvtph_ps / reduce / masked-load intrinsics trip -W(maybe-)uninitialized on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "tensor/kernels/gemv_internal.h"

namespace rbe::kernels::gemv_detail {
namespace {

inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load16(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

// One row at a time with 4 accumulators, so each thread reads one sequential
// stream (measured faster than 4 rows at a time sharing the x loads). An
// optional software prefetch kAheadBytes ahead (kHint T0/T1) is left off: the
// earlier +10-30% it measured came from a benchmark whose weights were
// 16-byte aligned (split loads); on 64-byte aligned rows on 2 MiB pages
// (tensor/big_alloc.h) the hardware prefetcher alone reads as fast as a plain
// read-sum (tests/bench/bench_gemv).
template <class T, int kAheadBytes, int kHint>
void rows1_avx512(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* x, const float* bias,
                  float* y) {
  const int64_t K16 = K & ~int64_t(15), K64 = K & ~int64_t(63);
  const __mmask16 tail = __mmask16((1u << (K - K16)) - 1);
  for (int64_t r = r0; r < r1; ++r) {
    const T* w = W + r * ldw;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k < K64; k += 64) {
      if constexpr (kAheadBytes > 0) {
        const char* pf = reinterpret_cast<const char*>(w + k) + kAheadBytes;
        for (int b = 0; b < 64 * int(sizeof(T)); b += 64) _mm_prefetch(pf + b, _mm_hint(kHint));
      }
      a0 = _mm512_fmadd_ps(load16(w + k), _mm512_loadu_ps(x + k), a0);
      a1 = _mm512_fmadd_ps(load16(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
      a2 = _mm512_fmadd_ps(load16(w + k + 32), _mm512_loadu_ps(x + k + 32), a2);
      a3 = _mm512_fmadd_ps(load16(w + k + 48), _mm512_loadu_ps(x + k + 48), a3);
    }
    for (; k < K16; k += 16) a0 = _mm512_fmadd_ps(load16(w + k), _mm512_loadu_ps(x + k), a0);
    if (tail) a1 = _mm512_fmadd_ps(load16(w + K16, tail), _mm512_maskz_loadu_ps(tail, x + K16), a1);
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + (bias ? bias[r] : 0.f);
  }
}

// R weight rows times M inputs: R*M accumulators (<= 24 of the 32 zmm
// registers), each 16 weights loaded (and converted) once, each 16 inputs
// loaded once per R rows. The inputs (M x K floats) sit in L1/L2.
template <class T, int M, int R>
inline void multi_block_avx512(const T* w, int64_t ldw, int64_t K, const float* X, int64_t ldx, float (&out)[R][M]) {
  const int64_t K16 = K & ~int64_t(15);
  const __mmask16 tail = __mmask16((1u << (K - K16)) - 1);
  __m512 acc[R][M];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) acc[r][m] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K16; k += 16) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load16(w + r * ldw + k);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      __m512 xv = _mm512_loadu_ps(X + m * ldx + k);
      // Keep xv in a register: GCC would otherwise fold the load into each of
      // the R FMAs, loading it R times (the load ports are the bottleneck).
      if constexpr (R > 1) __asm__("" : "+v"(xv));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  if (tail) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load16(w + r * ldw + K16, tail);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512 xv = _mm512_maskz_loadu_ps(tail, X + m * ldx + K16);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) out[r][m] = _mm512_reduce_add_ps(acc[r][m]);
}

template <class T, int M>
void multi_avx512_m(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                    const float* bias, float* Y, int64_t ldy) {
  constexpr int R = M <= 4 ? 4 : 3;
  int64_t r = r0;
  for (; r + R <= r1; r += R) {
    float s[R][M];
    multi_block_avx512<T, M, R>(W + r * ldw, ldw, K, X, ldx, s);
    for (int j = 0; j < R; ++j)
      for (int m = 0; m < M; ++m) Y[m * ldy + r + j] = s[j][m] + (bias ? bias[r + j] : 0.f);
  }
  for (; r < r1; ++r) {
    float s[1][M];
    multi_block_avx512<T, M, 1>(W + r * ldw, ldw, K, X, ldx, s);
    for (int m = 0; m < M; ++m) Y[m * ldy + r] = s[0][m] + (bias ? bias[r] : 0.f);
  }
}

template <class T>
void multi_avx512(int64_t r0, int64_t r1, int64_t M, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                  const float* bias, float* Y, int64_t ldy) {
  with_row_count(M, [&](auto m) { multi_avx512_m<T, decltype(m)::value>(r0, r1, K, W, ldw, X, ldx, bias, Y, ldy); });
}

}  // namespace

const GemvKernels kGemvAvx512 = {"avx512", &rows1_avx512<float, 0, _MM_HINT_T0>,
                                 &rows1_avx512<uint16_t, 0, _MM_HINT_T1>, &multi_avx512<float>,
                                 &multi_avx512<uint16_t>};

}  // namespace rbe::kernels::gemv_detail
