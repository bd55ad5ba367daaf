// Unit tests of the autodiff core and the differentiable ops: known gradients,
// accumulation, no-grad mode, graph release, views, checkpointing.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "autodiff/functional.h"

namespace rbe {
namespace {

Tensor leaf(const std::vector<float>& v, const Shape& s) {
  Tensor t = Tensor::from_vector(v, s);
  t.set_requires_grad(true);
  return t;
}

void expect_near_vec(const std::vector<float>& a, const std::vector<float>& b, float tol = 1e-5f) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

TEST(Autograd, SimpleKnownGradients) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor w = leaf({4, 5, 6}, {3});
  Tensor loss = sum(x * x + x * w);  // d/dx = 2x + w, d/dw = x
  backward(loss);
  expect_near_vec(x.grad().to_vector(), {6, 9, 12});
  expect_near_vec(w.grad().to_vector(), {1, 2, 3});
  EXPECT_EQ(x.grad().shape(), Shape{3});
}

TEST(Autograd, BroadcastGradientsHaveInputShape) {
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({10, 20, 30}, {3});
  Tensor c = leaf({2}, {1, 1});
  backward(sum((a + b) * c));
  EXPECT_EQ(b.grad().shape(), Shape{3});
  EXPECT_EQ(c.grad().shape(), (Shape{1, 1}));
  expect_near_vec(a.grad().to_vector(), {2, 2, 2, 2, 2, 2});
  expect_near_vec(b.grad().to_vector(), {4, 4, 4});
  expect_near_vec(c.grad().to_vector(), {141});  // sum(a + b) = 21 + 2 * 60
}

TEST(Autograd, AccumulatesOverTwoBackwardCalls) {
  Tensor x = leaf({1, -2}, {2});
  backward(sum(x * 3.f));
  backward(sum(x * x));
  expect_near_vec(x.grad().to_vector(), {3 + 2, 3 - 4});
}

TEST(Autograd, NoGradScopeRecordsNothing) {
  Tensor x = leaf({1, 2}, {2});
  {
    NoGradGuard guard;
    Tensor y = exp(x) * x;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(grad_enabled());
  Tensor z = exp(x);
  EXPECT_TRUE(z.requires_grad());
  EXPECT_NE(z.grad_fn(), nullptr);
}

TEST(Autograd, InputsWithoutGradRecordNothing) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2}, {2});
  Tensor y = matmul(a, a) + sum(exp(a));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THROW(backward(y), std::logic_error);
}

TEST(Autograd, GraphFreedAfterBackward) {
  Tensor x = leaf({0.5f, 1.5f}, {2});
  std::weak_ptr<Node> inner;
  Tensor loss;
  {
    Tensor y = exp(x);
    inner = y.grad_fn();
    loss = sum(y * 2.f);
  }
  EXPECT_FALSE(inner.expired());  // owned through loss's graph
  backward(loss);
  EXPECT_TRUE(inner.expired());
  // The root's node has dropped its inputs: a second pass cannot run.
  EXPECT_ANY_THROW(backward(loss));
}

TEST(Autograd, SharedSubexpressionUsedTwice) {
  Tensor x = leaf({0.1f, -0.3f, 0.7f}, {3});
  Tensor y = exp(x);
  Tensor z = sum(y * y + y);  // dz/dx = (2y + 1) y
  backward(z);
  auto xv = x.to_vector();
  auto g = x.grad().to_vector();
  for (int i = 0; i < 3; ++i) {
    float e = std::exp(xv[i]);
    EXPECT_NEAR(g[i], (2 * e + 1) * e, 1e-5f);
  }
}

TEST(Autograd, SameTensorBothOperands) {
  Tensor x = leaf({3}, {1});
  backward(sum(x * x));
  expect_near_vec(x.grad().to_vector(), {6});
}

TEST(Autograd, TransposeGradFlowsToBase) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor t = transpose(x, 0, 1);  // [3, 2], a view
  EXPECT_EQ(t.storage(), x.storage());
  backward(sum(t * w));
  EXPECT_EQ(x.grad().shape(), (Shape{2, 3}));
  // x.grad[i][j] = w[j][i]
  expect_near_vec(x.grad().to_vector(), {1, 3, 5, 2, 4, 6});
}

TEST(Autograd, SliceGradFlowsToBase) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  Tensor s = slice(x, 1, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  backward(sum(s * 3.f));
  expect_near_vec(x.grad().to_vector(), {0, 3, 0, 3, 0, 3, 0, 3});
}

TEST(Autograd, SplitPiecesHaveOwnNodes) {
  Tensor x = leaf({1, 2, 3, 4, 5}, {5});
  auto parts = split(x, std::vector<int64_t>{2, 3}, 0);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_NE(parts[0].grad_fn(), parts[1].grad_fn());
  backward(sum(parts[1] * 2.f));
  expect_near_vec(x.grad().to_vector(), {0, 0, 2, 2, 2});
  backward(sum(parts[0]));
  expect_near_vec(x.grad().to_vector(), {1, 1, 2, 2, 2});
}

TEST(Autograd, ConcatGradsAreSlices) {
  Tensor a = leaf({1, 2}, {1, 2});
  Tensor b = leaf({3, 4, 5, 6}, {2, 2});
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  backward(sum(concat({a, b}, 0) * w));
  expect_near_vec(a.grad().to_vector(), {1, 2});
  expect_near_vec(b.grad().to_vector(), {3, 4, 5, 6});
}

