// Broadcasting binary ops, comparisons, logic and where.
// One templated kernel: the strided iterator merges dims so that same-shape,
// scalar-broadcast and row-broadcast cases become simple (vectorizable) loops.
#include <cmath>

#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

namespace {

template <class Out, class Fn>
Tensor binary_map(const Tensor& a0, const Tensor& b0, const char* op, DType out_dtype, Fn fn) {
  Shape os = broadcast_shapes(a0.shape(), b0.shape(), op);
  Tensor a = as_f32(a0), b = as_f32(b0);
  Tensor out = Tensor::empty(os, out_dtype);
  Shape so = contiguous_strides(os), sa = broadcast_strides(a, os), sb = broadcast_strides(b, os);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  Out* po = static_cast<Out*>(out.raw_data());
  strided_for<3>(os, {&so, &sa, &sb},
                 [=](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                   Out* o = po + off[0];
                   const float* x = pa + off[1];
                   const float* y = pb + off[2];
                   const int64_t s1 = st[1], s2 = st[2];
                   if (s1 == 1 && s2 == 1) {
                     for (int64_t i = 0; i < n; ++i) o[i] = fn(x[i], y[i]);
                   } else if (s1 == 1 && s2 == 0) {
                     const float yv = *y;
                     for (int64_t i = 0; i < n; ++i) o[i] = fn(x[i], yv);
                   } else if (s1 == 0 && s2 == 1) {
                     const float xv = *x;
                     for (int64_t i = 0; i < n; ++i) o[i] = fn(xv, y[i]);
                   } else {
                     for (int64_t i = 0; i < n; ++i) o[i] = fn(x[i * s1], y[i * s2]);
                   }
                 });
  return out;
}

template <class Fn>
Tensor arith(const Tensor& a, const Tensor& b, const char* op, Fn fn) {
  return binary_map<float>(a, b, op, DType::F32, fn);
}

template <class Fn>
Tensor compare(const Tensor& a, const Tensor& b, const char* op, Fn fn) {
  return binary_map<uint8_t>(a, b, op, DType::Bool, [fn](float x, float y) -> uint8_t { return fn(x, y) ? 1 : 0; });
}

// NaN-propagating max/min like torch.maximum/minimum.
inline float max_nan(float x, float y) { return (x != x || y != y) ? NAN : (x > y ? x : y); }
inline float min_nan(float x, float y) { return (x != x || y != y) ? NAN : (x < y ? x : y); }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return arith(a, b, "add", [](float x, float y) { return x + y; }); }
Tensor sub(const Tensor& a, const Tensor& b) { return arith(a, b, "sub", [](float x, float y) { return x - y; }); }
Tensor mul(const Tensor& a, const Tensor& b) { return arith(a, b, "mul", [](float x, float y) { return x * y; }); }
Tensor div(const Tensor& a, const Tensor& b) { return arith(a, b, "div", [](float x, float y) { return x / y; }); }
Tensor pow(const Tensor& a, const Tensor& b) { return arith(a, b, "pow", [](float x, float y) { return std::pow(x, y); }); }
Tensor maximum(const Tensor& a, const Tensor& b) { return arith(a, b, "maximum", max_nan); }
Tensor minimum(const Tensor& a, const Tensor& b) { return arith(a, b, "minimum", min_nan); }

Tensor add(const Tensor& a, float b) { return unary_map<float>(a, DType::F32, [b](float x) { return x + b; }); }
Tensor mul(const Tensor& a, float b) { return unary_map<float>(a, DType::F32, [b](float x) { return x * b; }); }

Tensor pow(const Tensor& a, float e) {
  // Common exponents get exact, cheap (and vectorizable) forms.
  if (e == 1.f) return unary_map<float>(a, DType::F32, [](float x) { return x; });
  if (e == 2.f) return unary_map<float>(a, DType::F32, [](float x) { return x * x; });
  if (e == 3.f) return unary_map<float>(a, DType::F32, [](float x) { return x * x * x; });
  if (e == 0.5f) return unary_map<float>(a, DType::F32, [](float x) { return std::sqrt(x); });
  if (e == -1.f) return unary_map<float>(a, DType::F32, [](float x) { return 1.f / x; });
  return unary_map<float>(a, DType::F32, [e](float x) { return std::pow(x, e); }, kParallelMin / 4);
}

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", [](float x, float y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", [](float x, float y) { return x != y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", [](float x, float y) { return x > y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", [](float x, float y) { return x < y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", [](float x, float y) { return x >= y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", [](float x, float y) { return x <= y; }); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return compare(a, b, "logical_and", [](float x, float y) { return x != 0.f && y != 0.f; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return compare(a, b, "logical_or", [](float x, float y) { return x != 0.f || y != 0.f; });
}
Tensor logical_not(const Tensor& a) {
  return unary_map<uint8_t>(a, DType::Bool, [](float x) -> uint8_t { return x == 0.f ? 1 : 0; });
}

Tensor where(const Tensor& cond0, const Tensor& a0, const Tensor& b0) {
  Shape os = broadcast_shapes(broadcast_shapes(cond0.shape(), a0.shape(), "where"), b0.shape(), "where");
  Tensor cond = cond0.dtype() == DType::Bool ? cond0 : ne(cond0, Tensor::scalar(0.f));
  Tensor a = as_f32(a0), b = as_f32(b0);
  Tensor out = Tensor::empty(os);
  Shape so = contiguous_strides(os), sc = broadcast_strides(cond, os), sa = broadcast_strides(a, os),
        sb = broadcast_strides(b, os);
  const uint8_t* pc = cond.data<uint8_t>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  strided_for<4>(os, {&so, &sc, &sa, &sb},
                 [=](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
                   float* o = po + off[0];
                   const uint8_t* c = pc + off[1];
                   const float* x = pa + off[2];
                   const float* y = pb + off[3];
                   for (int64_t i = 0; i < n; ++i) o[i] = c[i * st[1]] ? x[i * st[2]] : y[i * st[3]];
                 });
  return out;
}

}  // namespace rbe::ops
