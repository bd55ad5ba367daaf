// Reductions over all elements or one dim. Sums accumulate in double (var/std
// use two passes), so results are accurate and do not depend on thread count.
// The input is made contiguous and seen as [outer, n, inner] (n = reduced dim).
#include <tbb/parallel_reduce.h>

#include <cmath>
#include <limits>

#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

namespace {

// Sum of p[0..n) in double, with independent lanes so the loop vectorizes.
inline double row_sum(const float* p, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += double(p[i + j]);
  double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += double(p[i]);
  return s;
}

// Sum of (p[i] - m)^2 in double.
inline double row_sq_dev(const float* p, int64_t n, double m) {
  double acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) {
      double d = double(p[i + j]) - m;
      acc[j] += d * d;
    }
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (; i < n; ++i) {
    double d = double(p[i]) - m;
    s += d * d;
  }
  return s;
}

struct Layout {
  int64_t outer, n, inner;
  Shape out_shape;  // with keepdim applied
};

Layout layout_for(const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  int64_t d = normalize_dim(dim, x.dim(), op);
  const Shape& s = x.shape();
  Layout l{prod(s, 0, size_t(d)), s[size_t(d)], prod(s, size_t(d) + 1, s.size()), s};
  if (keepdim) l.out_shape[size_t(d)] = 1;
  else l.out_shape.erase(l.out_shape.begin() + d);
  return l;
}

// Runs f(o, j0, j1) over all outer rows o and inner column chunks [j0, j1),
// in parallel when the work is large. Each call owns its output cells.
template <class F>
void for_outer_inner(const Layout& l, F&& f) {
  const int64_t chunk = l.inner == 1 ? 1 : 256;
  const int64_t nchunks = (l.inner + chunk - 1) / chunk;
  const int64_t tasks = l.outer * nchunks;
  const int64_t work = l.outer * l.n * l.inner;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, l.n * std::min(chunk, l.inner)));
  parallel_range(tasks, grain, work >= kParallelMin ? 2 : INT64_MAX, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / nchunks, c = t % nchunks;
      f(o, c * chunk, std::min(l.inner, (c + 1) * chunk));
    }
  });
}

// Sum over dim of contiguous f32 x, times `scale`, into a new f32 tensor.
Tensor sum_dim_scaled(const Tensor& x0, int64_t dim, bool keepdim, double scale, const char* op) {
  Layout l = layout_for(x0, dim, keepdim, op);
  Tensor x = contiguous_f32(x0);
  Tensor out = Tensor::empty(l.out_shape);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for_outer_inner(l, [&](int64_t o, int64_t j0, int64_t j1) {
    const float* base = px + o * l.n * l.inner;
    if (l.inner == 1) {
      po[o] = float(row_sum(base, l.n) * scale);
      return;
    }
    double acc[256];
    const int64_t w = j1 - j0;
    for (int64_t j = 0; j < w; ++j) acc[j] = 0;
    for (int64_t k = 0; k < l.n; ++k) {
      const float* r = base + k * l.inner + j0;
      for (int64_t j = 0; j < w; ++j) acc[j] += double(r[j]);
    }
    for (int64_t j = 0; j < w; ++j) po[o * l.inner + j0 + j] = float(acc[j] * scale);
  });
  return out;
}

// Sum over all elements in double; deterministic split.
double total_sum(const float* p, int64_t n) {
  if (n < kParallelMin) return row_sum(p, n);
  return tbb::parallel_deterministic_reduce(
      tbb::blocked_range<int64_t>(0, n, kGrain), 0.0,
      [&](const tbb::blocked_range<int64_t>& r, double s) { return s + row_sum(p + r.begin(), r.end() - r.begin()); },
      [](double a, double b) { return a + b; });
}

double total_sq_dev(const float* p, int64_t n, double m) {
  if (n < kParallelMin) return row_sq_dev(p, n, m);
  return tbb::parallel_deterministic_reduce(
      tbb::blocked_range<int64_t>(0, n, kGrain), 0.0,
      [&](const tbb::blocked_range<int64_t>& r, double s) { return s + row_sq_dev(p + r.begin(), r.end() - r.begin(), m); },
      [](double a, double b) { return a + b; });
}

