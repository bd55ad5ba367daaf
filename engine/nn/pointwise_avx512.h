#pragma once
// Pointwise loops of a prompt pass 16 lanes at a time, where the nn code's
// own loops are 8 lanes wide (the base build is AVX2): the tanh GELU
// (GPT-2's gelu_new; a prompt's MLP applies it to 128 x 3072 values per
// layer) and the softmax of attention score rows. Same formulas and exp
// polynomial (exp_poly.h) as the 8-lane loops.
#include <cstdint>

namespace rbe::nn::detail {

// Whether this build compiled these kernels (with AVX-512 flags).
extern const bool kPointwiseAvx512Built;
// ... and the CPU runs them (functional_pointwise.cpp, outside the AVX-512
// file's flags); asked once.
bool pointwise_avx512_usable();
// y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for i < n.
void gelu_tanh_avx512(const float* x, float* y, int64_t n);
// row[0, n) <- softmax(row[0, n)) and row[n, len) <- 0 (a causal score row).
void softmax_row_avx512(float* row, int64_t n, int64_t len);

}  // namespace rbe::nn::detail
