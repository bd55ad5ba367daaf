// GEMV driver (row chunking over oneTBB, kernel choice at start-up) and the
// AVX2 + F16C and portable row kernels.
#include "tensor/kernels/gemv.h"


#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "tensor/dtype.h"
#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/gemv_internal.h"
#include "tensor/kernels/row_chunks.h"
#include "tensor/kernels/stream_rows.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#include "tensor/kernels/hsum_avx2.h"
#define RBE_GEMV_HAVE_AVX2 1
#endif

namespace rbe::kernels {
namespace gemv_detail {
namespace {

// ---- portable kernels ----
void rows_f32_generic(int64_t r0, int64_t r1, int64_t K, const float* W, int64_t ldw, const float* x,
                      const float* bias, float* y) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* w = W + r * ldw;
    float acc[8] = {};
    int64_t k = 0;
    for (; k + 8 <= K; k += 8)
      for (int j = 0; j < 8; ++j) acc[j] += w[k + j] * x[k + j];
    float s = 0.f;
    for (; k < K; ++k) s += w[k] * x[k];
    for (float a : acc) s += a;
    y[r] = s + (bias ? bias[r] : 0.f);
  }
}

void rows_f16_generic(int64_t r0, int64_t r1, int64_t K, const uint16_t* W, int64_t ldw, const float* x,
                      const float* bias, float* y) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t* w = W + r * ldw;
    float s = 0.f;
    for (int64_t k = 0; k < K; ++k) s += f16_to_f32(w[k]) * x[k];
    y[r] = s + (bias ? bias[r] : 0.f);
  }
}

inline float to_f32(float v) { return v; }
inline float to_f32(uint16_t v) { return f16_to_f32(v); }

// Row by row; the weight row stays in L1 while the M inputs pass over it.
template <class T>
void multi_generic(int64_t r0, int64_t r1, int64_t M, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                   const float* bias, float* Y, int64_t ldy) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* w = W + r * ldw;
    for (int64_t m = 0; m < M; ++m) {
      const float* x = X + m * ldx;
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s += to_f32(w[k]) * x[k];
      Y[m * ldy + r] = s + (bias ? bias[r] : 0.f);
    }
  }
}

#ifdef RBE_GEMV_HAVE_AVX2
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return f16_to_f32(*p); }

// Four adjacent rows at a time share each load of x; the K tail is scalar.
// The tail rows of rows_avx2_streams.
template <class T>
void rows_avx2(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* x, const float* bias,
               float* y) {
  const int64_t K8 = K & ~int64_t(7);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const T* w0 = W + r * ldw;
    const T *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t k = 0; k < K8; k += 8) {
      const __m256 xv = _mm256_loadu_ps(x + k);
      a0 = _mm256_fmadd_ps(load8(w0 + k), xv, a0);
      a1 = _mm256_fmadd_ps(load8(w1 + k), xv, a1);
      a2 = _mm256_fmadd_ps(load8(w2 + k), xv, a2);
      a3 = _mm256_fmadd_ps(load8(w3 + k), xv, a3);
    }
    float s[4] = {hsum256(a0), hsum256(a1), hsum256(a2), hsum256(a3)};
    for (int64_t k = K8; k < K; ++k) {
      s[0] += load1(w0 + k) * x[k];
      s[1] += load1(w1 + k) * x[k];
      s[2] += load1(w2 + k) * x[k];
      s[3] += load1(w3 + k) * x[k];
    }
    for (int j = 0; j < 4; ++j) y[r + j] = s[j] + (bias ? bias[r + j] : 0.f);
  }
  for (; r < r1; ++r) {
    const T* w = W + r * ldw;
    __m256 a = _mm256_setzero_ps();
    for (int64_t k = 0; k < K8; k += 8) a = _mm256_fmadd_ps(load8(w + k), _mm256_loadu_ps(x + k), a);
    float s = hsum256(a);
    for (int64_t k = K8; k < K; ++k) s += load1(w + k) * x[k];
    y[r] = s + (bias ? bias[r] : 0.f);
  }
}

