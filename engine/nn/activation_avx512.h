#pragma once
// The tanh GELU (GPT-2's gelu_new) forward 16 lanes at a time, for the fused
// activation (functional_pointwise.cpp), whose own loop is 8 lanes wide (the
// base build is AVX2). Same formula and exp polynomial; a prompt's MLP
// applies it to 128 x 3072 values per layer.
#include <cstdint>

namespace rbe::nn::detail {

// Whether this build compiled the kernel (with AVX-512 flags); callers also
// ask kernels::cpu_has_avx512(), outside this file's flags.
extern const bool kGeluTanhAvx512Built;
// y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for i < n.
void gelu_tanh_avx512(const float* x, float* y, int64_t n);

}  // namespace rbe::nn::detail
