// sample_token against a plain reference: probabilities in double through
// std::exp, every candidate sorted, the top-k and top-p prefixes by their
// definitions, the draw from the same uniform number. The sampler computes
// its exponentials in float, so a token may differ only where u falls
// within rounding of a boundary between two tokens (or the nucleus' mass
// within rounding of top_p); the property checks that every difference is
// such a case. Also: the frequencies follow the probabilities, -inf logits
// are never drawn, NaN logits fall back to the greedy pick.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "generate/generate.h"

namespace {

using rbe::Rng;
using rbe::SamplingParams;

struct Reference {
  std::vector<int32_t> kept;  // in draw order
  std::vector<double> prob;   // unnormalised, per kept token
  std::vector<double> cum;    // the top-p prefix's running mass, per candidate (normalised)
  int32_t token = -1;
};

// Assumes finite logits, temperature > 0 and top_k != 1 (the greedy cases are checked apart).
Reference reference_sample(const std::vector<float>& logits, const SamplingParams& p, double u) {
  const int64_t V = int64_t(logits.size());
  std::vector<int32_t> cand(static_cast<size_t>(V));
  std::iota(cand.begin(), cand.end(), 0);
  const bool top_k = p.top_k > 0 && p.top_k < V, top_p = p.top_p > 0.f && p.top_p < 1.f;
  if (top_k || top_p)
    std::stable_sort(cand.begin(), cand.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  if (top_k) cand.resize(size_t(p.top_k));
  float mx = -INFINITY;
  for (int32_t t : cand) mx = std::max(mx, logits[t]);
  Reference r;
  std::vector<double> prob;
  double total = 0;
  for (int32_t t : cand) {
    prob.push_back(std::exp((double(logits[t]) - double(mx)) / double(p.temperature)));
    total += prob.back();
  }
  size_t keep = cand.size();
  if (top_p) {
    double cum = 0;
    for (size_t i = 0; i < cand.size(); ++i) {
      cum += prob[i] / total;
      r.cum.push_back(cum);
      if (cum >= double(p.top_p)) {
        keep = i + 1;
        break;
      }
    }
  }
  r.kept.assign(cand.begin(), cand.begin() + ptrdiff_t(keep));
  r.prob.assign(prob.begin(), prob.begin() + ptrdiff_t(keep));
  double kept_total = 0;
  for (double q : r.prob) kept_total += q;
  double left = u * kept_total;
  for (size_t i = 0; i < keep; ++i) {
    left -= r.prob[i];
    if (left < 0) {
      r.token = r.kept[i];
      return r;
    }
  }
  r.token = r.kept.back();
  return r;
}

// Whether u lies within `tol` (relative) of a boundary between two kept
// tokens, or a top-p running mass within `tol` of top_p: where float and
// double exponentials may rightly pick different tokens.
bool near_a_boundary(const Reference& r, const SamplingParams& p, double u, double tol) {
  for (double c : r.cum)
    if (std::abs(c - double(p.top_p)) <= tol) return true;
  double total = 0;
  for (double q : r.prob) total += q;
  double cum = 0;
  for (double q : r.prob) {
    cum += q;
    if (std::abs(u * total - cum) <= tol * total) return true;
  }
  return false;
}

TEST(SampleTokenProps, MatchesTheReferenceUpToRounding) {
  EXPECT_TRUE(rc::check([] {
    const int V = *rc::gen::inRange(2, 300);
    // Few distinct values, so that ties (broken by the lower index) are common.
    const int levels = *rc::gen::inRange(1, 12);
    std::vector<float> logits(static_cast<size_t>(V));
    for (float& l : logits) l = float(*rc::gen::inRange(0, levels)) * 0.75f - 3.f;
    if (*rc::gen::inRange(0, 4) == 0) logits[size_t(*rc::gen::inRange(0, V))] = -INFINITY;
    SamplingParams p;
    p.temperature = float(*rc::gen::elementOf(std::vector<double>{0.05, 0.3, 0.8, 1.0, 2.5}));
    p.top_k = *rc::gen::elementOf(std::vector<int>{0, 2, 3, 7, V - 1, V, V + 5});
    p.top_p = float(*rc::gen::elementOf(std::vector<double>{1.0, 0.01, 0.3, 0.5, 0.9, 0.999}));
    const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
    Rng rng(seed), copy(seed);
    std::vector<float> work = logits;
    const int32_t got = rbe::sample_token(work.data(), V, p, rng, {});
    const double u = copy.uniform();
    const Reference want = reference_sample(logits, p, u);
    RC_ASSERT(got >= 0 && got < V);
    RC_ASSERT(logits[size_t(got)] != -INFINITY);
    if (got != want.token) RC_ASSERT(near_a_boundary(want, p, u, 1e-5));
  }));
}

// The vocabulary of GPT-2, where the nucleus is put in order a prefix at a
// time and the whole-vocabulary draw skips blocks: the same tokens as the
// reference for many draws.
TEST(SampleToken, MatchesTheReferenceOnAGpt2SizedVocabulary) {
  const int V = 50257;
  Rng gen(7);
  std::vector<float> logits(V);
  for (float& l : logits) l = float(gen.normal() * 3.0);
  for (int i = 0; i < 40; ++i) logits[size_t(gen.below(V))] = 12.f + float(i % 5);  // a peak, with ties
  int differ = 0, draws = 0;
  for (const SamplingParams& p : {SamplingParams{1.f, 0, 1.f}, SamplingParams{0.7f, 0, 0.9f},
                                  SamplingParams{1.3f, 0, 0.95f}, SamplingParams{1.f, 50, 1.f},
                                  SamplingParams{1.f, 50, 0.8f}}) {
    for (uint64_t seed = 0; seed < 40; ++seed) {
      Rng rng(seed), copy(seed);
      std::vector<float> work = logits;
      const int32_t got = rbe::sample_token(work.data(), V, p, rng, {});
      const double u = copy.uniform();
      const Reference want = reference_sample(logits, p, u);
      ++draws;
      if (got != want.token) {
        ++differ;
        EXPECT_TRUE(near_a_boundary(want, p, u, 1e-5)) << "seed " << seed << " top_k " << p.top_k << " top_p "
                                                        << p.top_p << ": " << got << " vs " << want.token;
      }
    }
  }
  EXPECT_LE(differ, 1) << "of " << draws;
}

TEST(SampleToken, FrequenciesFollowTheProbabilities) {
  const std::vector<float> logits = {0.f, 1.f, -1.f, 2.f, 0.5f, -INFINITY};
  SamplingParams p;
  p.temperature = 0.9f;
  std::vector<double> prob(logits.size());
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) total += prob[i] = std::exp(double(logits[i]) / 0.9);
  Rng rng(3);
  const int n = 40000;
  std::vector<int> seen(logits.size(), 0);
  for (int i = 0; i < n; ++i) {
    std::vector<float> work = logits;
    ++seen[size_t(rbe::sample_token(work.data(), int64_t(work.size()), p, rng, {}))];
  }
  EXPECT_EQ(seen.back(), 0);  // the -inf logit
  for (size_t i = 0; i + 1 < logits.size(); ++i) {
    const double q = prob[i] / total, sd = std::sqrt(n * q * (1 - q));
    EXPECT_NEAR(seen[i], n * q, 5 * sd) << "token " << i;
  }
}

TEST(SampleToken, NanOrInfiniteLogitsGiveTheGreedyPick) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const SamplingParams& p : {SamplingParams{1.f, 0, 1.f}, SamplingParams{1.f, 3, 1.f}, SamplingParams{1.f, 0, 0.9f}}) {
    Rng rng(1);
    std::vector<float> l = {0.5f, nan, 2.f, 1.f};
    EXPECT_EQ(rbe::sample_token(l.data(), 4, p, rng, {}), 2);
    l = {0.5f, INFINITY, 2.f, INFINITY};
    EXPECT_EQ(rbe::sample_token(l.data(), 4, p, rng, {}), 1);
  }
}

}  // namespace
