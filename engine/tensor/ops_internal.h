#pragma once
// Shared machinery for the ops_*.cpp files (not part of the public API):
// dtype coercion, broadcast strides, a coalescing strided iterator that
// hands contiguous-ish inner runs to a kernel, and a parallel-for helper.
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensor/kernels/parallel_for_range.h"
#include "tensor/ops.h"

namespace rbe::ops::detail {

// Below this many elements a loop runs serially (thread start-up would cost more).
constexpr int64_t kParallelMin = 1 << 16;
// Elements per task for cheap elementwise loops.
constexpr int64_t kGrain = 1 << 14;

// A contiguous copy of x converted to dtype, through copy_ (strided runs,
// parallel for big tensors; faster than the per-element Tensor::clone/to).
inline Tensor contiguous_copy(const Tensor& x, DType dtype) {
  Tensor out = Tensor::empty(x.shape(), dtype);
  copy_(out, x);
  return out;
}
// x itself when already F32, else an F32 copy (F16/BF16/I32/Bool are computed in f32).
inline Tensor as_f32(const Tensor& x) { return x.dtype() == DType::F32 ? x : contiguous_copy(x, DType::F32); }
// Contiguous F32 (no copy when it already is).
inline Tensor contiguous_f32(const Tensor& x) {
  return x.dtype() == DType::F32 && x.is_contiguous() ? x : contiguous_copy(x, DType::F32);
}

// "op: shapes [2, 3] and [4]" for error messages.
inline std::string shapes_msg(const char* op, const Shape& a, const Shape& b) {
  return std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b);
}

// Strides of x seen as a tensor of the (broadcast) shape `out`: 0 on
// broadcast and new leading dims. Assumes the shapes are compatible.
inline Shape broadcast_strides(const Tensor& x, const Shape& out) {
  Shape st(out.size(), 0);
  const Shape& xs = x.shape();
  const Shape& xst = x.strides();
  size_t lead = out.size() - xs.size();
  for (size_t i = 0; i < xs.size(); ++i) st[lead + i] = xs[i] == 1 ? 0 : xst[i];
  return st;
}

// Product of sizes in [from, to).
inline int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

// Calls f(begin, end) over [0, n), in parallel when n >= min_parallel.
template <class F>
void parallel_range(int64_t n, int64_t grain, int64_t min_parallel, F&& f) {
  if (n <= 0) return;
  if (n < min_parallel) {
    f(int64_t(0), n);
    return;
  }
  kernels::parallel_for_range(n, grain, f);
}

// ---- strided N-operand iterator ----
// Operands share one shape; each has its own strides (in elements). Dims of
// size 1 are dropped and adjacent dims that are laid out back to back in every
// operand are merged, so a contiguous or row-broadcast case becomes one or two
// dims and the kernel sees long inner runs.
template <size_t N>
struct StridedPlan {
  std::vector<int64_t> shape;                    // outermost first
  std::array<std::vector<int64_t>, N> strides;
  int64_t numel = 0;
};

template <size_t N>
StridedPlan<N> make_plan(const Shape& shape, const std::array<const Shape*, N>& strides) {
  StridedPlan<N> p;
  p.numel = shape_numel(shape);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !p.shape.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = p.strides[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      p.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) p.strides[k].back() = (*strides[k])[d];
    } else {
      p.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) p.strides[k].push_back((*strides[k])[d]);
    }
  }
  if (p.shape.empty()) {  // scalar or all ones: one element
    p.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// Runs the flat element range [begin, end) of the plan: calls
// inner(offsets, len, inner_strides) for each run along the innermost dim.
template <size_t N, class F>
void run_plan_range(const StridedPlan<N>& p, int64_t begin, int64_t end, F& inner) {
  const int64_t nd = int64_t(p.shape.size());
  std::array<int64_t, N> off{};
  std::array<int64_t, N> ist{};
  int64_t idx_small[8];
  std::vector<int64_t> idx_big;
  int64_t* idx = idx_small;
  if (nd > 8) { idx_big.resize(size_t(nd)); idx = idx_big.data(); }
  int64_t rem = begin;
  for (int64_t d = nd - 1; d >= 0; --d) {
    idx[d] = rem % p.shape[d];
    rem /= p.shape[d];
    for (size_t k = 0; k < N; ++k) off[k] += idx[d] * p.strides[k][d];
  }
  for (size_t k = 0; k < N; ++k) ist[k] = p.strides[k][nd - 1];
  const int64_t inner_n = p.shape[nd - 1];
  int64_t pos = begin;
  while (pos < end) {
    int64_t len = std::min(inner_n - idx[nd - 1], end - pos);
    inner(off, len, ist);
    pos += len;
    idx[nd - 1] += len;
    for (size_t k = 0; k < N; ++k) off[k] += len * ist[k];
    if (idx[nd - 1] < inner_n) break;  // only possible when pos == end
    for (size_t k = 0; k < N; ++k) off[k] -= inner_n * ist[k];
    idx[nd - 1] = 0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k) off[k] += p.strides[k][d];
      if (++idx[d] < p.shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= p.shape[d] * p.strides[k][d];
      idx[d] = 0;
    }
  }
}

// Iterates all elements of `shape` for N operands; inner(off, len, st) must be
// safe to call concurrently on disjoint ranges.
template <size_t N, class F>
void strided_for(const Shape& shape, const std::array<const Shape*, N>& strides, F&& inner,
                 int64_t min_parallel = kParallelMin, int64_t grain = kGrain) {
  StridedPlan<N> p = make_plan<N>(shape, strides);
  if (p.numel == 0) return;
  // Loops that go parallel sooner (expensive per element) also get smaller chunks.
  grain = std::max<int64_t>(1024, std::min(grain, min_parallel / 4));
  parallel_range(p.numel, grain, min_parallel,
                 [&](int64_t b, int64_t e) { run_plan_range<N>(p, b, e, inner); });
}

// ---- unary map: out (contiguous F32 or Out) = f(x) ----
template <class Out, class Fn>
Tensor unary_map(const Tensor& x0, DType out_dtype, Fn fn, int64_t min_parallel = kParallelMin) {
  Tensor x = as_f32(x0);
  Tensor out = Tensor::empty(x.shape(), out_dtype);
  const float* px = x.data<float>();
  Out* po = static_cast<Out*>(out.raw_data());
  Shape so = contiguous_strides(x.shape());
  strided_for<2>(x.shape(), {&so, &x.strides()},
                 [=](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                   Out* o = po + off[0];
                   const float* a = px + off[1];
                   const int64_t sa = st[1];
                   if (sa == 1) {
                     for (int64_t i = 0; i < n; ++i) o[i] = fn(a[i]);
                   } else {
                     for (int64_t i = 0; i < n; ++i) o[i] = fn(a[i * sa]);
                   }
                 },
                 min_parallel);
  return out;
}

// View strides for reshaping (shape, strides) to new_shape without a copy, or
// nullopt when the layout does not allow it (PyTorch's computeStride).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape);

// Resolves one -1 in `shape` against numel; throws ShapeError naming `op`.
Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op);

}  // namespace rbe::ops::detail
