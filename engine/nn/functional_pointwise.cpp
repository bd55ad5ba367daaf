// Fused pointwise nodes: activations and dropout.
#include "nn/functional.h"
#include "nn/pointwise_avx512.h"
#include "nn/kernel_util.h"
#include "tensor/kernels/cpu_features.h"

namespace rbe::nn::detail {

bool pointwise_avx512_usable() {
  static const bool ok = kPointwiseAvx512Built && kernels::cpu_has_avx512();
  return ok;
}

}  // namespace rbe::nn::detail

namespace rbe::nn::F {

using namespace rbe::nn::detail;

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCoeff = 0.044715f;
constexpr int64_t kGrain = 1 << 15;

inline float softplusf(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }

// y[i] = f(x[i]) for i in [i0, i1), 8 at a time (the tail through a padded vector).
template <class F8>
inline void map8(float* y, const float* x, int64_t i0, int64_t i1, F8 f) {
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) store8(y + i, f(load8(x + i)));
  if (i < i1) {
    float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, x + i, size_t(i1 - i) * sizeof(float));
    store8(buf, f(load8(buf)));
    std::memcpy(y + i, buf, size_t(i1 - i) * sizeof(float));
  }
}

// dx[i] = f(dy[i], x[i]) for i in [i0, i1).
template <class F8>
inline void map8_grad(float* dx, const float* dy, const float* x, int64_t i0, int64_t i1, F8 f) {
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) store8(dx + i, f(load8(dy + i), load8(x + i)));
  if (i < i1) {
    float bd[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(bd, dy + i, size_t(i1 - i) * sizeof(float));
    std::memcpy(bx, x + i, size_t(i1 - i) * sizeof(float));
    store8(bd, f(load8(bd), load8(bx)));
    std::memcpy(dx + i, bd, size_t(i1 - i) * sizeof(float));
  }
}

inline v8f sigmoid8(v8f x) { return 1.f / (1.f + exp8(-x)); }

// y = f(x) elementwise over n values.
void act_forward(float* y, const float* x, int64_t n, Activation a) {
  parallel_range(n, kGrain, [&](int64_t i0, int64_t i1) {
    switch (a) {
      case Activation::GeluTanh:
        if (pointwise_avx512_usable()) gelu_tanh_avx512(x + i0, y + i0, i1 - i0);
        else map8(y, x, i0, i1, [](v8f v) { return 0.5f * v * (1.f + tanh8(kSqrt2OverPi * (v + kGeluCoeff * v * v * v))); });
        break;
      case Activation::Gelu:
        for (int64_t i = i0; i < i1; ++i) y[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * float(M_SQRT1_2)));
        break;
      case Activation::Relu:
        map8(y, x, i0, i1, [](v8f v) { return v > 0.f ? v : splat8(0.f); });
        break;
      case Activation::Silu:
        map8(y, x, i0, i1, [](v8f v) { return v * sigmoid8(v); });
        break;
      case Activation::Mish:
        for (int64_t i = i0; i < i1; ++i) y[i] = x[i] * std::tanh(softplusf(x[i]));
        break;
    }
  });
}

// dx = dy * f'(x)
void act_backward(float* dx, const float* dy, const float* x, int64_t n, Activation a) {
  parallel_range(n, kGrain, [&](int64_t i0, int64_t i1) {
    switch (a) {
      case Activation::GeluTanh:
        map8_grad(dx, dy, x, i0, i1, [](v8f g, v8f v) {
          const v8f t = tanh8(kSqrt2OverPi * (v + kGeluCoeff * v * v * v));
          const v8f du = kSqrt2OverPi * (1.f + 3.f * kGeluCoeff * v * v);
          return g * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
        });
        break;
      case Activation::Gelu:
        for (int64_t i = i0; i < i1; ++i) {
          const float v = x[i];
          const float cdf = 0.5f * (1.f + std::erf(v * float(M_SQRT1_2)));
          const float pdf = 0.3989422804014327f * std::exp(-0.5f * v * v);
          dx[i] = dy[i] * (cdf + v * pdf);
        }
        break;
      case Activation::Relu:
        map8_grad(dx, dy, x, i0, i1, [](v8f g, v8f v) { return v > 0.f ? g : splat8(0.f); });
        break;
      case Activation::Silu:
        map8_grad(dx, dy, x, i0, i1, [](v8f g, v8f v) {
          const v8f s = sigmoid8(v);
          return g * s * (1.f + v * (1.f - s));
        });
        break;
      case Activation::Mish:
        for (int64_t i = i0; i < i1; ++i) {
          const float v = x[i];
          const float t = std::tanh(softplusf(v));
          const float s = 1.f / (1.f + std::exp(-v));
          dx[i] = dy[i] * (t + v * (1.f - t * t) * s);
        }
        break;
    }
  });
}

