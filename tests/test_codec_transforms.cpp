// Block transforms: exact inverses (RapidCheck over shapes), orthonormality
// where promised, the DCT against its defining sum, wavelet behaviour on
// smooth signals, and the seeded rotation.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "codec/metrics.h"
#include "codec/transforms.h"

namespace rbe::codec {
namespace {

std::vector<float> randn(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> N;
  std::vector<float> v(n);
  for (auto& x : v) x = N(g);
  return v;
}

RC_GTEST_PROP(CodecTransformsProps, InverseUndoesForward, ()) {
  const int rows = *rc::gen::inRange(1, 70), cols = *rc::gen::inRange(1, 70);
  const Transform t = *rc::gen::element(Transform::DCT, Transform::Haar, Transform::CDF97);
  const auto x = randn(size_t(rows) * cols, *rc::gen::arbitrary<uint32_t>());
  auto y = x;
  forward_transform(t, y.data(), rows, cols);
  inverse_transform(t, y.data(), rows, cols);
  RC_ASSERT(rel_rmse(x.data(), y.data(), int64_t(x.size())) < 1e-5);
  // Orthonormal transforms keep the energy; CDF 9/7 nearly.
  auto z = x;
  forward_transform(t, z.data(), rows, cols);
  const double ratio = sum_sq(z.data(), int64_t(z.size())) / sum_sq(x.data(), int64_t(x.size()));
  if (t == Transform::CDF97) {
    // Biorthogonal: per level the energy gain lies within the frame bounds
    // [0.59, 1.62] of the balanced 9/7 pair (squared for 2-D levels).
    RC_ASSERT(ratio > 0.3 && ratio < 3.0);
  } else {
    RC_ASSERT(std::fabs(ratio - 1) < 1e-4);
  }
}

RC_GTEST_PROP(CodecTransformsProps, RotationIsOrthonormalAndInvertible, ()) {
  const int rows = *rc::gen::inRange(1, 70), cols = *rc::gen::inRange(1, 70);
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>(), key = *rc::gen::inRange<uint64_t>(0, 1000);
  const auto x = randn(size_t(rows) * cols, seed ^ 7);
  auto y = x;
  rotate_block(y.data(), rows, cols, seed, key, false);
  RC_ASSERT(std::fabs(sum_sq(y.data(), int64_t(y.size())) / sum_sq(x.data(), int64_t(x.size())) - 1) < 1e-4);
  rotate_block(y.data(), rows, cols, seed, key, true);
  RC_ASSERT(rel_rmse(x.data(), y.data(), int64_t(x.size())) < 1e-5);
}

TEST(CodecTransforms, DctMatchesDefinition) {
  const int n = 13;
  auto x = randn(n, 3);
  auto y = x;
  dct_1d(y.data(), n, false);
  for (int k = 0; k < n; ++k) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += x[i] * std::cos(M_PI * (2 * i + 1) * k / (2.0 * n));
    s *= k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
    EXPECT_NEAR(y[k], s, 1e-5);
  }
  dct_1d(y.data(), n, true);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i], 1e-5);
}

TEST(CodecTransforms, HaarOfAPairIsSumAndDifference) {
  float x[2] = {3.f, 1.f};
  // wavelet_levels(2) is 0 (the low band keeps >= 4): a pair is left alone ...
  haar_1d(x, 2, false);
  EXPECT_EQ(x[0], 3.f);
  // ... an 8-sample signal gets one level: (a+b)/√2 low band, (a-b)/√2 high band.
  float y[8] = {3, 1, 2, 2, 0, 4, 1, 1};
  haar_1d(y, 8, false);
  EXPECT_NEAR(y[0], 4 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(y[4], 2 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(y[6], -4 / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(wavelet_levels(64), 4);
}

TEST(CodecTransforms, WaveletsCompactSmoothSignals) {
  // A linear ramp: CDF 9/7 has 4 vanishing moments, so its detail bands are
  // ~0 away from the boundary; Haar's are constant; DCT compacts it too.
  const int n = 64;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = 0.1f * i - 3.f;
  auto c = x;
  cdf97_1d(c.data(), n, false);
  for (int i = 34; i < 62; ++i) EXPECT_NEAR(c[i], 0.f, 1e-4) << i;  // finest details, interior
  // Most of the energy sits in the 4-sample low band.
  double low = 0, all = 0;
  for (int i = 0; i < n; ++i) all += double(c[i]) * c[i], low += i < 4 ? double(c[i]) * c[i] : 0;
  EXPECT_GT(low / all, 0.95);
}

TEST(CodecTransforms, Cdf97KeepsTheEnergyOfWhiteNoise) {
  auto x = randn(64 * 64, 21);
  const double e0 = sum_sq(x.data(), int64_t(x.size()));
  forward_transform(Transform::CDF97, x.data(), 64, 64);
  EXPECT_NEAR(sum_sq(x.data(), int64_t(x.size())) / e0, 1.0, 0.05);
}

TEST(CodecTransforms, RotationSpreadsAnOutlier) {
  std::vector<float> x(64 * 64, 0.f);
  x[5 * 64 + 9] = 100.f;
  rotate_block(x.data(), 64, 64, 42, 0, false);
  float mx = 0;
  for (float v : x) mx = std::max(mx, std::fabs(v));
  EXPECT_NEAR(mx, 100.f / 64, 1e-3);  // every weight gets ±100/64
  // Different keys give different rotations.
  std::vector<float> a(64, 1.f), b(64, 1.f);
  rotate_block(a.data(), 8, 8, 42, 1, false);
  rotate_block(b.data(), 8, 8, 42, 2, false);
  EXPECT_NE(a, b);
}

TEST(CodecTransforms, AdaptiveIsNotAConcreteTransform) {
  float x[4] = {1, 2, 3, 4};
  EXPECT_THROW(forward_transform(Transform::Adaptive, x, 2, 2), std::invalid_argument);
}

}  // namespace
}  // namespace rbe::codec
