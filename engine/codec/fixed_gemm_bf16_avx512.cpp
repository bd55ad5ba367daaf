// The batched product of a fixed-rate matrix on AVX512-BF16 dot products
// (fixed_gemm_bf16.h): the arithmetic of the AMX bf16 kernel on zmm
// registers, for CPUs with AVX512-BF16 but no AMX (AMD Zen 4, Intel
// Cooper Lake, a VM without the tile state). Compiled with the AVX-512 flags
// (files *_avx512.cpp), with the BF16 instructions in functions that carry
// the target attribute; only the kernels live here, the threads and the
// checks in fixed_gemm_bf16.cpp (built for the base instruction set).
//
// Layout. X: each row rounded to bf16 in order, so that 32 bits hold the
// pair (x[2p], x[2p + 1]) that a broadcast hands to VDPBF16PS. Weights: a
// strip of 32 rows decoded to f32 (level * scale, as the decode does),
// rounded to bf16, and transposed so that pair p of the strip is two zmm
// (rows 0-15, 16-31), lane i holding row i's (w[2p], w[2p + 1]). One
// VDPBF16PS then adds two products to 16 rows' sums of one X row: the micro-
// kernel keeps 12 X rows x 32 weight rows of sums in 24 registers.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "codec/fixed_gemm_bf16.h"
#include "tensor/kernels/transpose_avx512.h"

namespace rbe::codec::fixed {

#ifndef __AVX512F__

void bf16_rows(const float*, int64_t, uint16_t*) { std::abort(); }  // unreachable: no AVX-512 build
void bf16_panel(const Layout&, const uint8_t*, int64_t, float*, uint32_t*) { std::abort(); }
void bf16_strip_product(const uint32_t*, const uint32_t*, int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                        float*) {
  std::abort();
}

#else

namespace {

constexpr int kStrip = kBf16Strip;  // weight rows per strip (two zmm of lanes)
constexpr int kMaxMr = 12;          // X rows per micro-kernel call

#define RBE_BF16 __attribute__((target("avx512bf16")))

}  // namespace

RBE_BF16 void bf16_rows(const float* src, int64_t n, uint16_t* dst) {
  for (int64_t i = 0; i < n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<const __m512i&>(v));
  }
}

RBE_BF16 void bf16_panel(const Layout& L, const uint8_t* strip, int64_t rows, float* wf, uint32_t* panel) {
  const int64_t K = L.cols;
  for (int i = 0; i < kStrip; ++i) {
    if (i < rows) decode_row_stored(L, strip, i, wf + i * K);
    else std::memset(wf + i * K, 0, size_t(K) * sizeof(float));
  }
  for (int64_t k = 0; k < K; k += 32)  // pairs k / 2 .. k / 2 + 15
    for (int h = 0; h < 2; ++h) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        const float* w = wf + (16 * h + i) * K + k;
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(w + 16), _mm512_loadu_ps(w));
        r[i] = reinterpret_cast<const __m512&>(v);  // lane j: this row's pair k / 2 + j
      }
      rbe::kernels::transpose16(r);  // r[j], lane i: row 16h + i's pair k / 2 + j
      for (int j = 0; j < 16; ++j) _mm512_store_ps(reinterpret_cast<float*>(panel + (2 * (k / 2 + j) + h) * 16), r[j]);
    }
}

namespace {

// Y rows [m0, m0 + MR) x columns [n0, n0 + nn) from the panel and the bf16
// rows of X (pairs: xp + m * K / 2).
template <int MR>
RBE_BF16 void micro(const uint32_t* panel, const uint32_t* xp, int64_t K, int64_t m0, int64_t n0, int64_t nn,
                    int64_t R, const float* bias, float* Y) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int m = 0; m < MR; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  const int64_t pairs = K / 2;
  const uint32_t* x = xp + m0 * pairs;
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = reinterpret_cast<const __m512bh&>(*reinterpret_cast<const __m512*>(panel + 32 * p));
    const __m512bh b1 = reinterpret_cast<const __m512bh&>(*reinterpret_cast<const __m512*>(panel + 32 * p + 16));
#pragma GCC unroll 12
    for (int m = 0; m < MR; ++m) {
      const __m512i a = _mm512_set1_epi32(int(x[m * pairs + p]));
      acc[m][0] = _mm512_dpbf16_ps(acc[m][0], reinterpret_cast<const __m512bh&>(a), b0);
      acc[m][1] = _mm512_dpbf16_ps(acc[m][1], reinterpret_cast<const __m512bh&>(a), b1);
    }
  }
  const __mmask16 k0 = __mmask16(nn >= 16 ? 0xFFFF : (1u << nn) - 1);
  const __mmask16 k1 = __mmask16(nn >= 32 ? 0xFFFF : nn > 16 ? (1u << (nn - 16)) - 1 : 0);
  const __m512 c0 = bias ? _mm512_maskz_loadu_ps(k0, bias + n0) : _mm512_setzero_ps();
  const __m512 c1 = bias ? _mm512_maskz_loadu_ps(k1, bias + n0 + 16) : _mm512_setzero_ps();
  for (int m = 0; m < MR; ++m) {
    float* y = Y + (m0 + m) * R + n0;
    _mm512_mask_storeu_ps(y, k0, _mm512_add_ps(acc[m][0], c0));
    _mm512_mask_storeu_ps(y + 16, k1, _mm512_add_ps(acc[m][1], c1));
  }
}

using MicroFn = void (*)(const uint32_t*, const uint32_t*, int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                         float*);
constexpr MicroFn kMicroByRows[] = {&micro<1>, &micro<2>, &micro<3>,  &micro<4>,  &micro<5>,  &micro<6>,
                                    &micro<7>, &micro<8>, &micro<9>, &micro<10>, &micro<11>, &micro<12>};

}  // namespace

void bf16_strip_product(const uint32_t* panel, const uint32_t* xp, int64_t K, int64_t N, int64_t n0, int64_t nn,
                        int64_t R, const float* bias, float* Y) {
  for (int64_t m0 = 0; m0 < N; m0 += kMaxMr) {
    const int64_t mr = std::min<int64_t>(kMaxMr, N - m0);
    kMicroByRows[mr - 1](panel, xp, K, m0, n0, nn, R, bias, Y);
  }
}

#endif

}  // namespace rbe::codec::fixed
