// Decoding's attention in 16-lane vectors (nn/decode_attention_avx512.h)
// against a double-precision softmax over the same cached positions: one and
// two heads at once, f32 and f16 caches, every length around the 16-key
// groups and 32-position blocks, and scores spread over tens of units so
// that the running maximum moves from block to block.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nn/decode_attention_avx512.h"
#include "nn/pointwise_avx512.h"
#include "tensor/dtype.h"

namespace {

using namespace rbe::nn::detail;

template <class T>
void check(int G, int64_t nv, uint32_t seed) {
  constexpr int64_t D = 64;
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> q(size_t(G * D)), Kf(size_t(G * nv * D)), Vf(size_t(G * nv * D));
  for (auto& v : q) v = 3.f * d(rng);
  for (auto& v : Kf) v = d(rng);
  for (auto& v : Vf) v = d(rng);
  std::vector<T> K(Kf.size()), V(Vf.size());
  for (size_t i = 0; i < Kf.size(); ++i) {
    if constexpr (sizeof(T) == 2) {
      K[i] = rbe::f32_to_f16(Kf[i]), V[i] = rbe::f32_to_f16(Vf[i]);
      Kf[i] = rbe::f16_to_f32(K[i]), Vf[i] = rbe::f16_to_f32(V[i]);  // the reference sees the stored values
    } else {
      K[i] = Kf[i], V[i] = Vf[i];
    }
  }
  std::vector<float> out(size_t(G * D + 3), 7.f);
  const float scale = 0.125f;
  const float* qp[2];
  const T *Kp[2], *Vp[2];
  float* op[2];
  for (int g = 0; g < G; ++g)
    qp[g] = q.data() + g * D, Kp[g] = K.data() + g * nv * D, Vp[g] = V.data() + g * nv * D, op[g] = out.data() + g * D;
  decode_heads64_avx512(qp, Kp, Vp, G, nv, scale, op);
  for (int g = 0; g < G; ++g) {
    std::vector<double> s(static_cast<size_t>(nv));
    double mx = -1e300;
    for (int64_t j = 0; j < nv; ++j) {
      double a = 0;
      for (int64_t k = 0; k < D; ++k) a += double(q[size_t(g * D + k)]) * Kf[size_t((g * nv + j) * D + k)];
      s[size_t(j)] = a * scale;
      mx = std::max(mx, s[size_t(j)]);
    }
    double sum = 0;
    for (auto& v : s) sum += (v = std::exp(v - mx));
    for (int64_t k = 0; k < D; ++k) {
      double o = 0;
      for (int64_t j = 0; j < nv; ++j) o += s[size_t(j)] / sum * Vf[size_t((g * nv + j) * D + k)];
      ASSERT_NEAR(out[size_t(g * D + k)], o, 2e-5) << G << " heads, " << nv << " positions, head " << g << ", dim " << k;
    }
  }
  for (size_t i = size_t(G * D); i < out.size(); ++i) ASSERT_EQ(out[i], 7.f) << "wrote past the heads";
}

TEST(DecodeAttention, SixteenLanesMatchDoubleSoftmax) {
  if (!pointwise_avx512_usable()) GTEST_SKIP() << "no AVX-512 here";
  uint32_t seed = 1;
  for (int G : {1, 2})
    for (int64_t nv : {1, 2, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 161}) {
      check<float>(G, nv, seed++);
      check<uint16_t>(G, nv, seed++);
    }
}

}  // namespace
