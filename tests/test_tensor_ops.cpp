// Tests for rbe::ops (no autograd): each op on hand-checked cases, shape
// errors, and RapidCheck properties against naive reference code written
// here with explicit index arithmetic (it never calls rbe::ops).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "shape_error_test_util.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace ops = rbe::ops;
using rbe::DType;
using rbe::Shape;
using rbe::Tensor;

namespace {

using Vec = std::vector<float>;

Tensor T(const Vec& v, const Shape& s) { return Tensor::from_vector(v, s); }

bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_near_vec(const Vec& got, const Vec& want, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol * std::max(1.f, std::fabs(want[i]))) << "at " << i;
    }
  }
}

// ---------- naive reference helpers (index arithmetic by hand) ----------

std::vector<int64_t> unravel(int64_t lin, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (int64_t d = int64_t(s.size()) - 1; d >= 0; --d) {
    idx[size_t(d)] = lin % s[size_t(d)];
    lin /= s[size_t(d)];
  }
  return idx;
}

// Linear row-major index into operand shape s (right-aligned within the
// output) for the output multi-index idx; size-1 dims always read index 0.
int64_t bcast_index(const Shape& s, const std::vector<int64_t>& idx) {
  size_t lead = idx.size() - s.size();
  int64_t lin = 0;
  for (size_t i = 0; i < s.size(); ++i) lin = lin * s[i] + (s[i] == 1 ? 0 : idx[lead + i]);
  return lin;
}

Shape naive_bcast_shape(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    out[i] = std::max(da, db);
  }
  return out;
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Small integers in [-3, 3] from a tiny LCG: exact arithmetic, frequent ties.
Vec small_ints(int64_t n, uint64_t seed) {
  Vec v(static_cast<size_t>(n));
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = float(int64_t((s >> 33) % 7) - 3);
  }
  return v;
}

// A tensor of `shape` holding `values` (row-major) in one of several layouts:
// 0 contiguous, 1 transposed view (last two dims), 2 strided slice view,
// 3 F16 storage, 4 expanded (stride 0) when values allow.
Tensor make_operand(const Vec& values, const Shape& shape, int layout) {
  Tensor c = Tensor::from_vector(values, shape);
  const int64_t nd = int64_t(shape.size());
  if (layout == 1 && nd >= 2) {
    return ops::transpose(ops::transpose(c, -1, -2).contiguous(), -1, -2);
  }
  if (layout == 2 && nd >= 1) {
    // Interleave with junk along the last dim, then take every other element.
    Shape big = shape;
    big.back() *= 2;
    Tensor b = Tensor::full(big, 1e9f);
    Tensor view = ops::slice(b, -1, 0, big.back(), 2);
    ops::copy_(view, c);
    return view;
  }
  if (layout == 3) return c.to(DType::F16);  // small ints are exact in f16
  if (layout == 4 && nd >= 1 && shape[0] > 1) {
    // If all rows along dim 0 are equal the tensor can be an expand.
    int64_t inner = numel(shape) / shape[0];
    bool equal_rows = true;
    for (int64_t i = 0; i < numel(shape) && equal_rows; ++i) equal_rows = values[size_t(i)] == values[size_t(i % inner)];
    if (equal_rows) {
      Shape one = shape;
      one[0] = 1;
      Vec first(values.begin(), values.begin() + inner);
      return ops::expand(Tensor::from_vector(first, one), shape);
    }
  }
  return c;
}

// For layout 4 (expand), make all rows along dim 0 equal so the operand can be an expand.
void repeat_rows_for_expand(Vec& v, const Shape& s, int layout) {
  if (layout != 4 || s.empty() || s[0] <= 1) return;
  int64_t inner = numel(s) / s[0];
  for (int64_t i = inner; i < numel(s); ++i) v[size_t(i)] = v[size_t(i % inner)];
}

// Random broadcast-compatible pair of shapes: each derived from a common
// shape (rank 0..4, sizes 1..5) by dropping leading dims and setting dims to 1.
std::pair<Shape, Shape> gen_bcast_shapes() {
  int rank = *rc::gen::inRange(0, 5);
  Shape base;
  for (int i = 0; i < rank; ++i) base.push_back(*rc::gen::inRange(1, 6));
  auto derive = [&] {
    int drop = *rc::gen::inRange(0, rank + 1);
    Shape s(base.begin() + drop, base.end());
    for (auto& d : s)
      if (*rc::gen::inRange(0, 3) == 0) d = 1;
    return s;
  };
  Shape a = derive();
  Shape b = derive();
  return {a, b};
}

// ---------- broadcasting ----------

TEST(TensorOps, BroadcastShapes) {
  EXPECT_EQ(ops::broadcast_shapes({2, 1, 3}, {4, 1}), (Shape{2, 4, 3}));
  EXPECT_EQ(ops::broadcast_shapes({}, {3}), (Shape{3}));
  EXPECT_EQ(ops::broadcast_shapes({0, 1}, {1, 5}), (Shape{0, 5}));
  EXPECT_SHAPE_ERROR(ops::broadcast_shapes({2, 3}, {4}, "myop"), "myop: shapes [2, 3] and [4]");
  EXPECT_SHAPE_ERROR(ops::add(Tensor::zeros({2, 3}), Tensor::zeros({2})), "add: shapes [2, 3] and [2]");
  EXPECT_SHAPE_ERROR(ops::lt(Tensor::zeros({3}), Tensor::zeros({4})), "lt");
}

