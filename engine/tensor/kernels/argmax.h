#pragma once
// Greedy decoding's last step: the index of the largest logit. One pass over
// the vocabulary in 8 lanes (value and index per lane), so a 50257-entry
// GPT-2 row costs a few microseconds instead of a branchy scalar scan.
#include <cstdint>

namespace rbe::kernels {

// The first index of the largest value in x[0, n); NaNs never win. Returns 0
// when n <= 0 or when every value is NaN.
int64_t argmax_f32(const float* x, int64_t n);

}  // namespace rbe::kernels