double var_from(double sq, int64_t n, bool unbiased) {
  int64_t denom = unbiased ? n - 1 : n;
  if (denom <= 0) return std::numeric_limits<double>::quiet_NaN();
  return sq / double(denom);
}

// Variance over dim (two-pass), optionally square-rooted.
Tensor var_dim(const Tensor& x0, int64_t dim, bool unbiased, bool keepdim, bool take_sqrt, const char* op) {
  Layout l = layout_for(x0, dim, keepdim, op);
  Tensor x = contiguous_f32(x0);
  Tensor out = Tensor::empty(l.out_shape);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  auto finish = [&](double sq) {
    double v = var_from(sq, l.n, unbiased);
    return float(take_sqrt ? std::sqrt(v) : v);
  };
  for_outer_inner(l, [&](int64_t o, int64_t j0, int64_t j1) {
    const float* base = px + o * l.n * l.inner;
    if (l.inner == 1) {
      double m = l.n ? row_sum(base, l.n) / double(l.n) : 0.0;
      po[o] = finish(row_sq_dev(base, l.n, m));
      return;
    }
    double mean[256], sq[256];
    const int64_t w = j1 - j0;
    for (int64_t j = 0; j < w; ++j) mean[j] = sq[j] = 0;
    for (int64_t k = 0; k < l.n; ++k) {
      const float* r = base + k * l.inner + j0;
      for (int64_t j = 0; j < w; ++j) mean[j] += double(r[j]);
    }
    for (int64_t j = 0; j < w; ++j) mean[j] /= double(std::max<int64_t>(l.n, 1));
    for (int64_t k = 0; k < l.n; ++k) {
      const float* r = base + k * l.inner + j0;
      for (int64_t j = 0; j < w; ++j) {
        double dv = double(r[j]) - mean[j];
        sq[j] += dv * dv;
      }
    }
    for (int64_t j = 0; j < w; ++j) po[o * l.inner + j0 + j] = finish(sq[j]);
  });
  return out;
}

// "Is v a better pick than best?" with NaN winning (first NaN kept), like PyTorch.
template <bool IsMax>
inline bool better(float v, float best) {
  if (best != best) return false;
  if (v != v) return true;
  return IsMax ? v > best : v < best;
}

// min/max (values) and argmin/argmax (I32 indices) over dim; first occurrence wins ties.
template <bool IsMax>
void extreme_dim(const Tensor& x0, int64_t dim, bool keepdim, const char* op, Tensor* values, Tensor* indices) {
  Layout l = layout_for(x0, dim, keepdim, op);
  if (l.n == 0) throw ShapeError(std::string(op) + ": reducing an empty dim of shape " + shape_str(x0.shape()));
  Tensor x = contiguous_f32(x0);
  Tensor vals = Tensor::empty(l.out_shape);
  Tensor idxs = Tensor::empty(l.out_shape, DType::I32);
  const float* px = x.data<float>();
  float* pv = vals.data<float>();
  int32_t* pi = idxs.data<int32_t>();
  for_outer_inner(l, [&](int64_t o, int64_t j0, int64_t j1) {
    const float* base = px + o * l.n * l.inner;
    for (int64_t j = j0; j < j1; ++j) {
      float best = base[j];
      int64_t bi = 0;
      for (int64_t k = 1; k < l.n; ++k) {
        float v = base[k * l.inner + j];
        if (better<IsMax>(v, best)) { best = v; bi = k; }
      }
      pv[o * l.inner + j] = best;
      pi[o * l.inner + j] = int32_t(bi);
    }
  });
  if (values) *values = vals;
  if (indices) *indices = idxs;
}

template <bool IsMax>
void extreme_all(const Tensor& x0, const char* op, float* value, int64_t* index) {
  if (x0.numel() == 0) throw ShapeError(std::string(op) + ": empty tensor of shape " + shape_str(x0.shape()));
  Tensor x = contiguous_f32(x0);
  const float* p = x.data<float>();
  float best = p[0];
  int64_t bi = 0;
  for (int64_t i = 1, n = x.numel(); i < n; ++i)
    if (better<IsMax>(p[i], best)) { best = p[i]; bi = i; }
  if (value) *value = best;
  if (index) *index = bi;
}

