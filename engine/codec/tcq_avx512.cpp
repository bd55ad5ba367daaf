// The TCQ search with AVX-512 (compiled with -mavx512f/bw/vl/dq and
// -ffp-contract=off; run only where tcq.cpp's tcq_kernel() found those
// features): the subset search of two coefficients per register, by the AVX2
// search's operations (tcq_search.h), then the same trellis step for each.
// The search's own chain of operations per coefficient is long (the
// rounding, the table gathers, the compare) and the out-of-order window
// holds few coefficients at a time, so twice the lanes per instruction is
// nearly twice the coefficients in flight.
#include <immintrin.h>

// GCC 12's set1 / broadcast intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <utility>

#include "codec/tcq_search.h"

namespace rbe::codec {
namespace {

// Lanes (a: subsets 0-3 | b: subsets 0-3), each as SubsetSearch computes it.
class PairSearch {
 public:
  PairSearch(float step, float lambda, const RateModel& rm)
      : step_(_mm512_set1_pd(double(step))), lambda_(_mm256_set1_ps(lambda)), escape_(_mm256_set1_ps(rm.escape_bits)),
        t_(rm), lo_(_mm256_broadcastsi128_si256(t_.lo)), size_(_mm256_broadcastsi128_si256(t_.size)),
        base_(_mm256_broadcastsi128_si256(t_.base)) {}

  std::pair<SubsetCandidates, SubsetCandidates> operator()(double xa, double xb) const {
    const __m512d j = _mm512_setr_pd(0, 1, 2, 3, 0, 1, 2, 3), four = _mm512_set1_pd(4);
    const __m512d x = _mm512_insertf64x4(_mm512_set1_pd(xa), _mm256_set1_pd(xb), 1);
    const __m512d t = _mm512_fmadd_pd(_mm512_sub_pd(x, j), _mm512_set1_pd(0.25), _mm512_set1_pd(0.5));
    const __m512d f = _mm512_roundscale_pd(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m512d k0 = _mm512_fmadd_pd(four, f, j);
    const __mmask8 up = _mm512_cmp_pd_mask(k0, _mm512_setzero_pd(), _CMP_GT_OQ);
    const __m512d k1 = _mm512_mask_blend_pd(up, _mm512_add_pd(k0, four), _mm512_sub_pd(k0, four));
    const __m256i fi = _mm512_cvtpd_epi32(f);
    const __m256i m0 = _mm256_add_epi32(_mm256_add_epi32(fi, fi), _mm256_setr_epi32(0, 0, 1, 1, 0, 0, 1, 1));
    const __m256i m1 = _mm256_mask_add_epi32(_mm256_add_epi32(m0, _mm256_set1_epi32(2)), up, m0, _mm256_set1_epi32(-2));
    const __m512d c0 = cost(x, k0, m0), c1 = cost(x, k1, m1);
    const __m512d sign = _mm512_set1_pd(-0.0);
    const __mmask8 inward = _mm512_cmp_pd_mask(_mm512_andnot_pd(sign, k1), _mm512_andnot_pd(sign, k0), _CMP_LE_OQ);
    const __mmask8 take1 = inward & _mm512_cmp_pd_mask(c1, c0, _CMP_LT_OQ);
    const __m512d c = _mm512_mask_blend_pd(take1, c0, c1);
    const __m256i k = _mm512_cvtpd_epi32(_mm512_mask_blend_pd(take1, k0, k1));
    return {{_mm512_castpd512_pd256(c), _mm256_castsi256_si128(k)},
            {_mm512_extractf64x4_pd(c, 1), _mm256_extracti128_si256(k, 1)}};
  }

 private:
  __m512d cost(__m512d x, __m512d k, __m256i m) const {
    const __m512d e = _mm512_mul_pd(_mm512_sub_pd(x, k), step_);
    const __m256i i = _mm256_sub_epi32(m, lo_);
    const __mmask8 in = _mm256_cmpgt_epi32_mask(i, _mm256_set1_epi32(-1)) & _mm256_cmpgt_epi32_mask(size_, i);
    const __m256 bits = _mm256_mmask_i32gather_ps(escape_, in, _mm256_add_epi32(i, base_), t_.table, 4);
    return _mm512_add_pd(_mm512_mul_pd(e, e), _mm512_cvtps_pd(_mm256_mul_ps(lambda_, bits)));
  }

  __m512d step_;
  __m256 lambda_, escape_;
  BitTables t_;
  __m256i lo_, size_, base_;
};

}  // namespace

double tcq_quantize_avx512(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                           uint8_t* ctx) {
  const PairSearch pair(step, lambda, rm);
  Trellis trellis(n);
  const double inv = 1.0 / step;
  auto scaled = [&](int64_t i) { return std::clamp(double(x[i]) * inv, -kMaxIndex, kMaxIndex); };
  int64_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const auto [a, b] = pair(scaled(i), scaled(i + 1));
    trellis.step(i, a);
    trellis.step(i + 1, b);
  }
  if (i < n) {  // an odd last coefficient (built here: the two searches' bit tables share a thread's buffer)
    const SubsetSearch one(step, lambda, rm);
    trellis.step(i, one(scaled(i)));
  }
  return trellis.finish(x, n, step, sym, ctx);
}

}  // namespace rbe::codec
