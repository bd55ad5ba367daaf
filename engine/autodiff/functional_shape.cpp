// Differentiable shape and indexing ops. Views keep sharing storage with their
// base; their gradients are reshaped/permuted/scattered back to the base's shape.
#include <algorithm>

#include "autodiff/functional.h"
#include "autodiff/functional_util.h"

namespace rbe {

namespace {

// The gradient of a view whose backward is "put it back in the input's shape".
Tensor record_reshape_like(const char* name, const Tensor& x, Tensor out) {
  if (!needs_grad({&x})) return out;
  Shape s = x.shape();
  return record(name, out, {x}, [s](const Tensor& g) { return std::vector<Tensor>{ops::reshape(g, s)}; });
}

// zeros(shape) with g written into [start:end:step] along dim.
Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor z = Tensor::zeros(shape);
  Tensor v = ops::slice(z, dim, start, end, step);  // shares z's storage
  ops::copy_(v, g);
  return z;
}

Tensor record_slice(Tensor out, const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (!needs_grad({&x})) return out;
  Shape s = x.shape();
  return record("slice", out, {x}, [s, dim, start, end, step](const Tensor& g) {
    return std::vector<Tensor>{slice_backward(g, s, dim, start, end, step)};
  });
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) { return record_reshape_like("reshape", x, ops::reshape(x, shape)); }
Tensor view(const Tensor& x, const Shape& shape) { return record_reshape_like("view", x, ops::view(x, shape)); }
Tensor unsqueeze(const Tensor& x, int64_t dim) { return record_reshape_like("unsqueeze", x, ops::unsqueeze(x, dim)); }
Tensor squeeze(const Tensor& x, int64_t dim) { return record_reshape_like("squeeze", x, ops::squeeze(x, dim)); }

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  Tensor out = ops::transpose(x, d0, d1);
  if (!needs_grad({&x})) return out;
  return record("transpose", out, {x}, [d0, d1](const Tensor& g) {
    return std::vector<Tensor>{ops::transpose(g, d0, d1)};
  });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor out = ops::permute(x, dims);
  if (!needs_grad({&x})) return out;
  // out dim i is x dim dims[i]; the inverse sends it back.
  std::vector<int64_t> inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inv[normalize_dim(dims[i], x.dim(), "permute")] = int64_t(i);
  return record("permute", out, {x}, [inv](const Tensor& g) { return std::vector<Tensor>{ops::permute(g, inv)}; });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  Tensor out = ops::expand(x, shape);
  if (!needs_grad({&x})) return out;
  Shape s = x.shape();
  return record("expand", out, {x}, [s](const Tensor& g) { return std::vector<Tensor>{detail::reduce_to(g, s)}; });
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = x.contiguous();
  if (!needs_grad({&x})) return out;
  return record("contiguous", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  return record_slice(ops::slice(x, dim, start, end, step), x, dim, start, end, step);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor out = ops::index_select(x, dim, index);
  if (!needs_grad({&x})) return out;
  int64_t d = normalize_dim(dim, x.dim(), "index_select");
  Shape s = x.shape();
  Tensor idx = index.contiguous().to(DType::I32);
  return record("index_select", out, {x}, [s, d, idx](const Tensor& g) {
    // Scatter-add: gx[o, idx[i], in] += g[o, i, in] (repeated indices accumulate).
    Tensor gx = Tensor::zeros(s);
    Tensor gc = g.contiguous();
    detail::DimSplit ds = detail::split_at(s, d);
    const int64_t count = idx.numel();
    const int32_t* pi = idx.data<int32_t>();
    const float* pg = gc.data<float>();
    float* px = gx.data<float>();
    // Parallel over the inner positions (no two tasks touch the same element).
    auto run = [&](int64_t o, int64_t b, int64_t e) {
      for (int64_t i = 0; i < count; ++i) {
        int64_t j = pi[i] < 0 ? pi[i] + ds.n : pi[i];
        const float* src = pg + (o * count + i) * ds.inner;
        float* dst = px + (o * ds.n + j) * ds.inner;
        for (int64_t t = b; t < e; ++t) dst[t] += src[t];
      }
    };
    if (ds.outer == 1 && count * ds.inner >= (1 << 16) && ds.inner >= 64) {
      // Embedding-style gradient ([V, C] from [N, C]): split the C columns.
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, ds.inner, 32),
                        [&](const tbb::blocked_range<int64_t>& r) { run(0, r.begin(), r.end()); });
    } else {
      for (int64_t o = 0; o < ds.outer; ++o) run(o, 0, ds.inner);
    }
    return std::vector<Tensor>{gx};
  });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  Tensor out = ops::concat(xs, dim);
  if (!needs_grad(xs)) return out;
  int64_t d = normalize_dim(dim, out.dim(), "concat");
  std::vector<int64_t> sizes;
  std::vector<bool> wants;
  for (const Tensor& x : xs) {
    sizes.push_back(x.size(d));
    wants.push_back(x.requires_grad());
  }
  return record("concat", out, xs, [d, sizes, wants](const Tensor& g) {
    std::vector<Tensor> grads(sizes.size());
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (wants[i]) grads[i] = ops::slice(g, d, off, off + sizes[i]);
      off += sizes[i];
    }
    return grads;
  });
}

namespace {
// Each piece of a split is its own slice op, so each output has its own node.
std::vector<Tensor> record_split(std::vector<Tensor> pieces, const Tensor& x, int64_t dim) {
  if (!needs_grad({&x})) return pieces;
  int64_t d = normalize_dim(dim, x.dim(), "split");
  int64_t off = 0;
  for (Tensor& p : pieces) {
    int64_t n = p.size(d);
    p = record_slice(p, x, d, off, off + n, 1);
    off += n;
  }
  return pieces;
}
}  // namespace

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  return record_split(ops::split(x, sizes, dim), x, dim);
}

std::vector<Tensor> split(const Tensor& x, int64_t chunk_size, int64_t dim) {
  return record_split(ops::split(x, chunk_size, dim), x, dim);
}

}  // namespace rbe
