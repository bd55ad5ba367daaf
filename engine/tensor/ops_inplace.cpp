// In-place helpers for gradient accumulation and optimizers (no broadcasting).
#include <cstring>

#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

namespace {

// Per-dtype element access, chosen once per call (no switch per element).
struct F32T { using T = float; static float load(T v) { return v; } static T store(float f) { return f; } };
struct F16T { using T = uint16_t; static float load(T v) { return f16_to_f32(v); } static T store(float f) { return f32_to_f16(f); } };
struct BF16T { using T = uint16_t; static float load(T v) { return bf16_to_f32(v); } static T store(float f) { return f32_to_bf16(f); } };
struct I32T { using T = int32_t; static float load(T v) { return float(v); } static T store(float f) { return int32_t(f); } };
struct BoolT { using T = uint8_t; static float load(T v) { return float(v); } static T store(float f) { return f != 0.f; } };

template <class F>
void dispatch(DType dt, F&& f) {
  switch (dt) {
    case DType::F32: f(F32T{}); break;
    case DType::F16: f(F16T{}); break;
    case DType::BF16: f(BF16T{}); break;
    case DType::I32: f(I32T{}); break;
    case DType::Bool: f(BoolT{}); break;
  }
}

void check_same_shape(const Tensor& dst, const Tensor& src, const char* op) {
  if (dst.shape() != src.shape()) throw ShapeError(shapes_msg(op, dst.shape(), src.shape()) + " must be equal");
}

void check_f32(const Tensor& t, const char* op) {
  if (t.dtype() != DType::F32)
    throw ShapeError(std::string(op) + ": destination must be F32, got " + dtype_name(t.dtype()) + " of shape " +
                     shape_str(t.shape()));
}

// Copies src into dst elementwise when both have the same element size (a bit copy).
template <class T>
void raw_copy(const Tensor& dst, const Tensor& src) {
  T* pd = static_cast<T*>(dst.raw_data());
  const T* ps = static_cast<const T*>(src.raw_data());
  strided_for<2>(dst.shape(), {&dst.strides(), &src.strides()},
                 [=](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                   T* d = pd + off[0];
                   const T* s = ps + off[1];
                   if (st[0] == 1 && st[1] == 1) std::memcpy(d, s, size_t(n) * sizeof(T));
                   else for (int64_t i = 0; i < n; ++i) d[i * st[0]] = s[i * st[1]];
                 });
}

}  // namespace

void copy_(Tensor& dst, const Tensor& src) {
  check_same_shape(dst, src, "copy_");
  if (dst.dtype() == src.dtype()) {
    switch (dtype_size(dst.dtype())) {
      case 4: raw_copy<uint32_t>(dst, src); return;
      case 2: raw_copy<uint16_t>(dst, src); return;
      default: raw_copy<uint8_t>(dst, src); return;
    }
  }
  if (dst.is_contiguous() && src.is_contiguous() &&
      convert_bulk(src.raw_data(), src.dtype(), dst.raw_data(), dst.dtype(), dst.numel()))
    return;  // a weight loaded into an f16 model, say
  dispatch(dst.dtype(), [&](auto dtag) {
    dispatch(src.dtype(), [&](auto stag) {
      using D = decltype(dtag);
      using S = decltype(stag);
      auto* pd = static_cast<typename D::T*>(dst.raw_data());
      const auto* ps = static_cast<const typename S::T*>(src.raw_data());
      strided_for<2>(dst.shape(), {&dst.strides(), &src.strides()},
                     [=](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                       for (int64_t i = 0; i < n; ++i)
                         pd[off[0] + i * st[0]] = D::store(S::load(ps[off[1] + i * st[1]]));
                     });
    });
  });
}

void add_(Tensor& dst, const Tensor& src0, float alpha) {
  check_same_shape(dst, src0, "add_");
  check_f32(dst, "add_");
  Tensor src = as_f32(src0);
  float* pd = dst.data<float>();
  const float* ps = src.data<float>();
  strided_for<2>(dst.shape(), {&dst.strides(), &src.strides()},
                 [=](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                   float* d = pd + off[0];
                   const float* s = ps + off[1];
                   if (st[0] == 1 && st[1] == 1) {
                     if (alpha == 1.f) for (int64_t i = 0; i < n; ++i) d[i] += s[i];
                     else for (int64_t i = 0; i < n; ++i) d[i] += alpha * s[i];
                   } else {
                     for (int64_t i = 0; i < n; ++i) d[i * st[0]] += alpha * s[i * st[1]];
                   }
                 });
}

void mul_(Tensor& dst, float s) {
  check_f32(dst, "mul_");
  float* pd = dst.data<float>();
  strided_for<1>(dst.shape(), {&dst.strides()},
                 [=](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
                   float* d = pd + off[0];
                   if (st[0] == 1) for (int64_t i = 0; i < n; ++i) d[i] *= s;
                   else for (int64_t i = 0; i < n; ++i) d[i * st[0]] *= s;
                 });
}

void fill_(Tensor& dst, float value) {
  dispatch(dst.dtype(), [&](auto tag) {
    using D = decltype(tag);
    auto* pd = static_cast<typename D::T*>(dst.raw_data());
    const typename D::T v = D::store(value);
    strided_for<1>(dst.shape(), {&dst.strides()},
                   [=](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
                     auto* d = pd + off[0];
                     if (st[0] == 1) for (int64_t i = 0; i < n; ++i) d[i] = v;
                     else for (int64_t i = 0; i < n; ++i) d[i * st[0]] = v;
                   });
  });
}

}  // namespace rbe::ops