TEST(TensorOps, Expand) {
  Tensor x = T({1, 2, 3}, {3, 1});
  Tensor e = ops::expand(x, {2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.strides()[2], 0);
  EXPECT_EQ(e.storage(), x.storage());
  EXPECT_EQ(e.at({1, 2, 3}), 3.f);
  EXPECT_EQ(ops::expand(x, {-1, 2}).shape(), (Shape{3, 2}));
  EXPECT_SHAPE_ERROR(ops::expand(x, {2, 4}), "expand: cannot expand shape [3, 1] to [2, 4]");
  EXPECT_SHAPE_ERROR(ops::expand(x, {3}), "expand");
}

TEST(TensorOps, SumTo) {
  Tensor x = Tensor::ones({2, 3, 4});
  EXPECT_EQ(ops::sum_to(x, {4}).to_vector(), Vec(4, 6.f));
  EXPECT_EQ(ops::sum_to(x, {3, 1}).to_vector(), Vec(3, 8.f));
  EXPECT_EQ(ops::sum_to(x, {3, 1}).shape(), (Shape{3, 1}));
  EXPECT_EQ(ops::sum_to(x, {2, 1, 4}).shape(), (Shape{2, 1, 4}));
  EXPECT_EQ(ops::sum_to(x, {}).item(), 24.f);
  EXPECT_EQ(ops::sum_to(x, {1, 1, 1}).item(), 24.f);
  EXPECT_TRUE(ops::sum_to(x, {2, 3, 4}).is_same(x));
  Tensor v = T({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(ops::sum_to(v, {1, 3}).to_vector(), (Vec{5, 7, 9}));
  EXPECT_EQ(ops::sum_to(v, {2, 1}).to_vector(), (Vec{6, 15}));
  EXPECT_EQ(ops::sum_to(ops::transpose(v, 0, 1), {3, 1}).to_vector(), (Vec{5, 7, 9}));
  EXPECT_SHAPE_ERROR(ops::sum_to(x, {3}), "sum_to: shape [2, 3, 4] cannot be summed to [3]");
  EXPECT_SHAPE_ERROR(ops::sum_to(x, {1, 2, 3, 4}), "sum_to");
  EXPECT_SHAPE_ERROR(ops::sum_to(x, {2, 2, 4}), "sum_to");
}

// sum_to is the adjoint of expand: summing an expanded ones tensor counts copies.
RC_GTEST_PROP(TensorOpsProps, SumToInvertsBroadcast, ()) {
  auto [a, b] = gen_bcast_shapes();
  Shape out = naive_bcast_shape(a, b);
  Vec xv = small_ints(numel(out), *rc::gen::arbitrary<uint32_t>());
  Tensor x = T(xv, out);
  Tensor s = ops::sum_to(x, a);
  RC_ASSERT(s.shape() == a);
  Vec want(size_t(numel(a)), 0.f);
  for (int64_t i = 0; i < numel(out); ++i) want[size_t(bcast_index(a, unravel(i, out)))] += xv[size_t(i)];
  RC_ASSERT(s.to_vector() == want);
}

// ---------- elementwise binary ----------

struct BinCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<float(float, float)> ref;
};

std::vector<BinCase> bin_cases() {
  return {
      {"add", [](auto& a, auto& b) { return ops::add(a, b); }, [](float x, float y) { return x + y; }},
      {"sub", [](auto& a, auto& b) { return ops::sub(a, b); }, [](float x, float y) { return x - y; }},
      {"mul", [](auto& a, auto& b) { return ops::mul(a, b); }, [](float x, float y) { return x * y; }},
      {"div", [](auto& a, auto& b) { return ops::div(a, b); }, [](float x, float y) { return x / y; }},
      {"pow", [](auto& a, auto& b) { return ops::pow(a, b); }, [](float x, float y) { return std::pow(x, y); }},
      {"maximum", [](auto& a, auto& b) { return ops::maximum(a, b); }, [](float x, float y) { return std::max(x, y); }},
      {"minimum", [](auto& a, auto& b) { return ops::minimum(a, b); }, [](float x, float y) { return std::min(x, y); }},
      {"eq", [](auto& a, auto& b) { return ops::eq(a, b); }, [](float x, float y) { return float(x == y); }},
      {"ne", [](auto& a, auto& b) { return ops::ne(a, b); }, [](float x, float y) { return float(x != y); }},
      {"gt", [](auto& a, auto& b) { return ops::gt(a, b); }, [](float x, float y) { return float(x > y); }},
      {"lt", [](auto& a, auto& b) { return ops::lt(a, b); }, [](float x, float y) { return float(x < y); }},
      {"ge", [](auto& a, auto& b) { return ops::ge(a, b); }, [](float x, float y) { return float(x >= y); }},
      {"le", [](auto& a, auto& b) { return ops::le(a, b); }, [](float x, float y) { return float(x <= y); }},
      {"logical_and", [](auto& a, auto& b) { return ops::logical_and(a, b); },
       [](float x, float y) { return float(x != 0 && y != 0); }},
      {"logical_or", [](auto& a, auto& b) { return ops::logical_or(a, b); },
       [](float x, float y) { return float(x != 0 || y != 0); }},
  };
}

bool is_compare(const std::string& n) {
  return n == "eq" || n == "ne" || n == "gt" || n == "lt" || n == "ge" || n == "le" || n.rfind("logical", 0) == 0;
}

// Every binary op on random broadcast-compatible shapes and layouts matches
// the naive loop exactly (small integer inputs make f32 arithmetic exact
// enough to compare bit for bit).
RC_GTEST_PROP(TensorOpsProps, BroadcastBinaryMatchesNaive, ()) {
  auto [sa, sb] = gen_bcast_shapes();
  Vec av = small_ints(numel(sa), *rc::gen::arbitrary<uint32_t>());
  Vec bv = small_ints(numel(sb), *rc::gen::arbitrary<uint32_t>());
  int la = *rc::gen::inRange(0, 5), lb = *rc::gen::inRange(0, 5);
  repeat_rows_for_expand(av, sa, la);
  repeat_rows_for_expand(bv, sb, lb);
  Tensor a = make_operand(av, sa, la);
  Tensor b = make_operand(bv, sb, lb);
  Shape out = naive_bcast_shape(sa, sb);
  for (const BinCase& c : bin_cases()) {
    Tensor r = c.op(a, b);
    RC_ASSERT(r.shape() == out);
    RC_ASSERT(r.is_contiguous());
    RC_ASSERT(r.dtype() == (is_compare(c.name) ? DType::Bool : DType::F32));
    Vec got = r.to_vector();
    for (int64_t i = 0; i < numel(out); ++i) {
      auto idx = unravel(i, out);
      float want = c.ref(av[size_t(bcast_index(sa, idx))], bv[size_t(bcast_index(sb, idx))]);
      if (!same_float(got[size_t(i)], want)) {
        RC_FAIL(std::string(c.name) + " mismatch at " + std::to_string(i) + ": " + std::to_string(got[size_t(i)]) +
                " vs " + std::to_string(want) + " for " + rbe::shape_str(sa) + " and " + rbe::shape_str(sb));
      }
    }
  }
}

RC_GTEST_PROP(TensorOpsProps, WhereMatchesNaive, ()) {
  auto [sa, sb] = gen_bcast_shapes();
  auto [sc, unused] = gen_bcast_shapes();
  (void)unused;
  // cond must broadcast with both: derive it from a's shape with extra 1s.
  sc = sa;
  for (auto& d : sc)
    if (*rc::gen::inRange(0, 2) == 0) d = 1;
  Vec cv = small_ints(numel(sc), *rc::gen::arbitrary<uint32_t>());
  Vec av = small_ints(numel(sa), *rc::gen::arbitrary<uint32_t>());
  Vec bv = small_ints(numel(sb), *rc::gen::arbitrary<uint32_t>());
  Tensor cond = ops::gt(T(cv, sc), Tensor::scalar(0.f));
  Tensor r = ops::where(cond, make_operand(av, sa, *rc::gen::inRange(0, 4)), T(bv, sb));
  Shape out = naive_bcast_shape(naive_bcast_shape(sc, sa), sb);
  RC_ASSERT(r.shape() == out);
  Vec got = r.to_vector();
  for (int64_t i = 0; i < numel(out); ++i) {
    auto idx = unravel(i, out);
    float want = cv[size_t(bcast_index(sc, idx))] > 0 ? av[size_t(bcast_index(sa, idx))] : bv[size_t(bcast_index(sb, idx))];
    RC_ASSERT(got[size_t(i)] == want);
  }
}

TEST(TensorOps, BinaryBasics) {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = T({10, 20, 30}, {3});
  Tensor col = T({100, 200}, {2, 1});
  EXPECT_EQ(ops::add(a, row).to_vector(), (Vec{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ(ops::add(a, col).to_vector(), (Vec{101, 102, 103, 204, 205, 206}));
  EXPECT_EQ(ops::sub(Tensor::scalar(1.f), a).to_vector(), (Vec{0, -1, -2, -3, -4, -5}));
  EXPECT_EQ(ops::mul(ops::transpose(a, 0, 1), T({2, 3}, {2})).to_vector(), (Vec{2, 12, 4, 15, 6, 18}));
  EXPECT_EQ(ops::div(a, Tensor::scalar(2.f)).to_vector(), (Vec{0.5, 1, 1.5, 2, 2.5, 3}));
  EXPECT_EQ(ops::add(a, 1.f).to_vector(), (Vec{2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(ops::mul(a, -1.f).to_vector(), (Vec{-1, -2, -3, -4, -5, -6}));
  EXPECT_EQ(ops::pow(a, 2.f).to_vector(), (Vec{1, 4, 9, 16, 25, 36}));
  expect_near_vec(ops::pow(a, 0.5f).to_vector(), {1, std::sqrt(2.f), std::sqrt(3.f), 2, std::sqrt(5.f), std::sqrt(6.f)}, 1e-6f);
  expect_near_vec(ops::pow(a, 1.5f).to_vector(), {1, std::pow(2.f, 1.5f), std::pow(3.f, 1.5f), 8, std::pow(5.f, 1.5f), std::pow(6.f, 1.5f)}, 1e-6f);
  // NaN propagates through maximum/minimum like torch.
  Tensor n = T({NAN, 1}, {2});
  EXPECT_TRUE(std::isnan(ops::maximum(n, T({0, 0}, {2})).to_vector()[0]));
  EXPECT_TRUE(std::isnan(ops::minimum(T({0, 0}, {2}), n).to_vector()[0]));
  // I32 and F16 inputs compute in f32.
  Tensor i = Tensor::from_vector(std::vector<int32_t>{1, 2, 3}, {3});
  Tensor r = ops::add(i, row.to(DType::F16));
  EXPECT_EQ(r.dtype(), DType::F32);
  EXPECT_EQ(r.to_vector(), (Vec{11, 22, 33}));
  // Empty tensors broadcast to empty results.
  EXPECT_EQ(ops::add(Tensor::zeros({0, 3}), row).shape(), (Shape{0, 3}));
}

TEST(TensorOps, LogicAndWhere) {
  Tensor a = T({0, 1, 2, 0}, {4}), b = T({0, 0, 3, 5}, {4});
  EXPECT_EQ(ops::logical_and(a, b).to_vector(), (Vec{0, 0, 1, 0}));
  EXPECT_EQ(ops::logical_or(a, b).to_vector(), (Vec{0, 1, 1, 1}));
  EXPECT_EQ(ops::logical_not(a).to_vector(), (Vec{1, 0, 0, 1}));
  EXPECT_EQ(ops::logical_not(a).dtype(), DType::Bool);
  EXPECT_EQ(ops::where(ops::gt(a, b), a, b).to_vector(), (Vec{0, 1, 3, 5}));
  // Non-bool condition: nonzero is true; scalar operands broadcast.
  EXPECT_EQ(ops::where(a, Tensor::scalar(7.f), Tensor::scalar(-1.f)).to_vector(), (Vec{-1, 7, 7, -1}));
  EXPECT_SHAPE_ERROR(ops::where(a, T({1, 2, 3}, {3}), b), "where");
}

// Big enough for the parallel paths: same shape, row broadcast, column
// broadcast and a transposed operand, checked against naive loops.
TEST(TensorOps, LargeBroadcastParallelPaths) {
  const int64_t R = 300, C = 257;
  Tensor a = Tensor::randn({R, C}, 1);
  Tensor row = Tensor::randn({C}, 2);
  Tensor col = Tensor::randn({R, 1}, 3);
  Tensor bt = ops::transpose(Tensor::randn({C, R}, 4), 0, 1);
  Vec av = a.to_vector(), rv = row.to_vector(), cv = col.to_vector(), bv = bt.to_vector();
  Vec s1 = ops::add(a, row).to_vector(), s2 = ops::mul(col, a).to_vector(), s3 = ops::sub(a, bt).to_vector();
  Vec s4 = ops::add(a, 0.5f).to_vector();
  Vec s5 = ops::exp(bt).to_vector();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) {
      size_t i = size_t(r * C + c);
      ASSERT_EQ(s1[i], av[i] + rv[size_t(c)]);
      ASSERT_EQ(s2[i], cv[size_t(r)] * av[i]);
      ASSERT_EQ(s3[i], av[i] - bv[i]);
      ASSERT_EQ(s4[i], av[i] + 0.5f);
      ASSERT_EQ(s5[i], std::exp(bv[i]));
    }
}

// ---------- unary ----------

TEST(TensorOps, UnaryOps) {
  Vec xs = {-3.f, -1.f, -0.5f, 0.f, 0.25f, 1.f, 2.5f};
  Tensor x = T(xs, {7});
  auto check = [&](const Tensor& got, const std::function<double(double)>& f, float tol = 1e-6f) {
    Vec want;
    for (float v : xs) want.push_back(float(f(v)));
    expect_near_vec(got.to_vector(), want, tol);
  };
  check(ops::neg(x), [](double v) { return -v; });
  check(ops::abs(x), [](double v) { return std::fabs(v); });
  check(ops::exp(x), [](double v) { return std::exp(v); });
  check(ops::tanh(x), [](double v) { return std::tanh(v); });
  check(ops::sin(x), [](double v) { return std::sin(v); });
  check(ops::cos(x), [](double v) { return std::cos(v); });
  check(ops::tan(x), [](double v) { return std::tan(v); }, 1e-5f);
  check(ops::sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); });
  check(ops::relu(x), [](double v) { return v > 0 ? v : 0; });
  check(ops::gelu(x), [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  check(ops::gelu_tanh(x), [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  });
  check(ops::silu(x), [](double v) { return v / (1 + std::exp(-v)); });
  check(ops::mish(x), [](double v) { return v * std::tanh(std::log1p(std::exp(v))); });
  Tensor p = T({0.25f, 1.f, 4.f}, {3});
  expect_near_vec(ops::log(p).to_vector(), {std::log(0.25f), 0.f, std::log(4.f)}, 1e-6f);
  expect_near_vec(ops::sqrt(p).to_vector(), {0.5f, 1.f, 2.f}, 0);
  // Extremes stay finite where they should.
  Tensor big = T({-1000.f, 1000.f}, {2});
  EXPECT_EQ(ops::sigmoid(big).to_vector(), (Vec{0.f, 1.f}));
  EXPECT_EQ(ops::mish(big).to_vector(), (Vec{-0.f, 1000.f}));
  EXPECT_EQ(ops::silu(big).to_vector(), (Vec{-0.f, 1000.f}));
  // Strided and F16 input.
  Tensor m = ops::transpose(T({1, 2, 3, 4}, {2, 2}), 0, 1);
  EXPECT_EQ(ops::neg(m).to_vector(), (Vec{-1, -3, -2, -4}));
  EXPECT_EQ(ops::abs(m.to(DType::BF16)).to_vector(), (Vec{1, 3, 2, 4}));
}

// Activations over a wide range against double formulas (they use exp-only
// rewrites for speed, so check they stay accurate in the tails too).
TEST(TensorOps, ActivationsAccurateOverRange) {
  Tensor x = Tensor::arange(-30, 30, 0.01);
  Vec xs = x.to_vector();
  auto check = [&](const char* name, const Tensor& got, const std::function<double(double)>& f) {
    Vec g = got.to_vector();
    for (size_t i = 0; i < xs.size(); ++i) {
      double w = f(xs[i]);
      ASSERT_NEAR(g[i], w, 1e-6 + 2e-6 * std::fabs(w)) << name << " at x=" << xs[i];
    }
  };
  check("sigmoid", ops::sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); });
  check("silu", ops::silu(x), [](double v) { return v / (1 + std::exp(-v)); });
  check("tanh", ops::tanh(x), [](double v) { return std::tanh(v); });
  check("gelu", ops::gelu(x), [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  check("gelu_tanh", ops::gelu_tanh(x), [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  });
  check("mish", ops::mish(x), [](double v) { return v * std::tanh(std::log1p(std::exp(v))); });
  // tanh keeps relative accuracy near 0 (a few ulps).
  Vec small = ops::tanh(Tensor::arange(-1, 1, 0.0007)).to_vector();
  Vec sx = Tensor::arange(-1, 1, 0.0007).to_vector();
  for (size_t i = 0; i < sx.size(); ++i) {
    double w = std::tanh(double(sx[i]));
    ASSERT_LE(std::fabs(small[i] - w), 5e-7 * std::fabs(w) + 1e-30) << "tanh at x=" << sx[i];
  }
}

// ---------- softmax ----------

Vec naive_softmax(const Vec& x, const Shape& s, int64_t d, bool log) {
  Vec out(x.size());
  int64_t n = s[size_t(d)], inner = 1, outer = 1;
  for (size_t i = size_t(d) + 1; i < s.size(); ++i) inner *= s[i];
  for (int64_t i = 0; i < d; ++i) outer *= s[size_t(i)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double m = -INFINITY, sum = 0;
      for (int64_t k = 0; k < n; ++k) m = std::max(m, double(x[size_t((o * n + k) * inner + j)]));
      for (int64_t k = 0; k < n; ++k) sum += std::exp(x[size_t((o * n + k) * inner + j)] - m);
      for (int64_t k = 0; k < n; ++k) {
        double v = x[size_t((o * n + k) * inner + j)] - m;
        out[size_t((o * n + k) * inner + j)] = float(log ? v - std::log(sum) : std::exp(v) / sum);
      }
    }
  return out;
}

TEST(TensorOps, Softmax) {
  Tensor x = T({1, 2, 3, 1000, 1000, 1000}, {2, 3});
  Vec s = ops::softmax(x, -1).to_vector();
  expect_near_vec(s, naive_softmax(x.to_vector(), {2, 3}, 1, false), 1e-6f);
  EXPECT_NEAR(s[3], 1.f / 3, 1e-6);  // no overflow
  Vec l = ops::log_softmax(x, 1).to_vector();
  expect_near_vec(l, naive_softmax(x.to_vector(), {2, 3}, 1, true), 1e-6f);
  // Masked entries (-inf) get probability 0.
  Tensor m = T({0, -INFINITY, 0}, {3});
  EXPECT_EQ(ops::softmax(m, 0).to_vector(), (Vec{0.5f, 0.f, 0.5f}));
  EXPECT_SHAPE_ERROR(ops::softmax(x, 2), "softmax");
}

RC_GTEST_PROP(TensorOpsProps, SoftmaxAnyDimMatchesNaive, ()) {
  int rank = *rc::gen::inRange(1, 5);
  Shape s;
  for (int i = 0; i < rank; ++i) s.push_back(*rc::gen::inRange(1, 6));
  int64_t d = *rc::gen::inRange(0, rank);
  Tensor x = Tensor::randn(s, *rc::gen::arbitrary<uint32_t>(), 0.f, 3.f);
  Vec xv = x.to_vector();
  int layout = *rc::gen::inRange(0, 3);
  Tensor xo = make_operand(xv, s, layout);
  bool log = *rc::gen::arbitrary<bool>();
  Vec got = (log ? ops::log_softmax(xo, d) : ops::softmax(xo, d)).to_vector();
  Vec want = naive_softmax(xv, s, d, log);
  for (size_t i = 0; i < got.size(); ++i) RC_ASSERT(std::fabs(got[i] - want[i]) <= 1e-5f * std::max(1.f, std::fabs(want[i])));
}

TEST(TensorOps, SoftmaxLargeParallel) {
  Shape s{64, 33, 40};
  Tensor x = Tensor::randn(s, 9);
  Vec xv = x.to_vector();
  expect_near_vec(ops::softmax(x, 2).to_vector(), naive_softmax(xv, s, 2, false), 1e-5f);
  expect_near_vec(ops::softmax(x, 1).to_vector(), naive_softmax(xv, s, 1, false), 1e-5f);
  expect_near_vec(ops::log_softmax(x, 0).to_vector(), naive_softmax(xv, s, 0, true), 1e-5f);
}

// ---------- matmul ----------

// Naive matmul with NumPy semantics on row-major values.
Vec naive_matmul(const Vec& a, Shape sa, const Vec& b, Shape sb, Shape* out_shape) {
  bool av = sa.size() == 1, bv = sb.size() == 1;
  if (av) sa.insert(sa.begin(), 1);
  if (bv) sb.push_back(1);
  int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  Shape batch = naive_bcast_shape(ba, bb);
  Vec out;
  for (int64_t bi = 0; bi < numel(batch); ++bi) {
    auto idx = unravel(bi, batch);
    int64_t oa = bcast_index(ba, idx) * M * K, ob = bcast_index(bb, idx) * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += double(a[size_t(oa + i * K + k)]) * b[size_t(ob + k * N + j)];
        out.push_back(float(s));
      }
  }
  *out_shape = batch;
  if (!av) out_shape->push_back(M);
  if (!bv) out_shape->push_back(N);
  return out;
}

TEST(TensorOps, MatmulBasics) {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = T({1, 0, 0, 1, 1, 1}, {3, 2});
  EXPECT_EQ(ops::matmul(a, b).to_vector(), (Vec{4, 5, 10, 11}));
  // Transposed views go to sgemm without a copy and give the same result.
  Tensor at = ops::transpose(T({1, 4, 2, 5, 3, 6}, {3, 2}), 0, 1);
  EXPECT_EQ(ops::matmul(at, b).to_vector(), (Vec{4, 5, 10, 11}));
  // 1-d operands: vector-matrix, matrix-vector, dot.
  EXPECT_EQ(ops::matmul(T({1, 1}, {2}), a).to_vector(), (Vec{5, 7, 9}));
  EXPECT_EQ(ops::matmul(T({1, 1}, {2}), a).shape(), (Shape{3}));
  EXPECT_EQ(ops::matmul(a, T({1, 0, 1}, {3})).to_vector(), (Vec{4, 10}));
  EXPECT_EQ(ops::matmul(T({1, 2, 3}, {3}), T({4, 5, 6}, {3})).shape(), (Shape{}));
  EXPECT_EQ(ops::matmul(T({1, 2, 3}, {3}), T({4, 5, 6}, {3})).item(), 32.f);
  // K == 0 gives zeros; empty M gives an empty result.
  EXPECT_EQ(ops::matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 3})).to_vector(), Vec(6, 0.f));
  EXPECT_EQ(ops::matmul(Tensor::zeros({0, 2}), Tensor::zeros({2, 3})).shape(), (Shape{0, 3}));
  EXPECT_SHAPE_ERROR(ops::matmul(a, a), "matmul: shapes [2, 3] and [2, 3]");
  EXPECT_SHAPE_ERROR(ops::matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 1})), "matmul");
  EXPECT_SHAPE_ERROR(ops::matmul(Tensor::scalar(1.f), a), "matmul");
}

