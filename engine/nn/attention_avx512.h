#pragma once
// A prompt's causal attention for one head of size 64, fused (flash-style):
// one pass over the keys with an online softmax, 16 query rows at a time in
// the lanes of a vector, so that neither the scores nor their maximum need a
// pass of their own or a sum across lanes. Where the CPU has AVX-512
// (pointwise_avx512_usable()); elsewhere attention.cpp's SGEMM path runs.
#include <cstdint>

namespace rbe::nn::detail {

// Query row r of q (M rows of 64, stride ldq) attends to keys 0 .. first + r
// of K and V (row-major [*, 64], f32); out row r (stride ldo) gets the
// softmax(scale q K^T)-weighted sum of V's rows. first >= 0.
void attend_causal64_avx512(const float* q, int64_t ldq, int64_t M, const float* K, const float* V, int64_t first,
                            float scale, float* out, int64_t ldo);

}  // namespace rbe::nn::detail
