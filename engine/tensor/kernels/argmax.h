#pragma once
// Greedy decoding's last step: the index of the largest logit, in one pass
// over the vocabulary in 8 lanes (value and index per lane) instead of a
// branchy scalar scan: rbe-bench --profile measured 0.072 -> 0.030 ms per
// GPT-2 token (docs/performance.md); four such chains side by side since.
#include <cstdint>

namespace rbe::kernels {

// The first index of the largest value in x[0, n); NaNs never win. Returns 0
// when n <= 0 or when every value is NaN.
int64_t argmax_f32(const float* x, int64_t n);

}  // namespace rbe::kernels