// Linear-layer shape ([B, T, C] x [C, N], the folded single-GEMM path) and
// attention shapes (batched, with a transposed key view).
TEST(TensorOps, MatmulModelShapes) {
  Tensor x = Tensor::randn({3, 5, 8}, 1), w = Tensor::randn({8, 6}, 2);
  Shape os;
  Vec want = naive_matmul(x.to_vector(), {3, 5, 8}, w.to_vector(), {8, 6}, &os);
  Tensor y = ops::matmul(x, w);
  EXPECT_EQ(y.shape(), os);
  expect_near_vec(y.to_vector(), want, 1e-5f);
  // w stored as [N, C] and used transposed (the usual nn.Linear layout).
  Tensor wt = ops::transpose(w.contiguous(), 0, 1).contiguous();
  expect_near_vec(ops::matmul(x, ops::transpose(wt, 0, 1)).to_vector(), want, 1e-5f);
  Tensor q = Tensor::randn({2, 4, 7, 16}, 3), k = Tensor::randn({2, 4, 7, 16}, 4);
  Tensor kt = ops::transpose(k, -1, -2);
  Vec kt_vals = kt.to_vector();
  Vec want2 = naive_matmul(q.to_vector(), {2, 4, 7, 16}, kt_vals, {2, 4, 16, 7}, &os);
  Tensor att = ops::matmul(q, kt);
  EXPECT_EQ(att.shape(), (Shape{2, 4, 7, 7}));
  expect_near_vec(att.to_vector(), want2, 1e-5f);
  // Many small matrices (parallel over the batch).
  Tensor a = Tensor::randn({600, 4, 5}, 5), b = Tensor::randn({600, 5, 3}, 6);
  Vec want3 = naive_matmul(a.to_vector(), {600, 4, 5}, b.to_vector(), {600, 5, 3}, &os);
  expect_near_vec(ops::matmul(a, b).to_vector(), want3, 1e-5f);
}

