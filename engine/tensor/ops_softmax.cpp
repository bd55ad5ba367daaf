// softmax / log_softmax over any dim, with the max subtracted for stability.
// x is seen as [outer, n, inner]; the last-dim case (inner == 1) is the fast
// path, parallel over rows.
#include <cmath>
#include <limits>

#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

namespace {

template <bool Log>
void softmax_row(const float* x, float* y, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  double s = 0;
  if constexpr (Log) {
    for (int64_t i = 0; i < n; ++i) s += double(std::exp(x[i] - m));
    // (x - m) - log(s), not x - (m + log(s)): keeps precision when |m| is large.
    const float ls = float(std::log(s));
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - ls;
  } else {
    for (int64_t i = 0; i < n; ++i) {
      float e = std::exp(x[i] - m);
      y[i] = e;
      s += double(e);
    }
    const float inv = float(1.0 / s);
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

// Softmax along a strided dim for a block of w adjacent columns (inner > 1).
template <bool Log>
void softmax_cols(const float* x, float* y, int64_t n, int64_t inner, int64_t w) {
  constexpr int64_t kMax = 256;
  float m[kMax];
  double s[kMax];
  for (int64_t j = 0; j < w; ++j) { m[j] = -std::numeric_limits<float>::infinity(); s[j] = 0; }
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < w; ++j) m[j] = std::max(m[j], x[k * inner + j]);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < w; ++j) {
      float e = std::exp(x[k * inner + j] - m[j]);
      if constexpr (!Log) y[k * inner + j] = e;
      s[j] += double(e);
    }
  if constexpr (Log) {
    float ls[kMax];
    for (int64_t j = 0; j < w; ++j) ls[j] = float(std::log(s[j]));
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < w; ++j) y[k * inner + j] = (x[k * inner + j] - m[j]) - ls[j];
  } else {
    float inv[kMax];
    for (int64_t j = 0; j < w; ++j) inv[j] = float(1.0 / s[j]);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < w; ++j) y[k * inner + j] *= inv[j];
  }
}

template <bool Log>
Tensor softmax_impl(const Tensor& x0, int64_t dim, const char* op) {
  int64_t d = normalize_dim(dim, std::max<int64_t>(x0.dim(), 1), op);
  Tensor x = contiguous_f32(x0);
  Tensor out = Tensor::empty(x.shape());
  if (x.numel() == 0) return out;
  const Shape& s = x.shape();
  const int64_t outer = prod(s, 0, size_t(d));
  const int64_t n = s.empty() ? 1 : s[size_t(d)];
  const int64_t inner = prod(s, size_t(d) + 1, s.size());
  const float* px = x.data<float>();
  float* py = out.data<float>();
  const int64_t work = outer * n * inner;
  const int64_t min_par = work >= kParallelMin / 8 ? 2 : INT64_MAX;  // exp is expensive
  if (inner == 1) {
    parallel_range(outer, std::max<int64_t>(1, 4096 / n), min_par, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) softmax_row<Log>(px + r * n, py + r * n, n);
    });
    return out;
  }
  constexpr int64_t kChunk = 256;
  const int64_t nchunks = (inner + kChunk - 1) / kChunk;
  parallel_range(outer * nchunks, 1, min_par, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / nchunks, j0 = (t % nchunks) * kChunk;
      int64_t w = std::min(kChunk, inner - j0);
      int64_t base = o * n * inner + j0;
      softmax_cols<Log>(px + base, py + base, n, inner, w);
    }
  });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl<false>(x, dim, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl<true>(x, dim, "log_softmax"); }

}  // namespace rbe::ops
