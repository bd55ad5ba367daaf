// Trellis-coded quantization: trellis structure, decoder agreement, the
// vector search against the scalar loop, and its measured rate-distortion
// against the Shannon bound next to scalar ECSQ.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <random>
#include <vector>

#include "codec/metrics.h"
#include "codec/tcq.h"

namespace rbe::codec {
namespace {

TEST(CodecTcq, TrellisIsUngerboeckShaped) {
  // Branches leaving a state use D0/D2 or D1/D3 (one union), every state is
  // entered by exactly two branches of one union, and all 8 states are reachable.
  std::map<int, std::vector<int>> entering;
  for (int s = 0; s < 8; ++s) {
    const int a = tcq_subset(s, 0), b = tcq_subset(s, 1);
    EXPECT_EQ(a % 2, s % 2);
    EXPECT_EQ(std::abs(a - b), 2);
    for (int br = 0; br < 2; ++br) entering[tcq_next_state(s, br)].push_back(tcq_subset(s, br));
  }
  ASSERT_EQ(entering.size(), 8u);
  for (auto& [t, subs] : entering) {
    ASSERT_EQ(subs.size(), 2u);
    EXPECT_EQ(subs[0] % 2, subs[1] % 2);
    EXPECT_NE(subs[0], subs[1]);
  }
}

std::vector<float> gaussian(int n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> N;
  std::vector<float> x(n);
  for (auto& v : x) v = N(g);
  return x;
}

double context_entropy(const std::vector<int32_t>& s, const std::vector<uint8_t>& c) {
  std::map<std::pair<int, int>, double> cnt;
  std::map<int, double> tot;
  for (size_t i = 0; i < s.size(); ++i) cnt[{c[i], s[i]}] += 1, tot[c[i]] += 1;
  double h = 0;
  for (auto& [k, v] : cnt) h -= v * std::log2(v / tot[k.first]);
  return h;
}

TEST(CodecTcq, DecoderFollowsTheEncodersTrellis) {
  const auto x = gaussian(4096, 5);
  std::vector<int32_t> sym(x.size());
  std::vector<uint8_t> ctx(x.size());
  const RateModel rm = RateModel::gaussian(1 / 0.3, true);
  const double d = tcq_quantize(x.data(), int64_t(x.size()), 0.3f, 0.03f, rm, sym.data(), ctx.data());
  std::vector<float> y(x.size());
  tcq_dequantize(sym.data(), int64_t(x.size()), 0.3f, y.data());
  EXPECT_NEAR(d, sum_sq_diff(x.data(), y.data(), int64_t(x.size())), 1e-12 * d);
  TcqTracker t;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(t.context(), ctx[i]) << i;
    t.next(sym[i], 0.3f);
  }
  // Every reconstruction is in its state's union: even k in even states.
  EXPECT_LT(d / double(x.size()), 0.3 * 0.3);
}

// tcq_quantize (vector lanes under AVX2) against the plain loop it replaces:
// the same symbols, contexts and error, bit for bit, whatever the rate model
// (the Gaussian prior, tables from counts so short that most symbols escape,
// an empty one), the step, the length, and inputs with zeros, ties between
// points, huge values (clamped) and tiny ones.
// Every vector search this CPU has (AVX2, AVX-512), and tcq_quantize's choice.
TEST(CodecTcq, VectorSearchMatchesTheScalarLoop) {
  std::vector<std::pair<std::string, TcqFn>> searches = {{"tcq_quantize", &tcq_quantize}};
  for (const char* name : {"avx2", "avx512"})
    if (const TcqFn f = tcq_kernel(name)) searches.push_back({name, f});
  if (searches.size() < 3)
    std::cout << "[ NOTE     ] " << 3 - searches.size() << " vector search(es) not on this CPU\n";
  std::mt19937_64 g(17);
  std::normal_distribution<float> N;
  std::uniform_int_distribution<int> len(1, 300);
  std::vector<uint64_t> few[2] = {{3, 9, 3}, {1, 5}};
  const int32_t few_lo[2] = {-1, 0};
  std::vector<uint64_t> wide[2] = {std::vector<uint64_t>(41, 2), std::vector<uint64_t>(40, 1)};
  const int32_t wide_lo[2] = {-20, -20};
  const RateModel models[] = {RateModel::gaussian(1 / 0.3, true), RateModel::gaussian(40, true),
                              RateModel::from_counts(few, few_lo, 2), RateModel::from_counts(wide, wide_lo, 2),
                              RateModel()};
  int cases = 0;
  for (const RateModel& rm : models)
    for (float step : {0.3f, 0.02f, 1.7f})
      for (int rep = 0; rep < 12; ++rep) {
        const int n = rep == 0 ? 4096 : len(g);
        std::vector<float> x(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
          switch (int(g() % 8)) {
            case 0: x[size_t(i)] = 0.f; break;
            case 1: x[size_t(i)] = step * float(int(g() % 41) - 20) * 0.5f; break;  // on points and half-way
            case 2: x[size_t(i)] = N(g) * 1e12f; break;
            case 3: x[size_t(i)] = N(g) * 1e-30f; break;
            default: x[size_t(i)] = N(g) * step * float(1 + g() % 6);
          }
        }
        const float lambda = 0.35f * step * step * float(1 + g() % 3);
        std::vector<int32_t> s1(static_cast<size_t>(n)), s2(static_cast<size_t>(n));
        std::vector<uint8_t> c1(static_cast<size_t>(n)), c2(static_cast<size_t>(n));
        const double d2 = tcq_quantize_scalar(x.data(), n, step, lambda, rm, s2.data(), c2.data());
        for (const auto& [name, search] : searches) {
          std::fill(s1.begin(), s1.end(), -7);
          const double d1 = search(x.data(), n, step, lambda, rm, s1.data(), c1.data());
          ASSERT_EQ(s1, s2) << name << ", step " << step << ", n " << n << ", rep " << rep;
          ASSERT_EQ(c1, c2) << name;
          ASSERT_EQ(d1, d2) << name;
        }
        ++cases;
      }
  EXPECT_EQ(cases, 5 * 3 * 12);
}

// Quantizes with two model refinements (as the codec does); returns (bits/sample, SNR dB).
std::pair<double, double> rd_point(const std::vector<float>& x, float step, bool tcq) {
  const int n = int(x.size()), B = 4096;
  std::vector<int32_t> s(n);
  std::vector<uint8_t> c(n);
  RateModel rm = RateModel::gaussian(1.0 / step, tcq);
  double d = 0;
  for (int pass = 0; pass < 2; ++pass) {
    d = 0;
    const float lambda = (tcq ? 0.35f : 0.1f) * step * step;
    for (int b = 0; b < n; b += B)
      d += tcq ? tcq_quantize(&x[b], B, step, lambda, rm, &s[b], &c[b]) : sq_quantize(&x[b], B, step, lambda, rm, &s[b], &c[b]);
    std::vector<uint64_t> counts[2];
    int32_t lo[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      int32_t mn = INT32_MAX, mx = INT32_MIN;
      for (int i = 0; i < n; ++i)
        if (c[i] == k) mn = std::min(mn, s[i]), mx = std::max(mx, s[i]);
      if (mn > mx) mn = mx = 0;
      lo[k] = mn;
      counts[k].assign(size_t(mx - mn + 1), 0);
      for (int i = 0; i < n; ++i)
        if (c[i] == k) ++counts[k][size_t(s[i] - mn)];
    }
    rm = RateModel::from_counts(counts, lo, tcq ? 2 : 1);
  }
  return {context_entropy(s, c) / n, 10 * std::log10(double(n) / d)};
}

TEST(CodecTcq, EctcqBeatsEcsqTowardsTheShannonBound) {
  // Unit Gaussian: D(R) bound is 6.02 R dB. ECSQ sits ~1.53 dB below at
  // these rates; 8-state ECTCQ should be within ~0.5-1 dB.
  const auto x = gaussian(1 << 16, 9);
  for (float step : {0.5f, 0.25f}) {
    const auto [rs, snr_s] = rd_point(x, step * 0.6f, false);
    const auto [rt, snr_t] = rd_point(x, step, true);
    const double gap_s = 6.0206 * rs - snr_s, gap_t = 6.0206 * rt - snr_t;
    EXPECT_GT(gap_s, 1.2) << "ECSQ at " << rs << " bits";
    EXPECT_LT(gap_s, 1.8) << "ECSQ at " << rs << " bits";
    EXPECT_LT(gap_t, 0.8) << "ECTCQ at " << rt << " bits";
    EXPECT_GT(gap_t, 0.0) << "ECTCQ cannot beat the bound";
  }
}

}  // namespace
}  // namespace rbe::codec