RC_GTEST_PROP(TensorOpsProps, MatmulMatchesNaive, ()) {
  int64_t M = *rc::gen::inRange(1, 7), K = *rc::gen::inRange(1, 7), N = *rc::gen::inRange(1, 7);
  auto [ba, bb] = gen_bcast_shapes();
  while (ba.size() > 2) ba.erase(ba.begin());  // keep it small: batch rank <= 2
  while (bb.size() > 2) bb.erase(bb.begin());
  int kind = *rc::gen::inRange(0, 4);  // 0: both matrices, 1: a 1-d, 2: b 1-d, 3: both 1-d
  Shape sa = ba, sb = bb;
  if (kind == 1 || kind == 3) sa = {K}; else { sa.push_back(M); sa.push_back(K); }
  if (kind == 2 || kind == 3) sb = {K}; else { sb.push_back(K); sb.push_back(N); }
  Vec av = small_ints(numel(sa), *rc::gen::arbitrary<uint32_t>());
  Vec bv = small_ints(numel(sb), *rc::gen::arbitrary<uint32_t>());
  int la = *rc::gen::inRange(0, 5), lb = *rc::gen::inRange(0, 5);
  repeat_rows_for_expand(av, sa, la);
  repeat_rows_for_expand(bv, sb, lb);
  Tensor a = make_operand(av, sa, la);
  Tensor b = make_operand(bv, sb, lb);
  Shape os;
  Vec want = naive_matmul(av, sa, bv, sb, &os);
  Tensor r = ops::matmul(a, b);
  RC_ASSERT(r.shape() == os);
  RC_ASSERT(r.to_vector() == want);  // small integers: exact
}

