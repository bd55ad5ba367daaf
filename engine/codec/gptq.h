#pragma once
// GPTQ / LDLQ error-feedback rounding (Frantar et al. 2022; QuIP's LDLQ is the
// same recursion). Columns are quantized in order; each column's rounding
// error, divided by the pivot of U (H^-1 = U^T U, U upper triangular), is
// pushed onto the columns not yet quantized through row i of U. This
// minimises tr((W - W') H (W - W')^T) greedily, i.e. the output error on
// calibration inputs whose second moment is H = X^T X.
#include <cstdint>
#include <functional>
#include <vector>

namespace rbe::codec {

// U = the upper Cholesky factor of the damped inverse: U^T U =
// (H + damp * mean(diag H) * I)^-1, row-major [n, n], float. A zero diagonal
// entry (an input never seen) becomes 1 first. Throws std::runtime_error if H
// is not positive definite even after raising the damping (x10, 6 tries).
std::vector<float> gptq_inverse_cholesky(const float* H, int64_t n, double damp = 0.01);

// Scale-group quantizer: `scale` picks a group's scale from its current
// (error-updated) values w[0..n); `round` maps one value to a code and writes
// the value the code decodes to.
struct GroupQuantizer {
  int group = 32;
  std::function<float(const float* w, int n)> scale;
  std::function<uint8_t(float w, float d, float* deq)> round;
};

// Quantizes rows [r0, r1) of W [rows, cols] (row-major, ld = cols) with error
// feedback through U. codes[r * cols + c] and scales[r * (cols / group) + g]
// receive the result. Rows are independent: call from several threads on
// disjoint row ranges.
void gptq_quantize_rows(const float* W, int64_t cols, const float* U, const GroupQuantizer& q, int64_t r0,
                        int64_t r1, uint8_t* codes, float* scales);

}  // namespace rbe::codec
