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

// The products behind the rotation and the DCT, bit for bit: every output
// is a fused multiply-add chain over the inner index in increasing order,
// from 0 (the arithmetic files have been written with; the decoder must
// repeat it exactly). The matrices come from the functions themselves, a
// column at a time: on an n x 1 block the other side's matrix is [1] (and
// its sign +-1), so the column comes out exactly.
std::vector<float> fma_product(const std::vector<float>& A, const std::vector<float>& B, int n, int inner, int m,
                               bool a_transposed) {
  // C[i][j] = sum_k A(i, k) B[k][j], A(i, k) = A[i][k] or A[k][i].
  std::vector<float> C(size_t(n) * size_t(m));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) {
      float acc = 0.f;
      for (int k = 0; k < inner; ++k) {
        const float a = a_transposed ? A[size_t(k) * size_t(n) + size_t(i)] : A[size_t(i) * size_t(inner) + size_t(k)];
        acc = std::fma(a, B[size_t(k) * size_t(m) + size_t(j)], acc);
      }
      C[size_t(i) * size_t(m) + size_t(j)] = acc;
    }
  return C;
}

std::vector<float> transposed(const std::vector<float>& A, int n, int m) {
  std::vector<float> T(A.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) T[size_t(j) * size_t(n) + size_t(i)] = A[size_t(i) * size_t(m) + size_t(j)];
  return T;
}

// M[i][a] = op(e_a)[i] for an n x 1 block (row-major n x n).
template <class Op>
std::vector<float> columns_of(int n, Op op) {
  std::vector<float> M(size_t(n) * size_t(n));
  for (int a = 0; a < n; ++a) {
    std::vector<float> e(size_t(n), 0.f);
    e[size_t(a)] = 1.f;
    op(e.data(), n);
    for (int i = 0; i < n; ++i) M[size_t(i) * size_t(n) + size_t(a)] = e[size_t(i)];
  }
  return M;
}

RC_GTEST_PROP(CodecTransformsProps, ProductsAreFmaChainsInOrder, ()) {
  const int rows = *rc::gen::inRange(1, 100), cols = *rc::gen::inRange(1, 100);
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>(), key = *rc::gen::inRange<uint64_t>(0, 1000);
  const auto x = randn(size_t(rows) * cols, seed ^ 11);
  // DCT: Y = C X C^T forward, C^T X C inverse.
  const auto dct = [](int n) {
    return columns_of(n, [](float* v, int len) { forward_transform(Transform::DCT, v, len, 1); });
  };
  const auto Cr = dct(rows), Cc = dct(cols);
  auto y = x;
  forward_transform(Transform::DCT, y.data(), rows, cols);
  RC_ASSERT(y == fma_product(fma_product(Cr, x, rows, rows, cols, false), transposed(Cc, cols, cols), rows, cols,
                             cols, false));
  y = x;
  inverse_transform(Transform::DCT, y.data(), rows, cols);
  RC_ASSERT(y == fma_product(fma_product(Cr, x, rows, rows, cols, true), Cc, rows, cols, cols, false));

  // Rotation: Y = Mr (S o X) Mc^T with S[a][b] = sr[a] sc[b]; inverse X = S o (Mr^T Y Mc).
  // Rotating n x 1 blocks gives the columns of Mr diag(sr) sc[0], 1 x n blocks those of
  // Mc diag(sc) sr[0], a 1 x 1 block sr[0] sc[0]. Row 0 of Mr and Mc is positive
  // (Hadamard and DCT), so row 0 of each gives the signs.
  auto rot = [&](int r, int c) { return [=](float* v, int) { rotate_block(v, r, c, seed, key, false); }; };
  const auto Ur = columns_of(rows, rot(rows, 1)), Vc = columns_of(cols, rot(1, cols));
  float s00 = 1.f;
  rotate_block(&s00, 1, 1, seed, key, false);
  RC_ASSERT(std::fabs(s00) == 1.f);
  const auto sign_of = [](float v) { return v > 0 ? 1.f : -1.f; };
  std::vector<float> S(x.size()), Mr(Ur.size()), Mc(Vc.size());
  for (int a = 0; a < rows; ++a)
    for (int b = 0; b < cols; ++b)
      S[size_t(a) * cols + size_t(b)] = sign_of(Ur[size_t(a)]) * sign_of(Vc[size_t(b)]) * s00;
  for (size_t i = 0; i < Ur.size(); ++i) Mr[i] = Ur[i] * sign_of(Ur[i % size_t(rows)]);
  for (size_t i = 0; i < Vc.size(); ++i) Mc[i] = Vc[i] * sign_of(Vc[i % size_t(cols)]);
  auto signed_x = x;
  for (size_t i = 0; i < x.size(); ++i) signed_x[i] *= S[i];
  y = x;
  rotate_block(y.data(), rows, cols, seed, key, false);
  RC_ASSERT(y == fma_product(fma_product(Mr, signed_x, rows, rows, cols, false), transposed(Mc, cols, cols), rows,
                             cols, cols, false));
  auto back = fma_product(fma_product(Mr, y, rows, rows, cols, true), Mc, rows, cols, cols, false);
  for (size_t i = 0; i < back.size(); ++i) back[i] *= S[i];
  rotate_block(y.data(), rows, cols, seed, key, true);
  RC_ASSERT(y == back);
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