// ---------- reductions ----------

struct Ref {
  Vec sum, mean, var_u, var_b, min, max, norm1, norm2, norm3;
  std::vector<int32_t> argmin, argmax;
};

// All reductions over dim d by naive double loops.
Ref naive_reduce(const Vec& x, const Shape& s, int64_t d) {
  Ref r;
  int64_t n = s[size_t(d)], inner = 1, outer = 1;
  for (size_t i = size_t(d) + 1; i < s.size(); ++i) inner *= s[i];
  for (int64_t i = 0; i < d; ++i) outer *= s[size_t(i)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double sum = 0, sq = 0, n1 = 0, n2 = 0, n3 = 0;
      float mn = INFINITY, mx = -INFINITY;
      int32_t imn = 0, imx = 0;
      for (int64_t k = 0; k < n; ++k) {
        float v = x[size_t((o * n + k) * inner + j)];
        sum += v;
        n1 += std::fabs(v);
        n2 += double(v) * v;
        n3 += std::pow(std::fabs(double(v)), 3.0);
        if (v < mn) { mn = v; imn = int32_t(k); }
        if (v > mx) { mx = v; imx = int32_t(k); }
      }
      double mean = sum / double(n);
      for (int64_t k = 0; k < n; ++k) {
        double dv = x[size_t((o * n + k) * inner + j)] - mean;
        sq += dv * dv;
      }
      r.sum.push_back(float(sum));
      r.mean.push_back(float(mean));
      r.var_u.push_back(n > 1 ? float(sq / double(n - 1)) : NAN);
      r.var_b.push_back(float(sq / double(n)));
      r.min.push_back(mn);
      r.max.push_back(mx);
      r.argmin.push_back(imn);
      r.argmax.push_back(imx);
      r.norm1.push_back(float(n1));
      r.norm2.push_back(float(std::sqrt(n2)));
      r.norm3.push_back(float(std::cbrt(n3)));
    }
  return r;
}

