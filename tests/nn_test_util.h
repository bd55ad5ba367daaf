#pragma once
// Helpers shared by the nn / gpt2 / generate tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "autodiff/functional.h"
#include "autodiff/node.h"
#include "tensor/tensor.h"

namespace rbe::testutil {

inline Tensor leaf(const Shape& s, uint64_t seed, float std = 1.f) {
  Tensor t = Tensor::randn(s, seed, 0.f, std);
  t.set_requires_grad(true);
  return t;
}

inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  float m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

// Scalar probe: sum(y * R) with a fixed random R, so every output element
// contributes a different weight to the gradient.
inline Tensor probe(const Tensor& y, uint64_t seed = 999) {
  return rbe::sum(rbe::mul(y, Tensor::randn(y.shape(), seed)));
}

// Gradients of probe(f()) with respect to `inputs` (grads are reset first).
inline std::vector<Tensor> grads_of(const std::function<Tensor()>& f, const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs) t.set_grad(Tensor());
  rbe::backward(probe(f()));
  std::vector<Tensor> g;
  for (const Tensor& t : inputs) g.push_back(t.grad());
  return g;
}

// Central finite differences of probe(f()) with respect to every element of
// `input`, compared against its analytic gradient.
inline void check_finite_differences(const std::function<Tensor()>& f, Tensor input, float h, float tol) {
  Tensor analytic = grads_of(f, {input})[0];
  ASSERT_TRUE(analytic.defined());
  std::vector<float> an = analytic.to_vector();
  float* p = input.data<float>();
  NoGradGuard ng;
  for (int64_t i = 0; i < input.numel(); ++i) {
    const float orig = p[i];
    p[i] = orig + h;
    const double up = probe(f()).item();
    p[i] = orig - h;
    const double down = probe(f()).item();
    p[i] = orig;
    const double num = (up - down) / (2.0 * h);
    EXPECT_NEAR(an[size_t(i)], num, tol * (1.0 + std::fabs(num))) << "element " << i;
  }
}

}  // namespace rbe::testutil
