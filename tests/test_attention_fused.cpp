// The fused causal attention of a prompt (nn/attention_avx512.h) against a
// double-precision softmax over the same keys: many query rows (a block of
// 16 cut short at the end), an offset into the keys (a prompt after cached
// positions), tiles of keys cut short, and scores spread over tens of units
// so that the running maximum moves.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nn/attention_avx512.h"
#include "nn/pointwise_avx512.h"

namespace {

using namespace rbe::nn::detail;

TEST(FusedAttention, MatchesDoubleSoftmaxOverTheVisibleKeys) {
  if (!pointwise_avx512_usable()) GTEST_SKIP() << "no AVX-512 here";
  constexpr int64_t D = 64;
  // {query rows, first}: row r sees keys 0 .. first + r.
  const int64_t cases[][2] = {{1, 0}, {16, 0}, {37, 0}, {5, 40}, {70, 9}, {150, 0}};
  for (const auto& c : cases) {
    const int64_t M = c[0], first = c[1], nk = first + M, ldq = 3 * D + 5, ldo = D + 3;
    std::mt19937 rng(uint32_t(M * 31 + first));
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> q(size_t(M * ldq)), K(size_t(nk * D)), V(size_t(nk * D));
    for (auto& v : q) v = 3.f * d(rng);
    for (auto& v : K) v = d(rng);
    for (auto& v : V) v = d(rng);
    std::vector<float> out(size_t(M * ldo), 7.f);
    const float scale = 0.125f;
    attend_causal64_avx512(q.data(), ldq, M, K.data(), V.data(), first, scale, out.data(), ldo);
    for (int64_t r = 0; r < M; ++r) {
      const int64_t n = first + r + 1;
      std::vector<double> s(static_cast<size_t>(n));
      double mx = -1e300;
      for (int64_t j = 0; j < n; ++j) {
        double a = 0;
        for (int64_t k = 0; k < D; ++k) a += double(q[size_t(r * ldq + k)]) * scale * K[size_t(j * D + k)];
        s[size_t(j)] = a;
        mx = std::max(mx, a);
      }
      double sum = 0;
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (int64_t k = 0; k < D; ++k) {
        double o = 0;
        for (int64_t j = 0; j < n; ++j) o += s[size_t(j)] / sum * V[size_t(j * D + k)];
        ASSERT_NEAR(out[size_t(r * ldo + k)], o, 2e-5) << M << " rows, first " << first << ", row " << r << ", dim " << k;
      }
      for (int64_t k = D; k < ldo; ++k) ASSERT_EQ(out[size_t(r * ldo + k)], 7.f) << "wrote past the row";
    }
  }
}

}  // namespace
