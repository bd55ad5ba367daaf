#pragma once
// The sum of a __m256's 8 lanes, in one fixed order ((0+4) + (2+6)) +
// ((1+5) + (3+7)), which the kernels' bit-for-bit tests rely on. Included by
// kernel files built with AVX2; internal linkage, so each file keeps the copy
// compiled with its own ISA flags.
#include <immintrin.h>

namespace rbe::kernels {
namespace {

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace rbe::kernels
