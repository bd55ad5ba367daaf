// Differentiable reductions: sum, mean, var, std, min, max, norm.
#include <cmath>

#include "autodiff/functional.h"
#include "autodiff/functional_util.h"

namespace rbe {

using detail::expand_reduced;

Tensor sum(const Tensor& x) {
  Tensor out = ops::sum(x);
  if (!needs_grad({&x})) return out;
  Shape s = x.shape();
  return record("sum", out, {x}, [s](const Tensor& g) { return std::vector<Tensor>{ops::expand(g, s)}; });
}

Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  Tensor out = ops::sum(x, dim, keepdim);
  if (!needs_grad({&x})) return out;
  Shape s = x.shape();
  int64_t d = normalize_dim(dim, x.dim(), "sum");
  return record("sum_dim", out, {x}, [s, d, keepdim](const Tensor& g) {
    return std::vector<Tensor>{expand_reduced(g, s, d, keepdim)};
  });
}

Tensor mean(const Tensor& x) {
  Tensor out = ops::mean(x);
  if (!needs_grad({&x})) return out;
  Shape s = x.shape();
  float inv = 1.f / float(x.numel());
  return record("mean", out, {x}, [s, inv](const Tensor& g) {
    return std::vector<Tensor>{ops::expand(ops::mul(g, inv), s)};
  });
}

Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  Tensor out = ops::mean(x, dim, keepdim);
  if (!needs_grad({&x})) return out;
  Shape s = x.shape();
  int64_t d = normalize_dim(dim, x.dim(), "mean");
  float inv = 1.f / float(s[d]);
  return record("mean_dim", out, {x}, [s, d, keepdim, inv](const Tensor& g) {
    return std::vector<Tensor>{expand_reduced(ops::mul(g, inv), s, d, keepdim)};
  });
}

namespace {

// d var / dx = 2 (x - mean) / (N - ddof): the backwards below multiply x - mean
// by g (in the reduced shape, dim kept) and that factor.
Tensor centered(const Tensor& x, const Tensor& mean_keep) { return ops::sub(x, mean_keep); }

int64_t dof(int64_t n, bool unbiased) { return unbiased ? n - 1 : n; }

}  // namespace

Tensor var(const Tensor& x, bool unbiased) {
  Tensor out = ops::var(x, unbiased);
  if (!needs_grad({&x})) return out;
  float f = 2.f / float(dof(x.numel(), unbiased));
  return record("var", out, {x}, [x, f](const Tensor& g) {
    Tensor c = centered(x, ops::mean(x));
    return std::vector<Tensor>{ops::mul(c, ops::mul(g, f))};
  });
}

Tensor var(const Tensor& x, int64_t dim, bool unbiased, bool keepdim) {
  Tensor out = ops::var(x, dim, unbiased, keepdim);
  if (!needs_grad({&x})) return out;
  int64_t d = normalize_dim(dim, x.dim(), "var");
  float f = 2.f / float(dof(x.size(d), unbiased));
  return record("var_dim", out, {x}, [x, d, keepdim, f](const Tensor& g) {
    Tensor c = centered(x, ops::mean(x, d, true));
    Tensor gk = keepdim ? g : ops::unsqueeze(g, d);
    return std::vector<Tensor>{ops::mul(c, ops::mul(gk, f))};
  });
}

// d std / dx = (x - mean) / ((N - ddof) * std); zero where std is 0.
static Tensor std_scale(const Tensor& g, const Tensor& y, float inv_dof) {
  Tensor zero = detail::zero_scalar();
  Tensor safe = ops::where(ops::gt(y, zero), y, Tensor::scalar(1.f));
  return ops::where(ops::gt(y, zero), ops::div(ops::mul(g, inv_dof), safe), zero);
}

Tensor std(const Tensor& x, bool unbiased) {
  Tensor out = ops::std(x, unbiased);
  if (!needs_grad({&x})) return out;
  Tensor y = out.detach();
  float inv = 1.f / float(dof(x.numel(), unbiased));
  return record("std", out, {x}, [x, y, inv](const Tensor& g) {
    Tensor c = centered(x, ops::mean(x));
    return std::vector<Tensor>{ops::mul(c, std_scale(g, y, inv))};
  });
}

Tensor std(const Tensor& x, int64_t dim, bool unbiased, bool keepdim) {
  Tensor out = ops::std(x, dim, unbiased, keepdim);
  if (!needs_grad({&x})) return out;
  Tensor y = out.detach();
  int64_t d = normalize_dim(dim, x.dim(), "std");
  float inv = 1.f / float(dof(x.size(d), unbiased));
  return record("std_dim", out, {x}, [x, y, d, keepdim, inv](const Tensor& g) {
    Tensor c = centered(x, ops::mean(x, d, true));
    Tensor s = std_scale(g, y, inv);
    if (!keepdim) s = ops::unsqueeze(s, d);
    return std::vector<Tensor>{ops::mul(c, s)};
  });
}

