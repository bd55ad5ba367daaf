// Differentiable binary elementwise ops (broadcasting) and where().
// Gradients of broadcast inputs are summed back to the input's shape.
#include <cmath>

#include "autodiff/functional.h"
#include "autodiff/functional_util.h"

namespace rbe {

using detail::reduce_to;

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = ops::add(a, b);
  if (!needs_grad({&a, &b})) return out;
  Shape sa = a.shape(), sb = b.shape();
  return record("add", out, {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{reduce_to(g, sa), reduce_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = ops::sub(a, b);
  if (!needs_grad({&a, &b})) return out;
  Shape sa = a.shape(), sb = b.shape();
  bool rb = b.requires_grad();
  return record("sub", out, {a, b}, [sa, sb, rb](const Tensor& g) {
    return std::vector<Tensor>{reduce_to(g, sa), rb ? reduce_to(ops::neg(g), sb) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = ops::mul(a, b);
  if (!needs_grad({&a, &b})) return out;
  bool ra = a.requires_grad(), rb = b.requires_grad();
  return record("mul", out, {a, b}, [a, b, ra, rb](const Tensor& g) {
    return std::vector<Tensor>{ra ? reduce_to(ops::mul(g, b), a.shape()) : Tensor(),
                               rb ? reduce_to(ops::mul(g, a), b.shape()) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = ops::div(a, b);
  if (!needs_grad({&a, &b})) return out;
  bool ra = a.requires_grad(), rb = b.requires_grad();
  Tensor y = out.detach();
  // d(a/b)/da = 1/b;  d(a/b)/db = -a/b^2 = -y/b
  return record("div", out, {a, b}, [a, b, y, ra, rb](const Tensor& g) {
    Tensor gb;
    if (rb) gb = reduce_to(ops::neg(ops::div(ops::mul(g, y), b)), b.shape());
    return std::vector<Tensor>{ra ? reduce_to(ops::div(g, b), a.shape()) : Tensor(), gb};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = ops::pow(a, b);
  if (!needs_grad({&a, &b})) return out;
  bool ra = a.requires_grad(), rb = b.requires_grad();
  Tensor y = out.detach();
  // da = b * a^(b-1) * g;  db = a^b * log(a) * g (a > 0 where b needs a gradient)
  return record("pow", out, {a, b}, [a, b, y, ra, rb](const Tensor& g) {
    Tensor ga, gb;
    if (ra) ga = reduce_to(ops::mul(g, ops::mul(b, ops::pow(a, ops::add(b, -1.f)))), a.shape());
    if (rb) gb = reduce_to(ops::mul(g, ops::mul(y, ops::log(a))), b.shape());
    return std::vector<Tensor>{ga, gb};
  });
}

// Ties send the gradient to a (the first argument).
static Tensor select_binary(const char* name, Tensor out, const Tensor& a, const Tensor& b, bool is_max) {
  if (!needs_grad({&a, &b})) return out;
  bool ra = a.requires_grad(), rb = b.requires_grad();
  return record(name, out, {a, b}, [a, b, ra, rb, is_max](const Tensor& g) {
    Tensor take_a = is_max ? ops::ge(a, b) : ops::le(a, b);  // broadcast shape
    Tensor zero = detail::zero_scalar();
    Tensor ga, gb;
    if (ra) ga = reduce_to(ops::where(take_a, g, zero), a.shape());
    if (rb) gb = reduce_to(ops::where(take_a, zero, g), b.shape());
    return std::vector<Tensor>{ga, gb};
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) { return select_binary("maximum", ops::maximum(a, b), a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return select_binary("minimum", ops::minimum(a, b), a, b, false); }

Tensor add(const Tensor& a, float b) {
  Tensor out = ops::add(a, b);
  if (!needs_grad({&a})) return out;
  return record("add_scalar", out, {a}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor mul(const Tensor& a, float b) {
  Tensor out = ops::mul(a, b);
  if (!needs_grad({&a})) return out;
  return record("mul_scalar", out, {a}, [b](const Tensor& g) { return std::vector<Tensor>{ops::mul(g, b)}; });
}

Tensor pow(const Tensor& a, float exponent) {
  Tensor out = ops::pow(a, exponent);
  if (!needs_grad({&a})) return out;
  return record("pow_scalar", out, {a}, [a, exponent](const Tensor& g) {
    const float e = exponent;
    if (e == 0.f) return std::vector<Tensor>{Tensor::zeros(a.shape())};
    if (e == 1.f) return std::vector<Tensor>{g};
    return std::vector<Tensor>{detail::map_grad(a, g, [e](float x, float gy) {
      if (e == 2.f) return gy * 2.f * x;
      return gy * e * std::pow(x, e - 1.f);
    })};
  });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor out = ops::where(cond, a, b);
  if (!needs_grad({&a, &b})) return out;
  bool ra = a.requires_grad(), rb = b.requires_grad();
  Shape sa = a.shape(), sb = b.shape();
  return record("where", out, {a, b}, [cond, sa, sb, ra, rb](const Tensor& g) {
    Tensor zero = detail::zero_scalar();
    Tensor ga, gb;
    if (ra) ga = reduce_to(ops::where(cond, g, zero), sa);
    if (rb) gb = reduce_to(ops::where(cond, zero, g), sb);
    return std::vector<Tensor>{ga, gb};
  });
}

}  // namespace rbe
