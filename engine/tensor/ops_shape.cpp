// Shape and indexing ops: views where the layout allows, copies otherwise.
// Data-movement ops (reshape copies, index_select, concat) keep the dtype.
#include <cstring>

#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

namespace detail {

std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape) {
  Shape ns(new_shape.size());
  if (old_shape.empty()) {  // a scalar: any all-ones shape
    for (auto& s : ns) s = 1;
    return ns;
  }
  int64_t numel = shape_numel(old_shape);
  if (numel == 0) {
    if (old_shape == new_shape) return old_strides;
    return contiguous_strides(new_shape);
  }
  // Walk old dims from the back in "chunks" that are contiguous among
  // themselves; each chunk must be covered exactly by a run of new dims.
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = int64_t(old_shape.size()) - 1; td >= 0; --td) {
    tensor_numel *= old_shape[td];
    if (td == 0 || (old_shape[td - 1] != 1 && old_strides[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        ns[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (td > 0) {
        chunk_base_stride = old_strides[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return ns;
}

Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw ShapeError(std::string(op) + ": only one -1 allowed in " + shape_str(shape));
      infer = int64_t(i);
    } else if (out[i] < 0) {
      throw ShapeError(std::string(op) + ": negative size in " + shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw ShapeError(std::string(op) + ": cannot reshape " + shape_str(from) + " to " + shape_str(shape));
    out[size_t(infer)] = numel / known;
  } else if (known != numel) {
    throw ShapeError(std::string(op) + ": cannot reshape " + shape_str(from) + " (" + std::to_string(numel) +
                     " elements) to " + shape_str(shape));
  }
  return out;
}

}  // namespace detail

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape target = infer_shape(shape, x.numel(), x.shape(), "reshape");
  if (auto st = view_strides(x.shape(), x.strides(), target)) return x.as_strided(target, *st, x.offset());
  Tensor c = contiguous_copy(x, x.dtype());
  return c.as_strided(target, contiguous_strides(target), c.offset());
}

Tensor view(const Tensor& x, const Shape& shape) {
  Shape target = infer_shape(shape, x.numel(), x.shape(), "view");
  auto st = view_strides(x.shape(), x.strides(), target);
  if (!st)
    throw ShapeError("view: tensor of shape " + shape_str(x.shape()) + " with strides " + shape_str(x.strides()) +
                     " cannot be viewed as " + shape_str(target) + "; use reshape");
  return x.as_strided(target, *st, x.offset());
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t a = normalize_dim(d0, x.dim(), "transpose"), b = normalize_dim(d1, x.dim(), "transpose");
  Shape s = x.shape(), st = x.strides();
  std::swap(s[size_t(a)], s[size_t(b)]);
  std::swap(st[size_t(a)], st[size_t(b)]);
  return x.as_strided(s, st, x.offset());
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  int64_t nd = x.dim();
  if (int64_t(dims.size()) != nd)
    throw ShapeError("permute: " + std::to_string(dims.size()) + " dims given for shape " + shape_str(x.shape()));
  Shape s(static_cast<size_t>(nd)), st(static_cast<size_t>(nd));
  std::vector<bool> seen(size_t(nd), false);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = normalize_dim(dims[size_t(i)], nd, "permute");
    if (seen[size_t(d)]) throw ShapeError("permute: dim " + std::to_string(d) + " repeated for shape " + shape_str(x.shape()));
    seen[size_t(d)] = true;
    s[size_t(i)] = x.shape()[size_t(d)];
    st[size_t(i)] = x.strides()[size_t(d)];
  }
  return x.as_strided(s, st, x.offset());
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape(), st = x.strides();
  // The stride of a size-1 dim is irrelevant; pick the contiguous value.
  int64_t stride = size_t(d) < s.size() ? s[size_t(d)] * st[size_t(d)] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return x.as_strided(s, st, x.offset());
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim(), "squeeze");
  if (x.shape()[size_t(d)] != 1)
    throw ShapeError("squeeze: dim " + std::to_string(dim) + " of shape " + shape_str(x.shape()) + " is not 1");
  Shape s = x.shape(), st = x.strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return x.as_strided(s, st, x.offset());
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  int64_t d = normalize_dim(dim, x.dim(), "slice");
  if (step <= 0) throw ShapeError("slice: step must be positive, got " + std::to_string(step) + " for shape " + shape_str(x.shape()));
  int64_t n = x.shape()[size_t(d)];
  auto clamp = [n](int64_t i) {
    if (i < 0) i += n;
    return std::min(std::max<int64_t>(i, 0), n);
  };
  int64_t b = clamp(start), e = clamp(end);
  int64_t len = e > b ? (e - b + step - 1) / step : 0;
  Shape s = x.shape(), st = x.strides();
  s[size_t(d)] = len;
  int64_t offset = x.offset() + (len > 0 ? b * st[size_t(d)] : 0);
  st[size_t(d)] *= step;
  return x.as_strided(s, st, offset);
}

Tensor index_select(const Tensor& x0, int64_t dim, const Tensor& index) {
  int64_t d = normalize_dim(dim, x0.dim(), "index_select");
  if (index.dtype() != DType::I32 || index.dim() != 1)
    throw ShapeError("index_select: index must be a 1-d I32 tensor, got " + std::string(dtype_name(index.dtype())) +
                     " of shape " + shape_str(index.shape()));
  Tensor x = x0.is_contiguous() ? x0 : contiguous_copy(x0, x0.dtype());
  std::vector<int32_t> idx = index.to_int_vector();
  int64_t n = x.shape()[size_t(d)];
  for (int32_t i : idx)
    if (i < 0 || i >= n)
      throw ShapeError("index_select: index " + std::to_string(i) + " out of range for dim " + std::to_string(d) +
                       " of size " + std::to_string(n) + " (shape " + shape_str(x.shape()) + ")");
  Shape os = x.shape();
  os[size_t(d)] = int64_t(idx.size());
  Tensor out = Tensor::empty(os, x.dtype());
  // x as [outer, n, inner]: copy one inner block per (outer, index).
  int64_t outer = prod(x.shape(), 0, size_t(d)), inner = prod(x.shape(), size_t(d) + 1, x.shape().size());
  size_t block = size_t(inner) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  int64_t m = int64_t(idx.size());
  parallel_range(outer * m, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)),
                 inner * outer * m >= kParallelMin ? 1 : INT64_MAX, [&](int64_t b, int64_t e) {
                   for (int64_t r = b; r < e; ++r) {
                     int64_t o = r / m, j = r % m;
                     std::memcpy(dst + size_t(r) * block, src + (size_t(o * n + idx[size_t(j)])) * block, block);
                   }
                 });
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw ShapeError("concat: no tensors given");
  const Shape& s0 = xs[0].shape();
  int64_t d = normalize_dim(dim, int64_t(s0.size()), "concat");
  DType dt = xs[0].dtype();
  int64_t total = 0;
  for (const Tensor& t : xs) {
    const Shape& s = t.shape();
    bool ok = s.size() == s0.size();
    for (size_t i = 0; ok && i < s.size(); ++i) ok = int64_t(i) == d || s[i] == s0[i];
    if (!ok)
      throw ShapeError(shapes_msg("concat", s0, s) + " differ outside dim " + std::to_string(d));
    total += s[size_t(d)];
    if (t.dtype() != dt) dt = DType::F32;  // mixed dtypes meet in f32
  }
  Shape os = s0;
  os[size_t(d)] = total;
  Tensor out = Tensor::empty(os, dt);
  int64_t at = 0;
  for (const Tensor& t : xs) {
    int64_t len = t.shape()[size_t(d)];
    Tensor dst = slice(out, d, at, at + len);
    copy_(dst, t);
    at += len;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw ShapeError("split: negative size in " + shape_str(sizes) + " for shape " + shape_str(x.shape()));
    total += s;
  }
  if (total != x.shape()[size_t(d)])
    throw ShapeError("split: sizes " + shape_str(sizes) + " do not sum to " + std::to_string(x.shape()[size_t(d)]) +
                     " (dim " + std::to_string(d) + " of shape " + shape_str(x.shape()) + ")");
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(slice(x, d, at, at + s));
    at += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t chunk_size, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim(), "split");
  if (chunk_size <= 0) throw ShapeError("split: chunk size must be positive, got " + std::to_string(chunk_size) + " for shape " +
                     shape_str(x.shape()));
  int64_t n = x.shape()[size_t(d)];
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < n; at += chunk_size) sizes.push_back(std::min(chunk_size, n - at));
  if (sizes.empty()) sizes.push_back(0);  // like PyTorch: one empty chunk
  return split(x, sizes, d);
}

}  // namespace rbe::ops
