// kernels::argmax_f32 against a scalar reference: ties (first index wins),
// NaNs (never win), infinities, every length around the 8-lane blocks.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/kernels/argmax.h"

namespace {

int64_t reference_argmax(const std::vector<float>& x) {
  int64_t best = -1;
  for (int64_t i = 0; i < int64_t(x.size()); ++i)
    if (!std::isnan(x[size_t(i)]) && (best < 0 || x[size_t(i)] > x[size_t(best)])) best = i;
  return best < 0 ? 0 : best;
}

TEST(Argmax, MatchesScalarReferenceWithTiesNaNsAndInfinities) {
  EXPECT_TRUE(rc::check([] {
    // Few distinct values, so that ties are common.
    const std::vector<float> kValues = {-2.f, -1.f, 0.f, 1.f, 1.5f, 3.f, std::numeric_limits<float>::quiet_NaN(),
                                        INFINITY, -INFINITY};
    const auto x = *rc::gen::container<std::vector<float>>(rc::gen::elementOf(kValues));
    RC_ASSERT(rbe::kernels::argmax_f32(x.data(), int64_t(x.size())) == reference_argmax(x));
  }));
}

TEST(Argmax, MatchesScalarReferenceOverLongerRuns) {
  // Lengths past the four 32-value chains, their 8-value tail and the scalar tail.
  EXPECT_TRUE(rc::check([] {
    const std::vector<float> kValues = {-1.f, 0.f, 2.f, 5.f, std::numeric_limits<float>::quiet_NaN(), -INFINITY};
    const auto n = *rc::gen::inRange<size_t>(0, 400);
    const auto x = *rc::gen::container<std::vector<float>>(n, rc::gen::elementOf(kValues));
    RC_ASSERT(rbe::kernels::argmax_f32(x.data(), int64_t(x.size())) == reference_argmax(x));
  }));
}

TEST(Argmax, FirstOfEqualMaximaAcrossChains) {
  std::vector<float> x(100, 0.f);
  x[99] = 4.f;  // the scalar tail
  x[90] = 4.f;  // the 8-value tail after the 32-value steps
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), 100), 90);
  x[57] = 4.f;  // chain 3 of the second step
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), 100), 57);
  x[41] = 4.f;  // chain 1 of the second step
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), 100), 41);
  x[30] = 4.f;  // chain 3 of the first step
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), 100), 30);
  x[50] = 5.f;  // a larger value later wins
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), 100), 50);
}

TEST(Argmax, FirstOfEqualMaximaAcrossLanesAndTail) {
  std::vector<float> x(50257, 0.f);
  x[50256] = 7.f;  // the tail (50257 = 8 * 6282 + 1)
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), int64_t(x.size())), 50256);
  x[9] = 7.f;  // lane 1 of block 1 ties the tail; the lower index wins
  x[20] = 7.f;
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), int64_t(x.size())), 9);
  x[3] = 7.f;
  EXPECT_EQ(rbe::kernels::argmax_f32(x.data(), int64_t(x.size())), 3);
}

TEST(Argmax, AllNaNOrEmptyGivesZeroAndAllMinusInfinityGivesTheFirst) {
  std::vector<float> nan(13, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(rbe::kernels::argmax_f32(nan.data(), 13), 0);
  EXPECT_EQ(rbe::kernels::argmax_f32(nullptr, 0), 0);
  nan[11] = -INFINITY;
  nan[12] = -INFINITY;
  EXPECT_EQ(rbe::kernels::argmax_f32(nan.data(), 13), 11);
}

}  // namespace