// Dropout mask from (seed, chunk): any thread split gives the same mask.
constexpr int64_t kMaskChunk = 4096;

// y = x * keep * scale, where keep comes from a chunk-seeded generator.
void dropout_apply(float* y, const float* x, int64_t n, float p, uint64_t seed) {
  const float scale = 1.f / (1.f - p);
  const int64_t nchunk = (n + kMaskChunk - 1) / kMaskChunk;
  parallel_range(nchunk, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      Rng rng(seed ^ (uint64_t(c + 1) * 0x9e3779b97f4a7c15ull));
      for (int64_t i = c * kMaskChunk, e = std::min(n, i + kMaskChunk); i < e; ++i)
        y[i] = rng.uniformf() >= p ? x[i] * scale : 0.f;
    }
  });
}

}  // namespace

Activation activation_from_name(const std::string& name) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_tanh" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::GeluTanh;
  if (name == "relu") return Activation::Relu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "mish") return Activation::Mish;
  throw ShapeError("activation: unknown activation function '" + name +
                   "' (expected gelu, gelu_new, relu, silu/swish or mish)");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Gelu: return "gelu";
    case Activation::GeluTanh: return "gelu_new";
    case Activation::Relu: return "relu";
    case Activation::Silu: return "silu";
    case Activation::Mish: return "mish";
  }
  return "?";
}

Tensor activation(const Tensor& x, Activation a) {
  Tensor xc = f32_contig(x, activation_name(a), "x");
  Tensor y = Tensor::empty(x.shape());
  act_forward(y.data<float>(), xc.data<float>(), xc.numel(), a);
  return record(activation_name(a), y, {x}, [xc, a](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(xc.shape());
    act_backward(dx.data<float>(), gc.data<float>(), xc.data<float>(), xc.numel(), a);
    return std::vector<Tensor>{dx};
  });
}

void activation_(Tensor& x, Activation a) {
  if (!x.defined() || x.dtype() != DType::F32 || !x.is_contiguous() || x.requires_grad())
    throw ShapeError(std::string(activation_name(a)) + " in place: x must be a contiguous F32 tensor without a gradient");
  activation_rows(x.data<float>(), x.numel(), a);
}

void activation_rows(float* x, int64_t n, Activation a) { act_forward(x, x, n, a); }

Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed) {
  if (!(p >= 0.f && p <= 1.f)) throw ShapeError("dropout: p = " + std::to_string(p) + " is not in [0, 1]");
  if (!training || p == 0.f) return x;
  if (p == 1.f) return rbe::mul(x, 0.f);
  Tensor xc = f32_contig(x, "dropout", "x");
  Tensor y = Tensor::empty(x.shape());
  dropout_apply(y.data<float>(), xc.data<float>(), xc.numel(), p, seed);
  return record("dropout", y, {x}, [p, seed](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(gc.shape());
    dropout_apply(dx.data<float>(), gc.data<float>(), gc.numel(), p, seed);
    return std::vector<Tensor>{dx};
  });
}

Tensor dropout(const Tensor& x, float p, bool training, Rng& rng) {
  if (!training || p == 0.f) return x;
  return dropout(x, p, training, rng.next_u64());
}

}  // namespace rbe::nn::F
