// Elementwise unary ops (f32 compute, contiguous f32 output).
#include <cmath>

#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

namespace {

// Transcendental ops cost ~10-50x a multiply, so they go parallel sooner.
constexpr int64_t kHeavyParallelMin = kParallelMin / 8;

template <class Fn>
Tensor cheap(const Tensor& x, Fn fn) { return unary_map<float>(x, DType::F32, fn); }
template <class Fn>
Tensor heavy(const Tensor& x, Fn fn) { return unary_map<float>(x, DType::F32, fn, kHeavyParallelMin); }

}  // namespace

Tensor neg(const Tensor& x) { return cheap(x, [](float v) { return -v; }); }
Tensor abs(const Tensor& x) { return cheap(x, [](float v) { return std::fabs(v); }); }
Tensor sqrt(const Tensor& x) { return cheap(x, [](float v) { return std::sqrt(v); }); }
Tensor relu(const Tensor& x) { return cheap(x, [](float v) { return v > 0.f ? v : (v != v ? v : 0.f); }); }
Tensor exp(const Tensor& x) { return heavy(x, [](float v) { return std::exp(v); }); }
Tensor log(const Tensor& x) { return heavy(x, [](float v) { return std::log(v); }); }
Tensor sin(const Tensor& x) { return heavy(x, [](float v) { return std::sin(v); }); }
Tensor cos(const Tensor& x) { return heavy(x, [](float v) { return std::cos(v); }); }
Tensor tan(const Tensor& x) { return heavy(x, [](float v) { return std::tan(v); }); }

// tanh from expf (glibc's tanhf is ~8x slower): 1 - 2 / (e^{2|v|} + 1) loses
// at most a few ulps for |v| >= 0.3125; below that an odd Taylor polynomial
// (through v^13, truncation < 1e-10 relative) is exact to rounding.
static inline float fast_tanh(float v) {
  float a = std::fabs(v);
  if (a < 0.3125f) {
    float z = v * v;
    float p = 21844.f / 6081075.f;
    p = p * z - 1382.f / 155925.f;
    p = p * z + 62.f / 2835.f;
    p = p * z - 17.f / 315.f;
    p = p * z + 2.f / 15.f;
    p = p * z - 1.f / 3.f;
    return v + v * z * p;
  }
  float t = 1.f - 2.f / (std::exp(2.f * a) + 1.f);
  return std::copysign(t, v);
}

Tensor tanh(const Tensor& x) { return heavy(x, fast_tanh); }

// The activations below are written with expf only: glibc's expf is ~8x
// faster than tanhf/expm1f/log1pf, and exp overflowing to inf gives the
// right limits (1 / (1 + inf) == 0), so no branches are needed.

Tensor sigmoid(const Tensor& x) { return heavy(x, [](float v) { return 1.f / (1.f + std::exp(-v)); }); }

Tensor gelu(const Tensor& x) {
  return heavy(x, [](float v) { return 0.5f * v * (1.f + std::erf(v * float(M_SQRT1_2))); });
}

// 0.5 * v * (1 + tanh(u)) == v * sigmoid(2u), u = sqrt(2/pi) * (v + 0.044715 v^3).
Tensor gelu_tanh(const Tensor& x) {
  const float k2 = float(2.0 * std::sqrt(2.0 / M_PI));
  return heavy(x, [k2](float v) { return v / (1.f + std::exp(-k2 * (v + 0.044715f * v * v * v))); });
}

Tensor silu(const Tensor& x) { return heavy(x, [](float v) { return v / (1.f + std::exp(-v)); }); }

// tanh(softplus(v)) == n / (n + 2) with n = e^v (e^v + 2); for v > 20 it is 1 in f32.
Tensor mish(const Tensor& x) {
  return heavy(x, [](float v) {
    if (v > 20.f) return v;
    float e = std::exp(v);
    float n = e * (e + 2.f);
    return v * n / (n + 2.f);
  });
}

}  // namespace rbe::ops