RC_GTEST_PROP(TensorOpsProps, ReductionsMatchNaive, ()) {
  int rank = *rc::gen::inRange(1, 5);
  Shape s;
  for (int i = 0; i < rank; ++i) s.push_back(*rc::gen::inRange(1, 6));
  int64_t d = *rc::gen::inRange(0, rank);
  bool keep = *rc::gen::arbitrary<bool>();
  bool ints = *rc::gen::arbitrary<bool>();  // ints give ties for argmin/argmax
  Vec xv = ints ? small_ints(numel(s), *rc::gen::arbitrary<uint32_t>())
                : Tensor::randn(s, *rc::gen::arbitrary<uint32_t>()).to_vector();
  Tensor x = make_operand(xv, s, *rc::gen::inRange(0, 4));
  xv = x.to_vector();  // the F16 layout rounds the values
  Ref r = naive_reduce(xv, s, d);
  Shape os = s;
  if (keep) os[size_t(d)] = 1; else os.erase(os.begin() + d);
  int64_t dn = d - rank;  // also exercise negative dims
  auto close = [](const Vec& got, const Vec& want) {
    if (got.size() != want.size()) return false;
    for (size_t i = 0; i < got.size(); ++i)
      if (!(std::isnan(want[i]) ? std::isnan(got[i]) : std::fabs(got[i] - want[i]) <= 1e-5f * std::max(1.f, std::fabs(want[i]))))
        return false;
    return true;
  };
  RC_ASSERT(ops::sum(x, d, keep).shape() == os);
  RC_ASSERT(close(ops::sum(x, dn, keep).to_vector(), r.sum));
  RC_ASSERT(close(ops::mean(x, d, keep).to_vector(), r.mean));
  RC_ASSERT(close(ops::var(x, d, true, keep).to_vector(), r.var_u));
  RC_ASSERT(close(ops::var(x, d, false, keep).to_vector(), r.var_b));
  Vec sd;
  for (float v : r.var_u) sd.push_back(std::sqrt(v));
  RC_ASSERT(close(ops::std(x, d, true, keep).to_vector(), sd));
  RC_ASSERT(ops::min(x, d, keep).to_vector() == r.min);
  RC_ASSERT(ops::max(x, d, keep).to_vector() == r.max);
  Tensor am = ops::argmin(x, d, keep), ax = ops::argmax(x, d, keep);
  RC_ASSERT(am.dtype() == DType::I32);
  RC_ASSERT(am.shape() == os);
  RC_ASSERT(am.to_int_vector() == r.argmin);
  RC_ASSERT(ax.to_int_vector() == r.argmax);
  RC_ASSERT(close(ops::norm(x, 1.f, d, keep).to_vector(), r.norm1));
  RC_ASSERT(close(ops::norm(x, 2.f, d, keep).to_vector(), r.norm2));
  RC_ASSERT(close(ops::norm(x, 3.f, d, keep).to_vector(), r.norm3));
  // Whole-tensor reductions equal reducing the flattened values.
  Ref all = naive_reduce(xv, {numel(s)}, 0);
  RC_ASSERT(ops::sum(x).dim() == 0);
  RC_ASSERT(close({ops::sum(x).item()}, all.sum));
  RC_ASSERT(close({ops::mean(x).item()}, all.mean));
  RC_ASSERT(close({ops::var(x).item()}, all.var_u));
  RC_ASSERT(close({ops::std(x, false).item()}, {std::sqrt(all.var_b[0])}));
  RC_ASSERT(ops::min(x).item() == all.min[0]);
  RC_ASSERT(ops::max(x).item() == all.max[0]);
  RC_ASSERT(ops::argmin(x).to_int_vector()[0] == all.argmin[0]);
  RC_ASSERT(ops::argmax(x).to_int_vector()[0] == all.argmax[0]);
  RC_ASSERT(close({ops::norm(x).item()}, all.norm2));
}