TEST(Autograd, IndexSelectRepeatedIndicesAccumulate) {
  Tensor e = leaf({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor idx = Tensor::from_vector(std::vector<int32_t>{2, 0, 2}, {3});
  backward(sum(index_select(e, 0, idx)));
  expect_near_vec(e.grad().to_vector(), {1, 1, 0, 0, 2, 2});
}

TEST(Autograd, MaxAllGoesToFirstExtreme) {
  Tensor x = leaf({1, 5, 5, 2}, {4});
  backward(max(x));
  expect_near_vec(x.grad().to_vector(), {0, 1, 0, 0});
  Tensor y = leaf({3, -1, -1}, {3});
  backward(min(y));
  expect_near_vec(y.grad().to_vector(), {0, 1, 0});
}

TEST(Autograd, MatmulVectorPromotion) {
  Tensor a = leaf({1, 2}, {2});
  Tensor b = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = matmul(a, b);  // [3]
  EXPECT_EQ(y.shape(), Shape{3});
  backward(sum(y));
  EXPECT_EQ(a.grad().shape(), Shape{2});
  expect_near_vec(a.grad().to_vector(), {6, 15});
  expect_near_vec(b.grad().to_vector(), {1, 1, 1, 2, 2, 2});
}

TEST(Autograd, NonScalarBackwardWithoutGradOutputThrows) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x * 2.f;
  EXPECT_THROW(backward(y), ShapeError);
  backward(y, Tensor::from_vector(std::vector<float>{1, 10}, {2}));
  expect_near_vec(x.grad().to_vector(), {2, 20});
}

TEST(Autograd, NormAtZeroHasZeroGrad) {
  Tensor x = leaf({0, 0, 0}, {3});
  backward(norm(x));
  expect_near_vec(x.grad().to_vector(), {0, 0, 0});
}

TEST(Autograd, OnlyInputsThatRequireGradGetOne) {
  Tensor a = leaf({1, 2}, {2});
  Tensor b = Tensor::from_vector(std::vector<float>{3, 4}, {2});
  backward(sum(a * b + matmul(a, b)));
  expect_near_vec(a.grad().to_vector(), {9, 12});  // b + 2b: the 0-d matmul broadcasts over 2 elements
  EXPECT_FALSE(b.grad().defined());
}

// Large tensors take the parallel paths (elementwise, softmax rows, embedding
// scatter); their gradients must match the same rows computed one at a time.
TEST(Autograd, ParallelPathsMatchSmallPieces) {
  const int64_t rows = 600, cols = 128;
  Tensor x = Tensor::randn({rows, cols}, 11);
  x.set_requires_grad(true);
  Tensor w = Tensor::randn({rows, cols}, 12);
  backward(sum(softmax(gelu_tanh(x), -1) * w));
  std::vector<float> big = x.grad().to_vector();
  for (int64_t r : {int64_t(0), int64_t(317), rows - 1}) {
    Tensor xr = ops::slice(x.detach(), 0, r, r + 1).clone();
    xr.set_requires_grad(true);
    backward(sum(softmax(gelu_tanh(xr), -1) * ops::slice(w, 0, r, r + 1)));
    std::vector<float> small = xr.grad().to_vector();
    for (int64_t c = 0; c < cols; ++c) ASSERT_NEAR(big[r * cols + c], small[c], 1e-5f) << r << "," << c;
  }

  Tensor emb = Tensor::zeros({50, cols});
  emb.set_requires_grad(true);
  std::vector<int32_t> ids(rows);
  for (int64_t i = 0; i < rows; ++i) ids[i] = int32_t((i * 7) % 50);
  Tensor out = index_select(emb, 0, Tensor::from_vector(ids, {rows}));
  backward(out, w);
  std::vector<float> expect(50 * cols, 0.f), wv = w.to_vector();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c) expect[ids[i] * cols + c] += wv[i * cols + c];
  expect_near_vec(emb.grad().to_vector(), expect, 1e-4f);
}

// A small 2-layer function with captured parameters, run plainly and through
// checkpoint(): the same value and the same gradients for inputs and parameters.
TEST(Autograd, CheckpointMatchesPlainComputation) {
  auto make = [](uint64_t seed, const Shape& s) {
    Tensor t = Tensor::randn(s, seed);
    t.set_requires_grad(true);
    return t;
  };
  Tensor w1 = make(1, {4, 5}), b1 = make(2, {5}), w2 = make(3, {5, 3});
  auto layer = [&](const std::vector<Tensor>& in) { return matmul(gelu_tanh(matmul(in[0], w1) + b1), w2); };

  Tensor x1 = make(4, {2, 4});
  Tensor plain = layer({x1});
  backward(sum(plain * plain));
  std::vector<std::vector<float>> ref = {x1.grad().to_vector(), w1.grad().to_vector(), b1.grad().to_vector(),
                                         w2.grad().to_vector()};
  for (Tensor* p : {&w1, &b1, &w2}) p->set_grad(Tensor());

  Tensor x2 = make(4, {2, 4});
  Tensor ck = checkpoint(layer, {x2});
  expect_near_vec(ck.to_vector(), plain.to_vector());
  ASSERT_TRUE(ck.requires_grad());
  backward(sum(ck * ck));
  std::vector<std::vector<float>> got = {x2.grad().to_vector(), w1.grad().to_vector(), b1.grad().to_vector(),
                                         w2.grad().to_vector()};
  for (size_t i = 0; i < ref.size(); ++i) expect_near_vec(got[i], ref[i], 1e-4f);
}

}  // namespace
}  // namespace rbe
