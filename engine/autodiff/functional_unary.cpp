// Differentiable unary elementwise ops and softmax. Elementwise backwards are
// fused loops (one pass, one allocation) over the input, output and gradient.
#include <algorithm>
#include <cmath>

#include "autodiff/functional.h"
#include "autodiff/functional_util.h"

namespace rbe {

using detail::map_grad;
using detail::map_grad3;

namespace {

// Records an elementwise op whose derivative is f(x, y, g) with y = op(x).
template <class F>
Tensor record_unary(const char* name, const Tensor& x, Tensor out, F f) {
  if (!needs_grad({&x})) return out;
  Tensor y = out.detach();
  return record(name, out, {x}, [x, y, f](const Tensor& g) { return std::vector<Tensor>{map_grad3(x, y, g, f)}; });
}

// Same, when the derivative needs only x (the output is not kept alive).
template <class F>
Tensor record_unary_x(const char* name, const Tensor& x, Tensor out, F f) {
  if (!needs_grad({&x})) return out;
  return record(name, out, {x}, [x, f](const Tensor& g) { return std::vector<Tensor>{map_grad(x, g, f)}; });
}

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

inline float sigmoidf(float x) { return 1.f / (1.f + std::exp(-x)); }
inline float softplusf(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }

}  // namespace

Tensor neg(const Tensor& x) {
  Tensor out = ops::neg(x);
  if (!needs_grad({&x})) return out;
  return record("neg", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{ops::neg(g)}; });
}

Tensor abs(const Tensor& x) {
  return record_unary_x("abs", x, ops::abs(x), [](float v, float g) {
    return v > 0.f ? g : (v < 0.f ? -g : 0.f);
  });
}

Tensor exp(const Tensor& x) {
  return record_unary("exp", x, ops::exp(x), [](float, float y, float g) { return g * y; });
}

Tensor log(const Tensor& x) {
  return record_unary_x("log", x, ops::log(x), [](float v, float g) { return g / v; });
}

Tensor sqrt(const Tensor& x) {
  return record_unary("sqrt", x, ops::sqrt(x), [](float, float y, float g) { return 0.5f * g / y; });
}

Tensor sin(const Tensor& x) {
  return record_unary_x("sin", x, ops::sin(x), [](float v, float g) { return g * std::cos(v); });
}

Tensor cos(const Tensor& x) {
  return record_unary_x("cos", x, ops::cos(x), [](float v, float g) { return -g * std::sin(v); });
}

Tensor tan(const Tensor& x) {
  return record_unary("tan", x, ops::tan(x), [](float, float y, float g) { return g * (1.f + y * y); });
}

Tensor tanh(const Tensor& x) {
  return record_unary("tanh", x, ops::tanh(x), [](float, float y, float g) { return g * (1.f - y * y); });
}

Tensor sigmoid(const Tensor& x) {
  return record_unary("sigmoid", x, ops::sigmoid(x), [](float, float y, float g) { return g * y * (1.f - y); });
}

Tensor relu(const Tensor& x) {
  return record_unary_x("relu", x, ops::relu(x), [](float v, float g) { return v > 0.f ? g : 0.f; });
}

Tensor gelu(const Tensor& x) {
  // d/dx x*Phi(x) = Phi(x) + x*phi(x)
  return record_unary_x("gelu", x, ops::gelu(x), [](float v, float g) {
    float cdf = 0.5f * (1.f + std::erf(v * kInvSqrt2));
    float pdf = kInvSqrt2Pi * std::exp(-0.5f * v * v);
    return g * (cdf + v * pdf);
  });
}

Tensor gelu_tanh(const Tensor& x) {
  // y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
  return record_unary_x("gelu_tanh", x, ops::gelu_tanh(x), [](float v, float g) {
    float u = kSqrt2OverPi * (v + 0.044715f * v * v * v);
    float t = std::tanh(u);
    float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * v * v);
    return g * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
  });
}

Tensor silu(const Tensor& x) {
  return record_unary_x("silu", x, ops::silu(x), [](float v, float g) {
    float s = sigmoidf(v);
    return g * s * (1.f + v * (1.f - s));
  });
}

Tensor mish(const Tensor& x) {
  // y = x tanh(sp(x)); dy/dx = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2)
  return record_unary_x("mish", x, ops::mish(x), [](float v, float g) {
    float t = std::tanh(softplusf(v));
    return g * (t + v * sigmoidf(v) * (1.f - t * t));
  });
}

namespace {

// Row-wise softmax backward over the last dim, fused into one pass per row.
// y, g: [rows, n]. log_space: y holds log-probabilities (log_softmax).
Tensor softmax_backward_lastdim(const Tensor& y, const Tensor& g, bool log_space) {
  Tensor yc = y.contiguous();
  Tensor gc = g.contiguous();
  Tensor out = Tensor::empty(y.shape());
  const int64_t n = y.dim() == 0 ? 1 : y.size(-1);
  const int64_t rows = n == 0 ? 0 : y.numel() / n;
  const float* py = yc.data<float>();
  const float* pg = gc.data<float>();
  float* po = out.data<float>();
  auto run_rows = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = py + r * n;
      const float* gr = pg + r * n;
      float* orow = po + r * n;
      double acc = 0;
      if (log_space) {  // dx = g - exp(y) * sum(g)
        for (int64_t i = 0; i < n; ++i) acc += gr[i];
        const float s = float(acc);
        for (int64_t i = 0; i < n; ++i) orow[i] = gr[i] - std::exp(yr[i]) * s;
      } else {  // dx = y * (g - sum(g * y))
        for (int64_t i = 0; i < n; ++i) acc += double(gr[i]) * yr[i];
        const float s = float(acc);
        for (int64_t i = 0; i < n; ++i) orow[i] = yr[i] * (gr[i] - s);
      }
    }
  };
  int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1));
  if (rows * n < (1 << 15)) run_rows(0, rows);
  else
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { run_rows(r.begin(), r.end()); });
  return out;
}

bool is_last_dim(const Tensor& x, int64_t dim) { return x.dim() > 0 && normalize_dim(dim, x.dim(), "softmax") == x.dim() - 1; }

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor out = ops::softmax(x, dim);
  if (!needs_grad({&x})) return out;
  Tensor y = out.detach();
  // dx = y * (g - sum(g*y, dim))
  return record("softmax", out, {x}, [y, dim](const Tensor& g) {
    if (is_last_dim(y, dim)) return std::vector<Tensor>{softmax_backward_lastdim(y, g, false)};
    Tensor dot = ops::sum(ops::mul(g, y), dim, /*keepdim=*/true);
    return std::vector<Tensor>{ops::mul(y, ops::sub(g, dot))};
  });
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor out = ops::log_softmax(x, dim);
  if (!needs_grad({&x})) return out;
  Tensor y = out.detach();
  // dx = g - exp(y) * sum(g, dim)
  return record("log_softmax", out, {x}, [y, dim](const Tensor& g) {
    if (is_last_dim(y, dim)) return std::vector<Tensor>{softmax_backward_lastdim(y, g, true)};
    Tensor gs = ops::sum(g, dim, /*keepdim=*/true);
    return std::vector<Tensor>{ops::sub(g, ops::mul(ops::exp(y), gs))};
  });
}

}  // namespace rbe