// The rows [r0, r1) as four interleaved streams, as the AVX-512 kernel reads
// them (gemv_avx512.cpp): step i computes rows r0 + i, r0 + h + i, r0 + 2h + i
// and r0 + 3h + i (h = a quarter of the range), one 64-byte line of each row
// per iteration sharing the x loads; the rows left over go through rows_avx2.
// On an AMD EPYC (Zen 3) VM this read f16 weights about 1.5x faster than
// rows_avx2, which steps 4 adjacent rows 8 weights at a time. No software
// prefetch: there, with the hardware prefetcher alone, a token's f32 products
// read at 88-95% of a bandwidth probe paired with them, against 76-89% when
// each stream was prefetched 1 KiB ahead (docs/performance.md, "A probe
// paired with the tokens").
template <class T>
void rows_avx2_streams(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* x,
                       const float* bias, float* y) {
  constexpr int S = 4;
  constexpr int64_t E = 64 / int64_t(sizeof(T));  // weights per line
  const int64_t h = stream_rows(r1 - r0, S, ldw * int64_t(sizeof(T)));
  const int64_t KE = K / E * E, K8 = K & ~int64_t(7);
  for (int64_t i = 0; i < h; ++i) {
    const T* w[S];
    for (int s = 0; s < S; ++s) w[s] = W + (r0 + s * h + i) * ldw;
    __m256 a[S][2];
    for (int s = 0; s < S; ++s) a[s][0] = a[s][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < KE; k += E) {
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s)
#pragma GCC unroll 4
        for (int64_t j = 0; j < E; j += 8)
          a[s][(j / 8) & 1] = _mm256_fmadd_ps(load8(w[s] + k + j), _mm256_loadu_ps(x + k + j), a[s][(j / 8) & 1]);
    }
    for (int64_t k = KE; k < K8; k += 8) {
      const __m256 xv = _mm256_loadu_ps(x + k);
      for (int s = 0; s < S; ++s) a[s][0] = _mm256_fmadd_ps(load8(w[s] + k), xv, a[s][0]);
    }
    float out[S];
    for (int s = 0; s < S; ++s) {
      out[s] = hsum256(_mm256_add_ps(a[s][0], a[s][1]));
      for (int64_t k = K8; k < K; ++k) out[s] += load1(w[s] + k) * x[k];
    }
    for (int s = 0; s < S; ++s) {
      const int64_t r = r0 + s * h + i;
      y[r] = out[s] + (bias ? bias[r] : 0.f);
    }
  }
  // Rows that stream_rows left over: as streams (rows_avx2 sums a row in another order).
  if (r1 - (r0 + S * h) >= S) return rows_avx2_streams(r0 + S * h, r1, K, W, ldw, x, bias, y);
  if (r0 + S * h < r1) rows_avx2(r0 + S * h, r1, K, W, ldw, x, bias, y);
}

// One weight row at a time, one accumulator per input (M <= 8 of the 16 ymm
// registers), each 8 weights loaded and converted once for all M inputs.
template <class T, int M>
void multi_avx2_m(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                  const float* bias, float* Y, int64_t ldy) {
  const int64_t K8 = K & ~int64_t(7);
  for (int64_t r = r0; r < r1; ++r) {
    const T* w = W + r * ldw;
    __m256 acc[M];
    for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K8; k += 8) {
      const __m256 wv = load8(w + k);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) acc[m] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(X + m * ldx + k), acc[m]);
    }
    for (int m = 0; m < M; ++m) {
      const float* x = X + m * ldx;
      float s = hsum256(acc[m]);
      for (int64_t k = K8; k < K; ++k) s += load1(w + k) * x[k];
      Y[m * ldy + r] = s + (bias ? bias[r] : 0.f);
    }
  }
}

// S weight rows times M inputs (S*M accumulators, S + 1 more registers, within
// the 16 ymm), the S rows being S interleaved streams of the range as in
// rows_avx2_streams, with no software prefetch either (on the Zen 3 VM a
// prefetch 1 KiB ahead was no faster for any M, and slower for f32 at M = 2
// and 4); the rows left over go through multi_avx2_m. Each 8 weights are
// loaded once for all M inputs, each 8 inputs once for all S rows.
template <class T, int M, int S>
void multi_avx2_streams(int64_t r0, int64_t r1, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                        const float* bias, float* Y, int64_t ldy) {
  const int64_t h = stream_rows(r1 - r0, S, ldw * int64_t(sizeof(T)));
  const int64_t K8 = K & ~int64_t(7);
  for (int64_t i = 0; i < h; ++i) {
    const T* w[S];
    for (int s = 0; s < S; ++s) w[s] = W + (r0 + s * h + i) * ldw;
    __m256 acc[S][M];
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) acc[s][m] = _mm256_setzero_ps();
    auto step = [&](int64_t k) __attribute__((always_inline)) {
      __m256 wv[S];
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) wv[s] = load8(w[s] + k);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        const __m256 xv = _mm256_loadu_ps(X + m * ldx + k);
#pragma GCC unroll 8
        for (int s = 0; s < S; ++s) acc[s][m] = _mm256_fmadd_ps(wv[s], xv, acc[s][m]);
      }
    };