Tensor flat(const Tensor& x) { return reshape(contiguous_f32(x), {x.numel()}); }

}  // namespace

// ---- sum / mean ----

Tensor sum(const Tensor& x0) {
  Tensor x = contiguous_f32(x0);
  return Tensor::scalar(float(total_sum(x.data<float>(), x.numel())));
}

Tensor sum(const Tensor& x, int64_t dim, bool keepdim) { return sum_dim_scaled(x, dim, keepdim, 1.0, "sum"); }

Tensor mean(const Tensor& x0) {
  Tensor x = contiguous_f32(x0);
  int64_t n = x.numel();
  return Tensor::scalar(n ? float(total_sum(x.data<float>(), n) / double(n)) : NAN);
}

Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  int64_t n = x.shape()[size_t(normalize_dim(dim, x.dim(), "mean"))];
  return sum_dim_scaled(x, dim, keepdim, n ? 1.0 / double(n) : NAN, "mean");
}

// ---- var / std ----

Tensor var(const Tensor& x0, bool unbiased) {
  Tensor x = contiguous_f32(x0);
  const float* p = x.data<float>();
  int64_t n = x.numel();
  double m = n ? total_sum(p, n) / double(n) : 0.0;
  return Tensor::scalar(float(var_from(total_sq_dev(p, n, m), n, unbiased)));
}

Tensor var(const Tensor& x, int64_t dim, bool unbiased, bool keepdim) {
  return var_dim(x, dim, unbiased, keepdim, false, "var");
}

Tensor std(const Tensor& x, bool unbiased) { return sqrt(var(x, unbiased)); }

Tensor std(const Tensor& x, int64_t dim, bool unbiased, bool keepdim) {
  return var_dim(x, dim, unbiased, keepdim, true, "std");
}

// ---- min / max / argmin / argmax ----

Tensor min(const Tensor& x) { float v; extreme_all<false>(x, "min", &v, nullptr); return Tensor::scalar(v); }
Tensor max(const Tensor& x) { float v; extreme_all<true>(x, "max", &v, nullptr); return Tensor::scalar(v); }

Tensor argmin(const Tensor& x) {
  int64_t i;
  extreme_all<false>(x, "argmin", nullptr, &i);
  return Tensor::from_vector(std::vector<int32_t>{int32_t(i)}, {});
}

Tensor argmax(const Tensor& x) {
  int64_t i;
  extreme_all<true>(x, "argmax", nullptr, &i);
  return Tensor::from_vector(std::vector<int32_t>{int32_t(i)}, {});
}

Tensor min(const Tensor& x, int64_t dim, bool keepdim) { Tensor v; extreme_dim<false>(x, dim, keepdim, "min", &v, nullptr); return v; }
Tensor max(const Tensor& x, int64_t dim, bool keepdim) { Tensor v; extreme_dim<true>(x, dim, keepdim, "max", &v, nullptr); return v; }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { Tensor i; extreme_dim<false>(x, dim, keepdim, "argmin", nullptr, &i); return i; }
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { Tensor i; extreme_dim<true>(x, dim, keepdim, "argmax", nullptr, &i); return i; }

// ---- norm ----

Tensor norm(const Tensor& x, float p) {
  Tensor f = flat(x);
  return reshape(norm(f, p, 0, false), {});
}

Tensor norm(const Tensor& x, float p, int64_t dim, bool keepdim) {
  if (p < 0.f || p != p) throw ShapeError("norm: p must be >= 0, got " + std::to_string(p) + " for shape " + shape_str(x.shape()));
  if (std::isinf(p)) return max(abs(x), dim, keepdim);
  if (p == 0.f) return sum(ne(x, Tensor::scalar(0.f)), dim, keepdim);  // count of nonzeros
  if (p == 1.f) return sum(abs(x), dim, keepdim);
  if (p == 2.f) {
    Tensor x2 = x.dtype() == DType::F32 ? x : x.to(DType::F32);
    return sqrt(sum_dim_scaled(mul(x2, x2), dim, keepdim, 1.0, "norm"));
  }
  return pow(sum(pow(abs(x), p), dim, keepdim), 1.f / p);
}

}  // namespace rbe::ops
