#pragma once
// Helpers shared by the functional_*.cpp files (not part of the public API):
// gradient reduction for broadcasting, and fused elementwise backward loops.
#include <algorithm>
#include <cstdint>

#include "autodiff/functional.h"
#include "tensor/kernels/parallel_for_range.h"

namespace rbe::detail {

// Gradient of a broadcast input: sum g back to shape, skipped when shapes match
// (the common training case).
inline Tensor reduce_to(const Tensor& g, const Shape& shape) {
  return g.shape() == shape ? g : ops::sum_to(g, shape);
}

inline Tensor zero_scalar() { return Tensor::scalar(0.f); }

// Runs f(begin, end) over [0, n), in parallel for large n.
template <class F>
void parallel_chunks(int64_t n, F&& f) {
  constexpr int64_t kMinParallel = 1 << 15;
  constexpr int64_t kGrain = 1 << 13;
  if (n < kMinParallel) {
    f(int64_t(0), n);
    return;
  }
  kernels::parallel_for_range(n, kGrain, f);
}

// out[i] = f(x[i], g[i]) for same-shaped x and g; contiguous f32 result shaped like x.
template <class F>
Tensor map_grad(const Tensor& x, const Tensor& g, F f) {
  Tensor xc = x.contiguous().to(DType::F32);
  Tensor gc = g.contiguous().to(DType::F32);
  Tensor out = Tensor::empty(x.shape());
  const float* px = xc.data<float>();
  const float* pg = gc.data<float>();
  float* po = out.data<float>();
  parallel_chunks(out.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) po[i] = f(px[i], pg[i]);
  });
  return out;
}

// out[i] = f(x[i], y[i], g[i]) for same-shaped x, y (usually the op's output) and g.
template <class F>
Tensor map_grad3(const Tensor& x, const Tensor& y, const Tensor& g, F f) {
  Tensor xc = x.contiguous().to(DType::F32);
  Tensor yc = y.contiguous().to(DType::F32);
  Tensor gc = g.contiguous().to(DType::F32);
  Tensor out = Tensor::empty(x.shape());
  const float* px = xc.data<float>();
  const float* py = yc.data<float>();
  const float* pg = gc.data<float>();
  float* po = out.data<float>();
  parallel_chunks(out.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) po[i] = f(px[i], py[i], pg[i]);
  });
  return out;
}

// The gradient of a reduction over dim, broadcast back to the input's shape.
// g: the reduced shape (dim kept or dropped, per keepdim).
inline Tensor expand_reduced(const Tensor& g, const Shape& in_shape, int64_t dim, bool keepdim) {
  Tensor gk = keepdim ? g : ops::unsqueeze(g, dim);
  return ops::expand(gk, in_shape);
}

// Splits shape around dim: [outer, n, inner] element counts.
struct DimSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
inline DimSplit split_at(const Shape& s, int64_t dim) {
  DimSplit d;
  for (int64_t i = 0; i < dim; ++i) d.outer *= s[i];
  d.n = s.empty() ? 1 : s[dim];
  for (size_t i = dim + 1; i < s.size(); ++i) d.inner *= s[i];
  return d;
}

}  // namespace rbe::detail