#pragma GCC unroll 4
    for (int64_t k = 0; k < K8; k += 8) step(k);
    for (int s = 0; s < S; ++s) {
      const int64_t r = r0 + s * h + i;
      for (int m = 0; m < M; ++m) {
        const float* x = X + m * ldx;
        float v = hsum256(acc[s][m]);
        for (int64_t k = K8; k < K; ++k) v += load1(w[s] + k) * x[k];
        Y[m * ldy + r] = v + (bias ? bias[r] : 0.f);
      }
    }
  }
  if (r0 + S * h < r1) multi_avx2_m<T, M>(r0 + S * h, r1, K, W, ldw, X, ldx, bias, Y, ldy);
}

template <class T>
void multi_avx2(int64_t r0, int64_t r1, int64_t M, int64_t K, const T* W, int64_t ldw, const float* X, int64_t ldx,
                const float* bias, float* Y, int64_t ldy) {
  with_row_count(M, [&](auto m) {
    constexpr int kM = decltype(m)::value;
    constexpr int kS = kM <= 2 ? 4 : kM == 3 ? 3 : kM <= 6 ? 2 : 1;  // kS * kM + kS + 1 <= 16 registers
    multi_avx2_streams<T, kM, kS>(r0, r1, K, W, ldw, X, ldx, bias, Y, ldy);
  });
}
#endif

// The kernels here also convert f16 (F16C / AVX-512 vcvtph2ps).
bool cpu_has_avx512() { return kernels::cpu_has_avx512() && kernels::cpu_has_f16c(); }
bool cpu_has_avx2() { return kernels::cpu_has_avx2() && kernels::cpu_has_f16c(); }

const GemvKernels* find_kernels(const char* name) {
  if (std::strcmp(name, "avx512") == 0) return cpu_has_avx512() ? &kGemvAvx512 : nullptr;
  if (std::strcmp(name, "avx512l2") == 0) return cpu_has_avx512() ? &kGemvAvx512L2 : nullptr;
#ifdef RBE_GEMV_HAVE_AVX2
  if (std::strcmp(name, "avx2") == 0) return cpu_has_avx2() ? &kGemvAvx2 : nullptr;
#endif
  if (std::strcmp(name, "generic") == 0) return &kGemvGeneric;
  return nullptr;
}

const GemvKernels& select_kernels() {
  if (const char* env = std::getenv("RBE_GEMV_KERNEL"))
    if (const GemvKernels* k = find_kernels(env)) return *k;
  // The two AVX-512 tables differ in where f16 weights are prefetched
  // (gemv_avx512.cpp): into L1 measured faster on Intel, into L2 on AMD;
  // and AMD's runs f32 rows as 8 streams and f16 rows of 2048 weights or
  // more as one stream (both measured on Zen 4 only).
  const char* avx512 = kernels::cpu_is_amd() ? "avx512l2" : "avx512";
  for (const char* name : {avx512, "avx2"})
    if (const GemvKernels* k = find_kernels(name)) return *k;
  return kGemvGeneric;
}

template <class Fn>
void run_rows(int64_t N, int64_t row_bytes, Fn&& rows) {
  parallel_row_chunks(N, row_bytes, kGemvRowChunking, rows);
}

void sgemv_impl(const GemvKernels& ks, int64_t N, int64_t K, const float* W, int64_t ldw, const float* x,
                const float* bias, float* y) {
  run_rows(N, K * int64_t(sizeof(float)), [&](int64_t r0, int64_t r1) { ks.f32(r0, r1, K, W, ldw, x, bias, y); });
}
void hgemv_impl(const GemvKernels& ks, int64_t N, int64_t K, const uint16_t* W, int64_t ldw, const float* x,
                const float* bias, float* y) {
  run_rows(N, K * int64_t(sizeof(uint16_t)), [&](int64_t r0, int64_t r1) { ks.f16(r0, r1, K, W, ldw, x, bias, y); });
}

// Groups of up to kMultiMaxRows inputs, as even as can be (9 as 5 + 4, not
// 8 + 1: a group of 4 or fewer costs about what one input does, bound by
// memory, where each input past that adds arithmetic), each streaming W once
// with the same row chunks as the single-vector product; a group of one is a
// plain GEMV.
template <class T, class Single, class Multi>
void multi_impl(Single single, Multi multi, int64_t M, int64_t N, int64_t K, const T* W, int64_t ldw, const float* X,
                int64_t ldx, const float* bias, float* Y, int64_t ldy) {
  const int64_t groups = (M + kMultiMaxRows - 1) / kMultiMaxRows;
  for (int64_t g = 0, m0 = 0, mb = 0; g < groups; ++g, m0 += mb) {
    mb = (M - m0) / (groups - g);
    const float* Xg = X + m0 * ldx;
    float* Yg = Y + m0 * ldy;
    run_rows(N, K * int64_t(sizeof(T)), [&](int64_t r0, int64_t r1) {
      if (mb == 1) single(r0, r1, K, W, ldw, Xg, bias, Yg);
      else multi(r0, r1, mb, K, W, ldw, Xg, ldx, bias, Yg, ldy);
    });
  }
}

}  // namespace

