#pragma once
// Internal helpers for the fused nn kernels: vectorizable exp/tanh, lane-split
// reductions (GCC vectorizes fixed-lane loops without -ffast-math), argument
// checks and a parallel-for with a serial path for small work.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#ifdef __F16C__
#include <immintrin.h>
#endif

#include "nn/exp_poly.h"
#include "tensor/dtype.h"
#include "tensor/kernels/parallel_for_range.h"
#include "tensor/tensor.h"

namespace rbe::nn::detail {

// 8-float SIMD vectors through GCC/Clang vector extensions: portable, and
// they vectorize where the plain scalar loop would not (the clamp below is not
// if-converted under the default -ftrapping-math).
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

inline v8f load8(const float* p) { v8f v; std::memcpy(&v, p, sizeof v); return v; }
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
// IEEE half storage (an f16 KV cache), converted in registers (F16C where the
// build has it; the base x86-64-v3 build does).
inline v8f load8(const uint16_t* p) {
#ifdef __F16C__
  return (v8f)_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#else
  v8f v;
  for (int i = 0; i < 8; ++i) v[i] = f16_to_f32(p[i]);
  return v;
#endif
}
inline void store8(uint16_t* p, v8f v) {
#ifdef __F16C__
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph((__m256)v, _MM_FROUND_TO_NEAREST_INT));
#else
  for (int i = 0; i < 8; ++i) p[i] = f32_to_f16(v[i]);
#endif
}
inline float to_f32(float x) { return x; }
inline float to_f32(uint16_t h) { return f16_to_f32(h); }
inline void from_f32(float x, float* p) { *p = x; }
inline void from_f32(float x, uint16_t* p) { *p = f32_to_f16(x); }
inline v8f splat8(float a) { return v8f{} + a; }
inline float hsum8(v8f v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

// exp(x), about 1 ulp (exp_poly.h).
inline v8f exp8(v8f x) { return exp_cephes<v8f, v8i>(x); }

// tanh through exp: 1 - 2 / (exp(2u) + 1); saturates cleanly at +-1.
inline v8f tanh8(v8f u) { return 1.f - 2.f / (exp8(2.f * u) + 1.f); }

inline float fast_exp(float x) { return exp8(splat8(x))[0]; }
inline float fast_tanh(float u) { return tanh8(splat8(u))[0]; }

// Sum of n floats in double, 8 independent lanes.
inline double sum_f64(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += double(x[i + j]);
  double s = 0;
  for (; i < n; ++i) s += double(x[i]);
  for (double a : acc) s += a;
  return s;
}

// Sum of (x - m)^2 in double, 8 lanes.
inline double sum_sq_dev_f64(const float* x, int64_t n, double m) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) { double d = double(x[i + j]) - m; acc[j] += d * d; }
  double s = 0;
  for (; i < n; ++i) { double d = double(x[i]) - m; s += d * d; }
  for (double a : acc) s += a;
  return s;
}

// Dot product of n values, 8 float lanes (order fixed, so deterministic); b
// in f32 or f16 storage (an f16 KV cache).
template <class T>
inline float dot_f32(const float* a, const T* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * to_f32(b[i + j]);
  float s = 0;
  for (; i < n; ++i) s += a[i] * to_f32(b[i]);
  for (float v : acc) s += v;
  return s;
}

inline float max_f32(const float* x, int64_t n) {
  v8f acc = splat8(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8f v = load8(x + i);
    acc = v > acc ? v : acc;
  }
  float m = -INFINITY;
  for (; i < n; ++i) m = std::max(m, x[i]);
  for (int j = 0; j < 8; ++j) m = std::max(m, acc[j]);
  return m;
}

// y[i] = exp(x[i] - shift); returns the sum.
inline double exp_shift_sum(const float* x, float* y, int64_t n, float shift) {
  v8f acc = splat8(0.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8f e = exp8(load8(x + i) - shift);
    store8(y + i, e);
    acc += e;
  }
  double s = hsum8(acc);
  for (; i < n; ++i) { const float e = fast_exp(x[i] - shift); y[i] = e; s += e; }
  return s;
}

// Sum of exp(x[i] - shift) in double (each exponential in float, about 1
// ulp): a long row's log-sum-exp where it must hold to double precision.
inline double exp_shift_sum_f64(const float* x, int64_t n, float shift) {
  typedef double v8d __attribute__((vector_size(64)));
  v8d acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc += __builtin_convertvector(exp8(load8(x + i) - shift), v8d);
  double s = 0;
  for (; i < n; ++i) s += double(fast_exp(x[i] - shift));
  for (int j = 0; j < 8; ++j) s += acc[j];
  return s;
}

// y[i] = exp(y[i] - shift[...]) in place over n values.
inline void exp_shift_inplace(float* y, int64_t n, float shift) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(y + i, exp8(load8(y + i) - shift));
  for (; i < n; ++i) y[i] = fast_exp(y[i] - shift);
}

// Runs f(begin, end) over [0, n) in parallel when n * cost_per_item is large
// enough to pay for the threads, else serially.
template <class F>
inline void parallel_range(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain) { f(int64_t(0), n); return; }
  kernels::parallel_for_range(n, grain, f);
}

// Rows per task so that a task touches about 32K floats.
inline int64_t row_grain(int64_t row_len) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, row_len)); }

inline void fill_zero(float* p, int64_t n) {
  parallel_range(n, 1 << 18, [&](int64_t a, int64_t b) { std::memset(p + a, 0, size_t(b - a) * sizeof(float)); });
}

// Checks and returns an f32 contiguous version of t (converting F16/BF16).
inline Tensor f32_contig(const Tensor& t, const char* op, const char* name) {
  if (!t.defined()) throw ShapeError(std::string(op) + ": " + name + " is undefined");
  if (t.dtype() == DType::I32 || t.dtype() == DType::Bool)
    throw ShapeError(std::string(op) + ": " + name + " must be floating point, got " + dtype_name(t.dtype()));
  return t.to(DType::F32).contiguous();
}

// t itself when it is F32 and contiguous, else f32_contig(t) kept in tmp.
// At inference the parameters were last touched a forward pass (MBs of
// weights) ago: a copied handle is a cold reference count written twice
// (docs/performance.md, "layer norms without copied handles").
inline const Tensor& f32_contig_ref(const Tensor& t, Tensor& tmp, const char* op, const char* name) {
  if (t.defined() && t.dtype() == DType::F32 && t.is_contiguous()) return t;
  return tmp = f32_contig(t, op, name);
}

inline bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

}  // namespace rbe::nn::detail