TEST(TensorOps, ReductionEdgeCases) {
  Tensor x = T({1, 5, 5, 2, 0, 0}, {2, 3});
  EXPECT_EQ(ops::argmax(x, 1).to_int_vector(), (std::vector<int32_t>{1, 0}));  // first of ties
  EXPECT_EQ(ops::argmin(x, 1).to_int_vector(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(ops::argmax(x).item(), 1.f);
  EXPECT_EQ(ops::sum(x, 0, true).shape(), (Shape{1, 3}));
  // n == 1 with unbiased var is NaN (like PyTorch); biased is 0.
  EXPECT_TRUE(std::isnan(ops::var(T({3}, {1})).item()));
  EXPECT_EQ(ops::var(T({3}, {1}), false).item(), 0.f);
  EXPECT_TRUE(std::isnan(ops::var(Tensor::ones({1, 3}), int64_t(0)).to_vector()[0]));
  // NaN wins max/argmax.
  Tensor n = T({1, NAN, 3}, {3});
  EXPECT_TRUE(std::isnan(ops::max(n).item()));
  EXPECT_EQ(ops::argmax(n).item(), 1.f);
  EXPECT_TRUE(std::isnan(ops::min(n, 0).item()));
  // Empty reductions.
  EXPECT_EQ(ops::sum(Tensor::zeros({0, 3})).item(), 0.f);
  EXPECT_EQ(ops::sum(Tensor::zeros({0, 3}), 0).to_vector(), Vec(3, 0.f));
  EXPECT_TRUE(std::isnan(ops::mean(Tensor::zeros({0})).item()));
  EXPECT_SHAPE_ERROR(ops::max(Tensor::zeros({0})), "max");
  EXPECT_SHAPE_ERROR(ops::argmax(Tensor::zeros({2, 0}), 1), "argmax");
  EXPECT_SHAPE_ERROR(ops::sum(x, 2), "sum");
  // Norms: inf and 0.
  Tensor v = T({3, -4, 0}, {3});
  EXPECT_EQ(ops::norm(v).item(), 5.f);
  EXPECT_EQ(ops::norm(v, 1.f).item(), 7.f);
  EXPECT_EQ(ops::norm(v, INFINITY).item(), 4.f);
  EXPECT_EQ(ops::norm(v, 0.f).item(), 2.f);
  // Accuracy: a million values of 0.1 sum to 1e5 (a naive float loop drifts).
  Tensor big = Tensor::full({1 << 20}, 0.1f);
  EXPECT_NEAR(ops::sum(big).item(), 0.1 * (1 << 20), 1e-2);
  EXPECT_NEAR(ops::mean(big).item(), 0.1f, 1e-7);
  // Large var over the last dim and a middle dim (parallel paths).
  Tensor r = ops::add(Tensor::randn({40, 50, 60}, 3), 1000.f);  // big mean: needs two passes
  Vec rv = r.to_vector();
  for (int64_t d : {1, 2}) {
    Ref ref = naive_reduce(rv, {40, 50, 60}, d);
    expect_near_vec(ops::var(r, d).to_vector(), ref.var_u, 1e-3f);
    expect_near_vec(ops::sum(r, d).to_vector(), ref.sum, 1e-6f);
  }
}

// ---------- shape ops ----------

TEST(TensorOps, ReshapeAndView) {
  Tensor x = Tensor::arange(0, 24);
  Tensor r = ops::reshape(x, {2, -1, 4});
  EXPECT_EQ(r.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(r.storage(), x.storage());  // a view
  EXPECT_EQ(ops::view(r, {6, 4}).storage(), x.storage());
  // A transposed tensor cannot be viewed flat: reshape copies, view throws.
  Tensor t = ops::transpose(r, 1, 2);
  Tensor flat = ops::reshape(t, {-1});
  EXPECT_NE(flat.storage(), x.storage());
  EXPECT_EQ(flat.to_vector(), t.to_vector());
  EXPECT_SHAPE_ERROR(ops::view(t, {24}), "view");
  // But merging dims that stay contiguous is still a view.
  EXPECT_EQ(ops::view(t, {2, 2, 2, 3}).storage(), x.storage());
  EXPECT_EQ(ops::view(ops::transpose(r, 0, 1), {3, 2, 2, 2}).storage(), x.storage());
  EXPECT_SHAPE_ERROR(ops::reshape(x, {5, -1}), "reshape: cannot reshape [24] to [5, -1]");
  EXPECT_SHAPE_ERROR(ops::reshape(x, {-1, -1}), "reshape");
  EXPECT_SHAPE_ERROR(ops::reshape(x, {5, 5}), "[24]");
  EXPECT_EQ(ops::reshape(Tensor::scalar(2.f), {1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(ops::reshape(Tensor::ones({1, 1}), {}).item(), 1.f);
}

TEST(TensorOps, TransposePermuteSqueeze) {
  Tensor x = ops::reshape(Tensor::arange(0, 6), {2, 3});
  Tensor t = ops::transpose(x, 0, -1);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.to_vector(), (Vec{0, 3, 1, 4, 2, 5}));
  Tensor p = ops::permute(ops::reshape(Tensor::arange(0, 24), {2, 3, 4}), {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.at({3, 1, 2}), 23.f);
  EXPECT_SHAPE_ERROR(ops::permute(x, {0, 0}), "permute");
  EXPECT_SHAPE_ERROR(ops::permute(x, {0}), "permute");
  Tensor u = ops::unsqueeze(x, 1);
  EXPECT_EQ(u.shape(), (Shape{2, 1, 3}));
  EXPECT_TRUE(u.is_contiguous());
  EXPECT_EQ(ops::unsqueeze(x, -1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(ops::squeeze(u, 1).shape(), (Shape{2, 3}));
  EXPECT_SHAPE_ERROR(ops::squeeze(x, 0), "squeeze");
  EXPECT_SHAPE_ERROR(ops::transpose(x, 0, 2), "transpose");
}

TEST(TensorOps, SliceAndIndexSelect) {
  Tensor x = ops::reshape(Tensor::arange(0, 12), {3, 4});
  EXPECT_EQ(ops::slice(x, 1, 1, 3).to_vector(), (Vec{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(ops::slice(x, 1, -2, 100).to_vector(), (Vec{2, 3, 6, 7, 10, 11}));
  EXPECT_EQ(ops::slice(x, 1, 0, 4, 3).to_vector(), (Vec{0, 3, 4, 7, 8, 11}));
  EXPECT_EQ(ops::slice(x, 0, 5, 9).shape(), (Shape{0, 4}));
  EXPECT_EQ(ops::slice(x, 0, 2, 1).shape(), (Shape{0, 4}));
  EXPECT_EQ(ops::slice(x, 0, -100, 1).to_vector(), (Vec{0, 1, 2, 3}));
  EXPECT_EQ(ops::slice(x, 0, 1, 2).storage(), x.storage());
  EXPECT_SHAPE_ERROR(ops::slice(x, 0, 0, 2, 0), "slice");
  Tensor idx = Tensor::from_vector(std::vector<int32_t>{2, 0, 2}, {3});
  Tensor s = ops::index_select(x, 0, idx);
  EXPECT_EQ(s.shape(), (Shape{3, 4}));
  EXPECT_EQ(s.to_vector(), (Vec{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  EXPECT_EQ(ops::index_select(x, 1, idx).to_vector(), (Vec{2, 0, 2, 6, 4, 6, 10, 8, 10}));
  EXPECT_EQ(ops::index_select(ops::transpose(x, 0, 1), 0, idx).to_vector(), (Vec{2, 6, 10, 0, 4, 8, 2, 6, 10}));
  // dtype is kept (token ids stay I32).
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{5, 6, 7}, {3});
  EXPECT_EQ(ops::index_select(ids, 0, idx).to_int_vector(), (std::vector<int32_t>{7, 5, 7}));
  Tensor bad = Tensor::from_vector(std::vector<int32_t>{0, 3}, {2});
  EXPECT_SHAPE_ERROR(ops::index_select(x, 0, bad), "index 3");
  EXPECT_SHAPE_ERROR(ops::index_select(x, 0, Tensor::from_vector(std::vector<int32_t>{-1}, {1})), "index -1");
  EXPECT_SHAPE_ERROR(ops::index_select(x, 0, T({0}, {1})), "I32");
}

TEST(TensorOps, ConcatAndSplit) {
  Tensor a = ops::reshape(Tensor::arange(0, 6), {2, 3});
  Tensor b = ops::reshape(Tensor::arange(6, 10), {2, 2});
  Tensor c = ops::concat({a, b}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 5}));
  EXPECT_EQ(c.to_vector(), (Vec{0, 1, 2, 6, 7, 3, 4, 5, 8, 9}));
  EXPECT_EQ(ops::concat({a, a}, 0).shape(), (Shape{4, 3}));
  EXPECT_EQ(ops::concat({ops::transpose(a, 0, 1), b}, 0).to_vector(), (Vec{0, 3, 1, 4, 2, 5, 6, 7, 8, 9}));
  EXPECT_SHAPE_ERROR(ops::concat({a, b}, 0), "concat: shapes [2, 3] and [2, 2]");
  EXPECT_SHAPE_ERROR(ops::concat({a, Tensor::zeros({6})}, 0), "concat");
  EXPECT_SHAPE_ERROR(ops::concat({}, 0), "concat");
  auto parts = ops::split(c, std::vector<int64_t>{3, 2}, 1);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].to_vector(), a.to_vector());
  EXPECT_EQ(parts[1].to_vector(), b.to_vector());
  EXPECT_EQ(parts[1].storage(), c.storage());
  auto chunks = ops::split(c, int64_t(2), 1);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2].shape(), (Shape{2, 1}));
  EXPECT_SHAPE_ERROR(ops::split(c, std::vector<int64_t>{3, 3}, 1), "split: sizes [3, 3] do not sum to 5");
  EXPECT_SHAPE_ERROR(ops::split(c, int64_t(0), 1), "split");
}

RC_GTEST_PROP(TensorOpsProps, ShapeRoundTrips, ()) {
  int rank = *rc::gen::inRange(1, 5);
  Shape s;
  for (int i = 0; i < rank; ++i) s.push_back(*rc::gen::inRange(1, 6));
  Vec xv = small_ints(numel(s), *rc::gen::arbitrary<uint32_t>());
  Tensor x = make_operand(xv, s, *rc::gen::inRange(0, 4));
  // reshape flat and back
  RC_ASSERT(ops::reshape(ops::reshape(x, {-1}), s).to_vector() == xv);
  // permute, compare with naive permutation, and invert
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  std::iota(perm.begin(), perm.end(), 0);
  for (int i = rank - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(*rc::gen::inRange(0, i + 1))]);
  Tensor p = ops::permute(x, perm);
  Shape ps(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) ps[size_t(i)] = s[size_t(perm[size_t(i)])];
  RC_ASSERT(p.shape() == ps);
  Vec pv = p.to_vector();
  for (int64_t i = 0; i < numel(ps); ++i) {
    auto pi = unravel(i, ps);
    std::vector<int64_t> si(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) si[size_t(perm[size_t(d)])] = pi[size_t(d)];
    int64_t lin = 0;
    for (int d = 0; d < rank; ++d) lin = lin * s[size_t(d)] + si[size_t(d)];
    RC_ASSERT(pv[size_t(i)] == xv[size_t(lin)]);
  }
  std::vector<int64_t> inv(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) inv[size_t(perm[size_t(i)])] = i;
  RC_ASSERT(ops::permute(p, inv).to_vector() == xv);
  // reshape of a permuted (non-contiguous) tensor matches its values
  RC_ASSERT(ops::reshape(p, {-1}).to_vector() == pv);
  // split into random sizes along a dim, then concat back
  int64_t d = *rc::gen::inRange(0, rank);
  std::vector<int64_t> sizes;
  for (int64_t left = s[size_t(d)]; left > 0;) {
    int64_t k = *rc::gen::inRange<int64_t>(1, left + 1);
    if (*rc::gen::inRange(0, 4) == 0) sizes.push_back(0);  // empty parts are allowed
    sizes.push_back(k);
    left -= k;
  }
  if (sizes.empty()) sizes.push_back(s[size_t(d)]);
  RC_ASSERT(ops::concat(ops::split(x, sizes, d), d).to_vector() == xv);
  int64_t chunk = *rc::gen::inRange<int64_t>(1, 6);
  RC_ASSERT(ops::concat(ops::split(x, chunk, d), d).to_vector() == xv);
  // slice with step: compare with naive selection
  int64_t start = *rc::gen::inRange<int64_t>(-6, 7), end = *rc::gen::inRange<int64_t>(-6, 7);
  int64_t step = *rc::gen::inRange<int64_t>(1, 4);
  Tensor sl = ops::slice(x, d, start, end, step);
  int64_t n = s[size_t(d)];
  auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  std::vector<int64_t> picked;
  for (int64_t i = clamp(start); i < clamp(end); i += step) picked.push_back(i);
  RC_ASSERT(sl.size(d) == int64_t(picked.size()));
  Vec sv = sl.to_vector();
  for (int64_t i = 0; i < sl.numel(); ++i) {
    auto idx = unravel(i, sl.shape());
    idx[size_t(d)] = picked[size_t(idx[size_t(d)])];
    int64_t lin = 0;
    for (int q = 0; q < rank; ++q) lin = lin * s[size_t(q)] + idx[size_t(q)];
    RC_ASSERT(sv[size_t(i)] == xv[size_t(lin)]);
  }
}

// ---------- in-place ----------

TEST(TensorOps, InPlace) {
  Tensor d = Tensor::zeros({2, 3});
  Tensor src = ops::transpose(ops::reshape(Tensor::arange(0, 6), {3, 2}), 0, 1);
  ops::copy_(d, src);
  EXPECT_EQ(d.to_vector(), src.to_vector());
  ops::add_(d, src, 2.f);
  EXPECT_EQ(d.to_vector(), (Vec{0, 6, 12, 3, 9, 15}));
  ops::add_(d, Tensor::ones({2, 3}).to(DType::F16));
  EXPECT_EQ(d.to_vector(), (Vec{1, 7, 13, 4, 10, 16}));
  ops::mul_(d, 0.5f);
  EXPECT_EQ(d.to_vector(), (Vec{0.5, 3.5, 6.5, 2, 5, 8}));
  ops::fill_(d, 3.f);
  EXPECT_EQ(d.to_vector(), Vec(6, 3.f));
  // copy_ converts dtypes and writes through views.
  Tensor h = Tensor::zeros({2, 3}, DType::BF16);
  ops::copy_(h, src);
  EXPECT_EQ(h.to_vector(), src.to_vector());
  Tensor i = Tensor::zeros({3}, DType::I32);
  ops::copy_(i, T({1.5f, -2.5f, 7.f}, {3}));
  EXPECT_EQ(i.to_int_vector(), (std::vector<int32_t>{1, -2, 7}));
  Tensor big = Tensor::zeros({4, 4});
  Tensor col = ops::slice(big, 1, 1, 2);
  ops::fill_(col, 9.f);
  ops::add_(col, Tensor::ones({4, 1}));
  EXPECT_EQ(ops::sum(big).item(), 40.f);
  EXPECT_EQ(big.at({2, 1}), 10.f);
  EXPECT_SHAPE_ERROR(ops::copy_(d, Tensor::zeros({3, 2})), "copy_: shapes [2, 3] and [3, 2]");
  EXPECT_SHAPE_ERROR(ops::add_(d, Tensor::zeros({3})), "add_");
  EXPECT_SHAPE_ERROR(ops::add_(i, Tensor::zeros({3})), "add_");
  // Large add_ (parallel path) with a strided source.
  Tensor g = Tensor::zeros({400, 300});
  Tensor gs = ops::transpose(Tensor::randn({300, 400}, 8), 0, 1);
  ops::add_(g, gs, -1.f);
  Vec gv = g.to_vector(), sv = gs.to_vector();
  for (size_t k = 0; k < gv.size(); ++k) ASSERT_EQ(gv[k], -sv[k]);
}

}  // namespace
