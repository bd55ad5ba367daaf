#pragma once
// The entropy form's estimate of a block's cost at step Δ, Σ log2(1 + |c|/Δ):
// a smooth stand-in for the entropy coder's bits, for choosing a block's
// transform and whether a generator record pays (rbe_entropy.cpp).
#include <cmath>
#include <cstddef>

namespace rbe::codec {

// Taken as the log2 of products of 8 terms (one logarithm in 8: the
// logarithms were a tenth of the encoder's time), the same sum to about
// 1e-15 of a bit per product; terms one by one where a product overflows.
inline double proxy_bits(const float* c, size_t n, double step) {
  const double inv = 1.0 / step;
  auto term = [inv](float v) { return 1.0 + std::fabs(double(v)) * inv; };
  double s = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    double p = 1.0;
    for (size_t k = 0; k < 8; ++k) p *= term(c[i + k]);
    if (p < HUGE_VAL) {
      s += std::log2(p);
    } else {
      for (size_t k = 0; k < 8; ++k) s += std::log2(term(c[i + k]));
    }
  }
  for (; i < n; ++i) s += std::log2(term(c[i]));
  return s;
}

}  // namespace rbe::codec
