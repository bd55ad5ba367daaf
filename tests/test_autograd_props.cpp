// Property tests: the gradient of every differentiable op in autodiff/functional.h
// matches central finite differences, on random small shapes and values.
//
// Method: for L = sum(op(x) * R) with a fixed random R, backward(out, R) gives
// dL/dx; the numeric gradient perturbs one input element by +-eps, reruns the
// f32 forward and sums out * R in double. Inputs stay away from kinks and
// singularities (relu/abs/max at 0, log/sqrt at 0, tan at pi/2, ...).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <sstream>

#include "autodiff/functional.h"

namespace rbe {
namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct CheckOpts {
  float eps = 1e-2f;
  float tol = 5e-3f;
};

double weighted_sum(const Tensor& out, const std::vector<float>& r) {
  std::vector<float> v = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += double(v[i]) * double(r[i]);
  return s;
}

// Compares the analytic gradient of every input with central differences.
void check_grads(const char* op, const Fn& f, const std::vector<Tensor>& inputs, CheckOpts o = {}) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    Tensor l = t.clone();
    l.set_requires_grad(true);
    leaves.push_back(l);
  }
  Tensor out = f(leaves);
  RC_ASSERT(out.requires_grad());
  const uint64_t rseed = *rc::gen::arbitrary<uint32_t>();
  Tensor R = Tensor::randn(out.shape(), rseed);
  std::vector<float> r = R.to_vector();
  backward(out, R);

  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor g = leaves[i].grad();
    RC_ASSERT(g.defined());
    RC_ASSERT(g.shape() == inputs[i].shape());
    std::vector<float> analytic = g.to_vector();
    std::vector<float> base = inputs[i].to_vector();
    for (size_t j = 0; j < base.size(); ++j) {
      auto eval = [&](float delta) {
        std::vector<float> v = base;
        v[j] += delta;
        std::vector<Tensor> args = inputs;
        args[i] = Tensor::from_vector(v, inputs[i].shape());
        return weighted_sum(f(args), r);
      };
      double numeric = (eval(o.eps) - eval(-o.eps)) / (2.0 * o.eps);
      double a = analytic[j];
      if (!(std::fabs(a - numeric) <= o.tol * (1.0 + std::fabs(numeric)))) {
        std::ostringstream msg;
        msg << op << ": input " << i << " " << shape_str(inputs[i].shape()) << " element " << j
            << ": analytic " << a << " numeric " << numeric << " (output " << shape_str(out.shape()) << ")";
        RC_FAIL(msg.str());
      }
    }
  }
}

// ---- generators ----

// A value in [lo, hi), uniform whatever RapidCheck's current size (inRange alone
// stays near lo for the early, small-size cases).
template <class T>
T pick(T lo, T hi) {
  return *rc::gen::resize(100, rc::gen::inRange<T>(lo, hi));
}

Shape gen_shape(int min_dims, int max_dims, int64_t max_size = 4) {
  int nd = pick<int>(min_dims, max_dims + 1);
  Shape s;
  for (int i = 0; i < nd; ++i) s.push_back(pick<int64_t>(1, max_size + 1));
  return s;
}

Tensor gen_uniform(const Shape& s, float lo, float hi) {
  return Tensor::rand(s, *rc::gen::arbitrary<uint32_t>(), lo, hi);
}

// Uniform in +-[gap, gap + width): never near 0.
Tensor gen_away_from_zero(const Shape& s, float gap, float width) {
  std::vector<float> v = gen_uniform(s, -width, width).to_vector();
  for (float& x : v) x += x >= 0 ? gap : -gap;
  return Tensor::from_vector(v, s);
}

// On the grid k/4 (+ offset): two such tensors with offsets 0 and 1/8 never tie.
Tensor gen_grid(const Shape& s, float offset) {
  std::vector<float> v = gen_uniform(s, -8.f, 8.f).to_vector();
  for (float& x : v) x = std::floor(x) * 0.25f + offset;
  return Tensor::from_vector(v, s);
}

