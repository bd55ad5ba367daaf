// Generator records: bit layouts, checked setters, round trips (fixed cases
// and RapidCheck properties), the CORDIC variant, and the generator formula
// against an independent evaluation of docs/format.md's definition.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "codec/records.h"

namespace rbe::codec {
namespace {

constexpr double kTwoPi = 6.283185307179586;

TEST(CodecRecords, Packed128RoundTripsEveryField) {
  DecodedParams p;
  p.r = 0.625f, p.theta = 1.25f, p.basis = 9, p.d_theta = 2, p.d_r = 1, p.rotation = 13, p.curvature_log2 = -3;
  const Packed128 k = Packed128::from_params(p);
  const DecodedParams q = k.params();
  EXPECT_NEAR(q.r, p.r, 0x1p-21);
  EXPECT_NEAR(q.theta, p.theta, kTwoPi * 0x1p-24);
  EXPECT_EQ(q.basis, 9);
  EXPECT_EQ(q.d_theta, 2);
  EXPECT_EQ(q.d_r, 1);
  EXPECT_EQ(q.rotation, 13);
  EXPECT_EQ(q.curvature_log2, -3);
  EXPECT_FLOAT_EQ(q.curvature(), 0.125f);
  EXPECT_EQ(k.hi & 0x3F, 0u);  // reserved bits stay zero
  // The layout by hand: r = 0.625 -> 0xA0000 in [63:44], basis 9 in [19:16].
  EXPECT_EQ(k.hi >> 44, 0xA0000u);
  EXPECT_EQ((k.hi >> 16) & 0xF, 9u);
  EXPECT_EQ((k.hi >> 6) & 7, 5u);  // -3 in 3-bit two's complement
}

TEST(CodecRecords, CheckedSettersRejectOutOfRange) {
  PoincarePackedBit128 b;
  EXPECT_THROW(b.set_basis(16), std::out_of_range);
  EXPECT_THROW(b.set_basis(-1), std::out_of_range);
  EXPECT_THROW(b.set_d_theta(4), std::out_of_range);
  EXPECT_THROW(b.set_d_r(2), std::out_of_range);
  EXPECT_THROW(b.set_rotation(16), std::out_of_range);
  EXPECT_THROW(b.set_curvature_log2(4), std::out_of_range);
  EXPECT_THROW(b.set_curvature_log2(-5), std::out_of_range);
  EXPECT_THROW(b.set_r(1.0f), std::out_of_range);
  EXPECT_THROW(b.set_r(-0.1f), std::out_of_range);
  EXPECT_THROW(b.set_r_code(1u << 20), std::out_of_range);
  EXPECT_THROW(b.set_theta(NAN), std::out_of_range);
  EXPECT_EQ(b.bits(), 0u);  // failed sets leave the word untouched
}

RC_GTEST_PROP(CodecRecordsProps, BitfieldsRoundTrip, ()) {
  const uint32_t r = *rc::gen::inRange<uint32_t>(0, 1u << 20);
  const uint32_t t = *rc::gen::inRange<uint32_t>(0, 1u << 24);
  const int basis = *rc::gen::inRange(0, 16), dt = *rc::gen::inRange(0, 4), dr = *rc::gen::inRange(0, 2);
  const int rot = *rc::gen::inRange(0, 16), lc = *rc::gen::inRange(-4, 4);
  PoincarePackedBit128 b;
  b.set_r_code(r), b.set_theta_code(t), b.set_basis(basis), b.set_d_theta(dt), b.set_d_r(dr), b.set_rotation(rot),
      b.set_curvature_log2(lc);
  RC_ASSERT(b.r_code() == r);
  RC_ASSERT(b.theta_code() == t);
  RC_ASSERT(b.basis() == basis);
  RC_ASSERT(b.d_theta() == dt);
  RC_ASSERT(b.d_r() == dr);
  RC_ASSERT(b.rotation() == rot);
  RC_ASSERT(b.curvature_log2() == lc);
  RC_ASSERT(b.reserved() == 0);
  // Through params() and back, and through the text form.
  Packed128 k;
  k.hi = b.bits();
  // θ travels as f32 radians, which cannot hold every Q0.24 code: within 1 step.
  const PoincarePackedBit128 back(Packed128::from_params(k.params()).hi);
  RC_ASSERT((back.bits() & ~(uint64_t(0xFFFFFF) << 20)) == (k.hi & ~(uint64_t(0xFFFFFF) << 20)));
  const int64_t dcode = (int64_t(back.theta_code()) - int64_t(t) + (1 << 24) + 1) % (1 << 24);
  RC_ASSERT(dcode <= 2);
  const auto parsed = BitPattern::parse(BitPattern::format(b.bits()));
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(*parsed == b.bits());
}

TEST(CodecRecords, BitPatternRejectsMalformedText) {
  const std::string ok = BitPattern::format(Packed128::from_params(DecodedParams{}).hi);
  EXPECT_TRUE(BitPattern::parse(ok).has_value());
  EXPECT_EQ(ok, "r=0x00000|theta=0x000000|basis=0|dtheta=0|dr=0|rot=0|logc=0|res=0");
  EXPECT_FALSE(BitPattern::parse("").has_value());
  EXPECT_FALSE(BitPattern::parse("r=0x00000|theta=0x000000|basis=16|dtheta=0|dr=0|rot=0|logc=0|res=0").has_value());
  EXPECT_FALSE(BitPattern::parse("r=0x00000|theta=0x000000|basis=0|dtheta=0|dr=0|rot=0|logc=0").has_value());
  EXPECT_FALSE(BitPattern::parse("r=0x00000|theta=0x000000|basis=0|dtheta=0|dr=0|rot=0|logc=0|res=1").has_value());
  EXPECT_FALSE(BitPattern::parse("r=zz|theta=0x000000|basis=0|dtheta=0|dr=0|rot=0|logc=0|res=0").has_value());
  EXPECT_FALSE(BitPattern::parse("theta=0|r=0|basis=0|dtheta=0|dr=0|rot=0|logc=0|res=0").has_value());
}

TEST(CodecRecords, Seed1CarriesContinuousValuesAndRequantizes) {
  DecodedParams p;
  p.r = 0.5f, p.theta = 1.0f, p.basis = 1;
  Packed128 k = Packed128::from_params(p);
  EXPECT_EQ(k.continuous().first, 0.5f);
  EXPECT_EQ(k.continuous().second, 1.0f);
  // A training step moves the continuous values; requantize writes them into Seed 0.
  k.set_continuous(0.3f, -0.5f);
  EXPECT_NEAR(k.params().r, 0.5f, 1e-6);  // unchanged until requantize
  k.requantize();
  EXPECT_NEAR(k.params().r, 0.3f, 0x1p-21);
  EXPECT_NEAR(k.params().theta, kTwoPi - 0.5, 1e-6);  // wrapped to [0, 2π)
  EXPECT_EQ(k.params().basis, 1);                    // other fields kept
  k.set_continuous(1.7f, NAN);                       // out of range: clamped, not thrown
  k.requantize();
  EXPECT_LT(k.params().r, 1.f);
  EXPECT_GT(k.params().r, 0.999f);
}

TEST(CodecRecords, Packed64CordicMatchesTargets) {
  for (float r : {0.f, 0.1f, 0.37f, 0.5f, 0.79f})
    for (float th : {0.f, 0.3f, 1.5707964f, 3.f, 4.5f, 6.2f}) {
      const DecodedParams p = Packed64::from_params(r, th).params();
      EXPECT_NEAR(p.r, r, 2e-6) << r << " " << th;
      const double d = std::remainder(double(p.theta) - th, kTwoPi);
      EXPECT_NEAR(d, 0.0, 2e-6) << r << " " << th;
      EXPECT_EQ(p.basis, 1);
    }
}

// Independent evaluation of the plane wave in docs/format.md.
double plane_wave(const DecodedParams& p, int i, int j, int rows, int cols, double shift) {
  const double u = 2.0 * (j + 0.5) / cols - 1, v = 2.0 * (i + 0.5) / rows - 1;
  const double phi = p.rotation * M_PI / 8;
  const double omega = 2.0 / std::sqrt(std::ldexp(1.0, p.curvature_log2)) * std::atanh(p.r);
  return p.amplitude * std::cos(omega * (u * std::cos(phi) + v * std::sin(phi)) + p.theta + shift);
}

TEST(CodecRecords, GeneratorMatchesTheDocumentedFormula) {
  DecodedParams p;
  p.r = 0.6f, p.theta = 0.7f, p.rotation = 3, p.curvature_log2 = -2, p.amplitude = 1.5f;
  const int rows = 7, cols = 12;
  std::vector<float> g(rows * cols);
  for (int basis : {1, 2}) {
    for (int dt : {0, 1, 2, 3}) {
      p.basis = basis, p.d_theta = dt;
      generate_block(p, rows, cols, g.data());
      // d^n/dθ^n cos(t) = cos(t + nπ/2); sin(t) = cos(t - π/2).
      const double shift = dt * M_PI / 2 - (basis == 2 ? M_PI / 2 : 0);
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) ASSERT_NEAR(g[i * cols + j], plane_wave(p, i, j, rows, cols, shift), 1e-5);
    }
  }
  // Constant and linear ramp.
  p = DecodedParams{};
  p.amplitude = 2.f;
  generate_block(p, rows, cols, g.data());
  for (float v : g) EXPECT_EQ(v, 2.f);
  p.basis = 6, p.rotation = 0, p.amplitude = 1.f;
  generate_block(p, rows, cols, g.data());
  EXPECT_NEAR(g[0], 2.0 * 0.5 / cols - 1, 1e-6);
  EXPECT_NEAR(g[cols - 1], 1 - 2.0 * 0.5 / cols, 1e-6);
}

TEST(CodecRecords, DerivativeBitsDifferentiate) {
  // d/dθ of the Gaussian bump (basis 3) and d/dr of the plane wave, against
  // finite differences of the generator itself at shifted parameters.
  DecodedParams p;
  p.basis = 3, p.r = 0.4f, p.theta = 2.5f, p.rotation = 2;
  const int n = 8;
  std::vector<float> d(n * n), a(n * n), b(n * n);
  p.d_theta = 1;
  generate_block(p, n, n, d.data());
  DecodedParams q = p;
  q.d_theta = 0, q.theta = p.theta + 1e-3f;
  generate_block(q, n, n, a.data());
  q.theta = p.theta - 1e-3f;
  generate_block(q, n, n, b.data());
  for (int i = 0; i < n * n; ++i) EXPECT_NEAR(d[i], (a[i] - b[i]) / 2e-3f, 2e-3);
  p = DecodedParams{};
  p.basis = 1, p.r = 0.5f, p.theta = 0.3f, p.d_r = 1;
  generate_block(p, n, n, d.data());
  q = p;
  q.d_r = 0, q.r = 0.501f;
  generate_block(q, n, n, a.data());
  q.r = 0.499f;
  generate_block(q, n, n, b.data());
  for (int i = 0; i < n * n; ++i) EXPECT_NEAR(d[i], (a[i] - b[i]) / 0.002f, 5e-3);
}

TEST(CodecRecords, EveryBasisIsFiniteAndBounded) {
  std::vector<float> g(16 * 16);
  for (int basis = 0; basis < kBasisCount; ++basis)
    for (int dt = 0; dt < 4; ++dt) {
      DecodedParams p;
      p.basis = basis, p.d_theta = dt, p.r = 0.3f, p.theta = 1.f, p.rotation = 5;
      generate_block(p, 16, 16, g.data());
      for (float v : g) ASSERT_TRUE(std::isfinite(v)) << basis << " " << dt;
    }
}

}  // namespace
}  // namespace rbe::codec