namespace {

// All-reduce min/max: the gradient goes to the first extreme element.
Tensor extreme_all(const char* name, Tensor out, const Tensor& x, bool is_max) {
  if (!needs_grad({&x})) return out;
  int64_t at = int64_t((is_max ? ops::argmax(x) : ops::argmin(x)).item());
  Shape s = x.shape();
  return record(name, out, {x}, [s, at](const Tensor& g) {
    Tensor gx = Tensor::zeros(s);
    gx.data<float>()[at] = g.item();
    return std::vector<Tensor>{gx};
  });
}

// Min/max over dim: the gradient goes to the argmin/argmax of each row.
Tensor extreme_dim(const char* name, Tensor out, const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  if (!needs_grad({&x})) return out;
  int64_t d = normalize_dim(dim, x.dim(), name);
  // idx: x's shape with dim d of size 1, contiguous I32
  Tensor idx = (is_max ? ops::argmax(x, d, true) : ops::argmin(x, d, true)).contiguous();
  Shape s = x.shape();
  return record(name, out, {x}, [s, d, keepdim, idx](const Tensor& g) {
    Tensor gk = (keepdim ? g : ops::unsqueeze(g, d)).contiguous();
    Tensor gx = Tensor::zeros(s);
    detail::DimSplit ds = detail::split_at(s, d);
    const int32_t* pi = idx.data<int32_t>();
    const float* pg = gk.data<float>();
    float* px = gx.data<float>();
    for (int64_t o = 0; o < ds.outer; ++o)
      for (int64_t in = 0; in < ds.inner; ++in) {
        int64_t r = o * ds.inner + in;
        px[(o * ds.n + pi[r]) * ds.inner + in] = pg[r];
      }
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor min(const Tensor& x) { return extreme_all("min", ops::min(x), x, false); }
Tensor max(const Tensor& x) { return extreme_all("max", ops::max(x), x, true); }
Tensor min(const Tensor& x, int64_t dim, bool keepdim) { return extreme_dim("min_dim", ops::min(x, dim, keepdim), x, dim, keepdim, false); }
Tensor max(const Tensor& x, int64_t dim, bool keepdim) { return extreme_dim("max_dim", ops::max(x, dim, keepdim), x, dim, keepdim, true); }

namespace {

// d||x||_p / dx = sign(x) |x|^(p-1) / n^(p-1); zero where n is 0.
// coef: g / n^(p-1) in the reduced shape (keepdim), broadcast over x.
Tensor norm_grad(const Tensor& x, const Tensor& n_keep, const Tensor& g_keep, float p) {
  Tensor zero = detail::zero_scalar();
  Tensor pos = ops::gt(n_keep, zero);
  Tensor safe_n = ops::where(pos, n_keep, Tensor::scalar(1.f));
  Tensor coef = ops::where(pos, ops::div(g_keep, p == 2.f ? safe_n : ops::pow(safe_n, p - 1.f)), zero);
  if (p == 2.f) return ops::mul(x, coef);
  Tensor coef_full = ops::expand(coef, x.shape());
  return detail::map_grad(x, coef_full, [p](float v, float c) {
    if (v == 0.f) return 0.f;
    float m = p == 1.f ? 1.f : std::pow(std::fabs(v), p - 1.f);
    return (v > 0.f ? c : -c) * m;
  });
}

}  // namespace

// p = inf is max|x| (gradient to the first largest |x|); p = 0 counts nonzeros
// (piecewise constant: zero gradient).
Tensor norm(const Tensor& x, float p) {
  if (std::isinf(p) && needs_grad({&x})) return max(abs(x));
  Tensor out = ops::norm(x, p);
  if (!needs_grad({&x})) return out;
  if (p == 0.f) {
    Shape s = x.shape();
    return record("norm0", out, {x}, [s](const Tensor&) { return std::vector<Tensor>{Tensor::zeros(s)}; });
  }
  Tensor y = out.detach();
  return record("norm", out, {x}, [x, y, p](const Tensor& g) {
    return std::vector<Tensor>{norm_grad(x, y, g, p)};
  });
}

Tensor norm(const Tensor& x, float p, int64_t dim, bool keepdim) {
  if (std::isinf(p) && needs_grad({&x})) return max(abs(x), dim, keepdim);
  Tensor out = ops::norm(x, p, dim, keepdim);
  if (!needs_grad({&x})) return out;
  if (p == 0.f) {
    Shape s = x.shape();
    return record("norm0", out, {x}, [s](const Tensor&) { return std::vector<Tensor>{Tensor::zeros(s)}; });
  }
  Tensor y = out.detach();
  int64_t d = normalize_dim(dim, x.dim(), "norm");
  return record("norm_dim", out, {x}, [x, y, d, keepdim, p](const Tensor& g) {
    Tensor yk = keepdim ? y : ops::unsqueeze(y, d);
    Tensor gk = keepdim ? g : ops::unsqueeze(g, d);
    return std::vector<Tensor>{norm_grad(x, yk, gk, p)};
  });
}

}  // namespace rbe