// Distinct values 0.1 apart, shuffled: min/max are unique and stable under +-eps.
Tensor gen_distinct(const Shape& s) {
  std::vector<float> v(shape_numel(s));
  std::iota(v.begin(), v.end(), 0.f);
  std::mt19937 rng(*rc::gen::arbitrary<uint32_t>());
  std::shuffle(v.begin(), v.end(), rng);
  for (float& x : v) x = x * 0.1f - 1.f;
  return Tensor::from_vector(v, s);
}

// Two shapes that broadcast together: random dims set to 1, the second a suffix.
std::pair<Shape, Shape> gen_broadcast_pair() {
  Shape s = gen_shape(1, 4, 3);
  Shape a = s;
  for (auto& d : a)
    if (pick<int>(0, 4) == 0) d = 1;
  size_t keep = pick<size_t>(0, s.size() + 1);
  Shape b(s.end() - keep, s.end());
  for (auto& d : b)
    if (pick<int>(0, 4) == 0) d = 1;
  if (*rc::gen::arbitrary<bool>()) std::swap(a, b);
  return {a, b};
}

int64_t gen_dim(const Shape& s) { return pick<int64_t>(0, int64_t(s.size())); }

// ---- unary elementwise ----

#define RBE_UNARY_PROP(NAME, EXPR, MAKE_INPUT, EPS)                          \
  RC_GTEST_PROP(AutogradProps, NAME, ()) {                                   \
    Shape s = gen_shape(0, 3);                                               \
    Tensor x = MAKE_INPUT;                                                   \
    check_grads(#NAME, [](const std::vector<Tensor>& in) { return EXPR; }, {x}, {EPS, 5e-3f}); \
  }

RBE_UNARY_PROP(Neg, neg(in[0]), gen_uniform(s, -2, 2), 1e-2f)
RBE_UNARY_PROP(Abs, abs(in[0]), gen_away_from_zero(s, 0.1f, 2), 1e-2f)
RBE_UNARY_PROP(Exp, exp(in[0]), gen_uniform(s, -2, 2), 1e-2f)
RBE_UNARY_PROP(Log, log(in[0]), gen_uniform(s, 0.5f, 3), 1e-2f)
RBE_UNARY_PROP(Sqrt, sqrt(in[0]), gen_uniform(s, 0.5f, 3), 1e-2f)
RBE_UNARY_PROP(Sin, sin(in[0]), gen_uniform(s, -3, 3), 1e-2f)
RBE_UNARY_PROP(Cos, cos(in[0]), gen_uniform(s, -3, 3), 1e-2f)
RBE_UNARY_PROP(Tan, tan(in[0]), gen_uniform(s, -1, 1), 3e-3f)
RBE_UNARY_PROP(Tanh, tanh(in[0]), gen_uniform(s, -3, 3), 1e-2f)
RBE_UNARY_PROP(Sigmoid, sigmoid(in[0]), gen_uniform(s, -4, 4), 1e-2f)
RBE_UNARY_PROP(Relu, relu(in[0]), gen_away_from_zero(s, 0.1f, 2), 1e-2f)
RBE_UNARY_PROP(Gelu, gelu(in[0]), gen_uniform(s, -3, 3), 1e-2f)
RBE_UNARY_PROP(GeluTanh, gelu_tanh(in[0]), gen_uniform(s, -3, 3), 1e-2f)
RBE_UNARY_PROP(Silu, silu(in[0]), gen_uniform(s, -4, 4), 1e-2f)
RBE_UNARY_PROP(Mish, mish(in[0]), gen_uniform(s, -4, 4), 1e-2f)
RBE_UNARY_PROP(AddScalar, add(in[0], 1.5f), gen_uniform(s, -2, 2), 1e-2f)
RBE_UNARY_PROP(MulScalar, mul(in[0], -2.5f), gen_uniform(s, -2, 2), 1e-2f)
RBE_UNARY_PROP(Contiguous, contiguous(in[0].dim() >= 2 ? transpose(in[0], 0, -1) : in[0]), gen_uniform(s, -2, 2), 1e-2f)

RC_GTEST_PROP(AutogradProps, PowScalar, ()) {
  Shape s = gen_shape(0, 3);
  float e = *rc::gen::element(0.f, 1.f, 2.f, 3.f, 0.5f, -1.5f, 2.7f);
  check_grads("pow_scalar", [e](const std::vector<Tensor>& in) { return pow(in[0], e); },
              {gen_uniform(s, 0.5f, 2.f)});
}

RC_GTEST_PROP(AutogradProps, UnaryOnStridedView, ()) {
  Shape s = gen_shape(2, 3);
  // Elementwise backward on a non-contiguous input (a transposed, strided slice).
  check_grads("strided", [](const std::vector<Tensor>& in) {
    return exp(slice(transpose(in[0], 0, -1), 0, 0, in[0].size(-1), 2)) * 0.5f;
  }, {gen_uniform(s, -2, 2)});
}

// ---- binary, broadcasting ----

#define RBE_BINARY_PROP(NAME, EXPR, MAKE_A, MAKE_B)                          \
  RC_GTEST_PROP(AutogradProps, NAME, ()) {                                   \
    auto [sa, sb] = gen_broadcast_pair();                                    \
    Shape s = sa;                                                            \
    Tensor a = MAKE_A;                                                       \
    s = sb;                                                                  \
    Tensor b = MAKE_B;                                                       \
    check_grads(#NAME, [](const std::vector<Tensor>& in) { return EXPR; }, {a, b}); \
  }

RBE_BINARY_PROP(Add, add(in[0], in[1]), gen_uniform(s, -2, 2), gen_uniform(s, -2, 2))
RBE_BINARY_PROP(Sub, sub(in[0], in[1]), gen_uniform(s, -2, 2), gen_uniform(s, -2, 2))
RBE_BINARY_PROP(Mul, mul(in[0], in[1]), gen_uniform(s, -2, 2), gen_uniform(s, -2, 2))
RBE_BINARY_PROP(Div, div(in[0], in[1]), gen_uniform(s, -2, 2), gen_away_from_zero(s, 0.5f, 1.5f))
RBE_BINARY_PROP(Pow, pow(in[0], in[1]), gen_uniform(s, 0.5f, 2), gen_uniform(s, -2, 2))
RBE_BINARY_PROP(Maximum, maximum(in[0], in[1]), gen_grid(s, 0.f), gen_grid(s, 0.125f))
RBE_BINARY_PROP(Minimum, minimum(in[0], in[1]), gen_grid(s, 0.f), gen_grid(s, 0.125f))

RC_GTEST_PROP(AutogradProps, Where, ()) {
  auto [sa, sb] = gen_broadcast_pair();
  Shape sc = ops::broadcast_shapes(sa, sb);
  Tensor cond = ops::gt(gen_uniform(sc, -1, 1), Tensor::scalar(0.f));
  check_grads("where", [cond](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
              {gen_uniform(sa, -2, 2), gen_uniform(sb, -2, 2)});
}

// ---- softmax ----

RC_GTEST_PROP(AutogradProps, Softmax, ()) {
  Shape s = gen_shape(1, 3);
  int64_t d = gen_dim(s) - (*rc::gen::arbitrary<bool>() ? int64_t(s.size()) : 0);  // also negative dims
  check_grads("softmax", [d](const std::vector<Tensor>& in) { return softmax(in[0], d); }, {gen_uniform(s, -3, 3)});
}

RC_GTEST_PROP(AutogradProps, LogSoftmax, ()) {
  Shape s = gen_shape(1, 3);
  int64_t d = gen_dim(s);
  check_grads("log_softmax", [d](const std::vector<Tensor>& in) { return log_softmax(in[0], d); },
              {gen_uniform(s, -3, 3)});
}

// ---- matmul: 1-d promotion and broadcast batch dims ----

RC_GTEST_PROP(AutogradProps, Matmul, ()) {
  int64_t n = pick<int>(1, 5), k = pick<int>(1, 5), m = pick<int>(1, 5);
  int kind = pick<int>(0, 4);  // 0: both matrices, 1: vec @ mat, 2: mat @ vec, 3: vec @ vec
  Shape batch_a, batch_b;
  if (kind == 0 || kind == 1 || kind == 2) {
    Shape batch = gen_shape(0, 2, 3);
    for (int64_t d : batch) {
      batch_a.push_back(pick<int>(0, 3) == 0 ? 1 : d);
      batch_b.push_back(pick<int>(0, 3) == 0 ? 1 : d);
    }
    if (*rc::gen::arbitrary<bool>() && !batch_a.empty()) batch_a.erase(batch_a.begin());  // fewer dims
  }
  Shape sa = batch_a, sb = batch_b;
  if (kind == 1 || kind == 3) sa = {k};
  else { sa.push_back(n); sa.push_back(k); }
  if (kind == 2 || kind == 3) sb = {k};
  else { sb.push_back(k); sb.push_back(m); }
  check_grads("matmul", [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
              {gen_uniform(sa, -1, 1), gen_uniform(sb, -1, 1)});
}

RC_GTEST_PROP(AutogradProps, MatmulTransposedOperand, ()) {
  int64_t n = pick<int>(1, 5), k = pick<int>(1, 5), m = pick<int>(1, 5);
  int64_t b = pick<int>(1, 3);
  // x [b, n, k] @ W^T with W [m, k] (nn.Linear's layout)
  check_grads("matmul_t", [](const std::vector<Tensor>& in) { return matmul(in[0], transpose(in[1], 0, 1)); },
              {gen_uniform({b, n, k}, -1, 1), gen_uniform({m, k}, -1, 1)});
}

// ---- shape and indexing ----

RC_GTEST_PROP(AutogradProps, Reshape, ()) {
  Shape s = gen_shape(1, 4);
  Shape t = *rc::gen::arbitrary<bool>() ? Shape{-1} : Shape{s.back(), -1};
  check_grads("reshape", [t](const std::vector<Tensor>& in) { return reshape(in[0], t); }, {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, ReshapeOfTransposed, ()) {
  Shape s = gen_shape(2, 3);
  check_grads("reshape_t", [](const std::vector<Tensor>& in) { return reshape(transpose(in[0], 0, 1), {-1}); },
              {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, View, ()) {
  Shape s = gen_shape(1, 4);
  check_grads("view", [](const std::vector<Tensor>& in) { return view(in[0], {in[0].numel()}); },
              {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, Transpose, ()) {
  Shape s = gen_shape(1, 4);
  int64_t d0 = gen_dim(s), d1 = gen_dim(s);
  check_grads("transpose", [d0, d1](const std::vector<Tensor>& in) { return transpose(in[0], d0, d1); },
              {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, Permute, ()) {
  Shape s = gen_shape(1, 4);
  std::vector<int64_t> p(s.size());
  std::iota(p.begin(), p.end(), 0);
  std::mt19937 rng(*rc::gen::arbitrary<uint32_t>());
  std::shuffle(p.begin(), p.end(), rng);
  check_grads("permute", [p](const std::vector<Tensor>& in) { return permute(in[0], p); }, {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, UnsqueezeSqueeze, ()) {
  Shape s = gen_shape(0, 3);
  int64_t d = pick<int64_t>(0, int64_t(s.size()) + 1);
  check_grads("unsqueeze", [d](const std::vector<Tensor>& in) { return unsqueeze(in[0], d); },
              {gen_uniform(s, -2, 2)});
  Shape s1 = s;
  s1.insert(s1.begin() + d, 1);
  check_grads("squeeze", [d](const std::vector<Tensor>& in) { return squeeze(in[0], d); }, {gen_uniform(s1, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, Expand, ()) {
  Shape s = gen_shape(1, 3, 3);
  Shape x = s, target = s;
  for (size_t i = 0; i < s.size(); ++i)
    if (*rc::gen::arbitrary<bool>()) x[i] = 1;
  if (*rc::gen::arbitrary<bool>()) target.insert(target.begin(), 2);
  check_grads("expand", [target](const std::vector<Tensor>& in) { return expand(in[0], target); },
              {gen_uniform(x, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, Slice, ()) {
  Shape s = gen_shape(1, 3, 5);
  int64_t d = gen_dim(s);
  int64_t n = s[d];
  int64_t start = pick<int64_t>(0, n);
  int64_t end = pick<int64_t>(start + 1, n + 1);
  int64_t step = pick<int64_t>(1, 3);
  if (*rc::gen::arbitrary<bool>()) start -= n;  // negative start counts from the end
  check_grads("slice", [=](const std::vector<Tensor>& in) { return slice(in[0], d, start, end, step); },
              {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, IndexSelect, ()) {
  Shape s = gen_shape(1, 3);
  int64_t d = gen_dim(s);
  int count = pick<int>(1, 6);
  std::vector<int32_t> idx;
  for (int i = 0; i < count; ++i) idx.push_back(pick<int32_t>(0, int32_t(s[d])));
  Tensor index = Tensor::from_vector(idx, {int64_t(count)});
  check_grads("index_select", [d, index](const std::vector<Tensor>& in) { return index_select(in[0], d, index); },
              {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, Concat, ()) {
  Shape s = gen_shape(1, 3);
  int64_t d = gen_dim(s);
  int parts = pick<int>(1, 4);
  std::vector<Tensor> xs;
  for (int i = 0; i < parts; ++i) {
    Shape si = s;
    si[d] = pick<int64_t>(1, 4);
    xs.push_back(gen_uniform(si, -2, 2));
  }
  check_grads("concat", [d](const std::vector<Tensor>& in) { return concat(in, d); }, xs);
}

RC_GTEST_PROP(AutogradProps, Split, ()) {
  Shape s = gen_shape(1, 3, 5);
  int64_t d = gen_dim(s);
  int64_t chunk = pick<int64_t>(1, s[d] + 1);
  // Weight each piece differently so a piece's gradient landing in the wrong place shows.
  check_grads("split", [chunk, d](const std::vector<Tensor>& in) {
    std::vector<Tensor> pieces = split(in[0], chunk, d);
    for (size_t i = 0; i < pieces.size(); ++i) pieces[i] = mul(pieces[i], float(i + 1));
    return concat(pieces, d);
  }, {gen_uniform(s, -2, 2)});
  std::vector<int64_t> sizes = {s[d] / 2, s[d] - s[d] / 2};
  check_grads("split_sizes", [sizes, d](const std::vector<Tensor>& in) {
    std::vector<Tensor> pieces = split(in[0], sizes, d);
    return concat({mul(pieces[1], 3.f), exp(pieces[0])}, d);
  }, {gen_uniform(s, -2, 2)});
}

// ---- reductions ----

RC_GTEST_PROP(AutogradProps, SumMeanAll, ()) {
  Shape s = gen_shape(0, 4);
  check_grads("sum", [](const std::vector<Tensor>& in) { return sum(in[0]); }, {gen_uniform(s, -2, 2)});
  check_grads("mean", [](const std::vector<Tensor>& in) { return mean(in[0]); }, {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, SumMeanDim, ()) {
  Shape s = gen_shape(1, 4);
  int64_t d = gen_dim(s);
  bool keep = *rc::gen::arbitrary<bool>();
  check_grads("sum_dim", [d, keep](const std::vector<Tensor>& in) { return sum(in[0], d, keep); },
              {gen_uniform(s, -2, 2)});
  check_grads("mean_dim", [d, keep](const std::vector<Tensor>& in) { return mean(in[0], d, keep); },
              {gen_uniform(s, -2, 2)});
}

RC_GTEST_PROP(AutogradProps, VarStdAll, ()) {
  Shape s = gen_shape(1, 3);
  bool unbiased = *rc::gen::arbitrary<bool>();
  s[0] = std::max<int64_t>(s[0], 2);  // at least two elements
  check_grads("var", [unbiased](const std::vector<Tensor>& in) { return var(in[0], unbiased); },
              {gen_uniform(s, -2, 2)});
  check_grads("std", [unbiased](const std::vector<Tensor>& in) { return std(in[0], unbiased); },
              {gen_distinct(s)});
}

RC_GTEST_PROP(AutogradProps, VarStdDim, ()) {
  Shape s = gen_shape(1, 3);
  int64_t d = gen_dim(s);
  s[d] = std::max<int64_t>(s[d], 2);
  bool unbiased = *rc::gen::arbitrary<bool>(), keep = *rc::gen::arbitrary<bool>();
  check_grads("var_dim", [=](const std::vector<Tensor>& in) { return var(in[0], d, unbiased, keep); },
              {gen_uniform(s, -2, 2)});
  check_grads("std_dim", [=](const std::vector<Tensor>& in) { return std(in[0], d, unbiased, keep); },
              {gen_distinct(s)});
}

RC_GTEST_PROP(AutogradProps, MinMaxAll, ()) {
  Shape s = gen_shape(0, 3);
  check_grads("max", [](const std::vector<Tensor>& in) { return max(in[0]); }, {gen_distinct(s)});
  check_grads("min", [](const std::vector<Tensor>& in) { return min(in[0]); }, {gen_distinct(s)});
}

RC_GTEST_PROP(AutogradProps, MinMaxDim, ()) {
  Shape s = gen_shape(1, 3);
  int64_t d = gen_dim(s);
  bool keep = *rc::gen::arbitrary<bool>();
  check_grads("max_dim", [d, keep](const std::vector<Tensor>& in) { return max(in[0], d, keep); },
              {gen_distinct(s)});
  check_grads("min_dim", [d, keep](const std::vector<Tensor>& in) { return min(in[0], d, keep); },
              {gen_distinct(s)});
}

RC_GTEST_PROP(AutogradProps, Norm, ()) {
  Shape s = gen_shape(1, 3);
  float p = *rc::gen::element(1.f, 2.f, 3.f, 0.f, INFINITY);
  // Distinct, nonzero values: |x| has a unique maximum for p = inf.
  Tensor x = gen_distinct(s);
  std::vector<float> v = x.to_vector();
  for (float& e : v) e = e >= 0 ? e + 0.1f : e - 0.05f;
  x = Tensor::from_vector(v, s);
  check_grads("norm", [p](const std::vector<Tensor>& in) { return norm(in[0], p); }, {x});
  int64_t d = gen_dim(s);
  bool keep = *rc::gen::arbitrary<bool>();
  check_grads("norm_dim", [p, d, keep](const std::vector<Tensor>& in) { return norm(in[0], p, d, keep); }, {x});
}

// ---- composition: a small attention-like chain through many ops at once ----

RC_GTEST_PROP(AutogradProps, AttentionLikeChain, ()) {
  int64_t t = pick<int>(1, 4), c = pick<int>(1, 4);
  check_grads("chain", [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];                             // [T, C]
    Tensor att = softmax(matmul(x, transpose(in[1], 0, 1)) * 0.5f, -1);  // [T, T]
    Tensor h = matmul(att, x);                           // [T, C]
    Tensor centered = h - mean(h, -1, true);
    return gelu_tanh(centered / sqrt(var(h, -1, false, true) + 1e-1f));
  }, {gen_uniform({t, c}, -1, 1), gen_uniform({t, c}, -1, 1)});
}

}  // namespace
}  // namespace rbe
