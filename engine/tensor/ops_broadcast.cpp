// Broadcasting: shape rules, expand (a stride-0 view), and sum_to (its adjoint).
#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    // i counts from the last dim
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(shapes_msg(op, a, b) + " cannot be broadcast together");
    out[n - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  const Shape& xs = x.shape();
  auto fail = [&] {
    return ShapeError("expand: cannot expand shape " + shape_str(xs) + " to " + shape_str(shape));
  };
  if (shape.size() < xs.size()) throw fail();
  size_t lead = shape.size() - xs.size();
  Shape out_shape(shape.size()), out_strides(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw fail();  // -1 is only allowed on existing dims
      out_shape[i] = shape[i];
      continue;
    }
    int64_t have = xs[i - lead];
    int64_t want = shape[i] == -1 ? have : shape[i];
    if (want == have) {
      out_shape[i] = have;
      out_strides[i] = x.strides()[i - lead];
    } else if (have == 1 && want >= 0) {
      out_shape[i] = want;  // stride stays 0
    } else {
      throw fail();
    }
  }
  return x.as_strided(out_shape, out_strides, x.offset());
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  const Shape& xs = x.shape();
  if (xs == shape) return x;
  bool ok = shape.size() <= xs.size();
  if (ok) {
    try {
      ok = broadcast_shapes(shape, xs, "sum_to") == xs;
    } catch (const ShapeError&) {
      ok = false;
    }
  }
  if (!ok) throw ShapeError("sum_to: shape " + shape_str(xs) + " cannot be summed to " + shape_str(shape));

  // Group x's dims into runs that are all reduced or all kept (size-1 dims
  // are neutral), then reduce each reduced run of the merged, contiguous view.
  size_t lead = xs.size() - shape.size();
  Shape merged;               // sizes of the runs
  std::vector<bool> reduce;   // whether each run is summed
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] == 1) continue;
    bool r = i < lead || shape[i - lead] == 1;
    if (!merged.empty() && reduce.back() == r) {
      merged.back() *= xs[i];
    } else {
      merged.push_back(xs[i]);
      reduce.push_back(r);
    }
  }
  Tensor t = reshape(contiguous_f32(x), merged.empty() ? Shape{1} : merged);
  // Reduce from the last run so earlier dim indices stay valid.
  for (int64_t d = int64_t(merged.size()) - 1; d >= 0; --d)
    if (reduce[size_t(d)]) t = sum(t, d, /*keepdim=*/false);
  return reshape(t, shape);
}

}  // namespace rbe::ops