#ifdef RBE_GEMV_HAVE_AVX2
const GemvKernels kGemvAvx2 = {"avx2", &rows_avx2_streams<float>, &rows_avx2_streams<uint16_t>, &multi_avx2<float>,
                               &multi_avx2<uint16_t>};
#else
const GemvKernels kGemvAvx2 = {"generic", &rows_f32_generic, &rows_f16_generic, &multi_generic<float>,
                               &multi_generic<uint16_t>};
#endif
const GemvKernels kGemvGeneric = {"generic", &rows_f32_generic, &rows_f16_generic, &multi_generic<float>,
                                  &multi_generic<uint16_t>};

const GemvKernels& active() {
  static const GemvKernels& k = select_kernels();
  return k;
}
namespace {
[[maybe_unused]] const GemvKernels& g_startup_choice = active();  // chosen at start-up, not in the first hot call
}  // namespace

}  // namespace gemv_detail

void sgemv(int64_t N, int64_t K, const float* W, int64_t ldw, const float* x, const float* bias, float* y) {
  gemv_detail::sgemv_impl(gemv_detail::active(), N, K, W, ldw, x, bias, y);
}
void hgemv(int64_t N, int64_t K, const uint16_t* W, int64_t ldw, const float* x, const float* bias, float* y) {
  gemv_detail::hgemv_impl(gemv_detail::active(), N, K, W, ldw, x, bias, y);
}
const char* gemv_kernel_name() { return gemv_detail::active().name; }

void sgemv_multi(int64_t M, int64_t N, int64_t K, const float* W, int64_t ldw, const float* X, int64_t ldx,
                 const float* bias, float* Y, int64_t ldy) {
  const auto& ks = gemv_detail::active();
  gemv_detail::multi_impl(ks.f32, ks.multi_f32, M, N, K, W, ldw, X, ldx, bias, Y, ldy);
}
void hgemv_multi(int64_t M, int64_t N, int64_t K, const uint16_t* W, int64_t ldw, const float* X, int64_t ldx,
                 const float* bias, float* Y, int64_t ldy) {
  const auto& ks = gemv_detail::active();
  gemv_detail::multi_impl(ks.f16, ks.multi_f16, M, N, K, W, ldw, X, ldx, bias, Y, ldy);
}

bool sgemv_with_kernel(const char* name, int64_t N, int64_t K, const float* W, int64_t ldw, const float* x,
                       const float* bias, float* y) {
  const gemv_detail::GemvKernels* ks = gemv_detail::find_kernels(name);
  if (!ks) return false;
  gemv_detail::sgemv_impl(*ks, N, K, W, ldw, x, bias, y);
  return true;
}
bool hgemv_with_kernel(const char* name, int64_t N, int64_t K, const uint16_t* W, int64_t ldw, const float* x,
                       const float* bias, float* y) {
  const gemv_detail::GemvKernels* ks = gemv_detail::find_kernels(name);
  if (!ks) return false;
  gemv_detail::hgemv_impl(*ks, N, K, W, ldw, x, bias, y);
  return true;
}

bool sgemv_multi_with_kernel(const char* name, int64_t M, int64_t N, int64_t K, const float* W, int64_t ldw,
                             const float* X, int64_t ldx, const float* bias, float* Y, int64_t ldy) {
  const gemv_detail::GemvKernels* ks = gemv_detail::find_kernels(name);
  if (!ks) return false;
  gemv_detail::multi_impl(ks->f32, ks->multi_f32, M, N, K, W, ldw, X, ldx, bias, Y, ldy);
  return true;
}
bool hgemv_multi_with_kernel(const char* name, int64_t M, int64_t N, int64_t K, const uint16_t* W, int64_t ldw,
                             const float* X, int64_t ldx, const float* bias, float* Y, int64_t ldy) {
  const gemv_detail::GemvKernels* ks = gemv_detail::find_kernels(name);
  if (!ks) return false;
  gemv_detail::multi_impl(ks->f16, ks->multi_f16, M, N, K, W, ldw, X, ldx, bias, Y, ldy);
  return true;
}

}  // namespace rbe::kernels
