// Fixed-rate forms (q8_0, q4_0, rbe fixed): byte layouts against naive
// references written from the spec, fused kernels against decode + matvec on
// every kernel this machine has, GPTQ against round-to-nearest, rbe fixed
// against q4_0, the Hadamard rotation, and clear errors on bad input.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include "codec/fixed_gemm_amx.h"
#include "codec/fixed_internal.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/fixed_kernels.h"
#include "codec/fixed_rate.h"
#include "codec/gptq.h"
#include "codec/hadamard.h"
#include "tensor/dtype.h"
#include "tensor/random.h"
#include "fixed_test_util.h"
#include "split_test_util.h"

using namespace rbe;
using namespace rbe::codec;
using namespace rbe::fixed_test;

namespace {

// x rounded to bf16, to nearest even (what VCVTNE2PS2BF16 does to finite
// values; tensor/dtype.h's conversion).
float bf16_round(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// What the bf16 tiles compute, in double: the stored rows (level * scale,
// in the rotated basis for rbe) and the rows of X (rotated for rbe), both
// rounded to bf16. Returns the rows of W as the reference used them.
std::vector<float> bf16_rows(const EncodedTensor& e, int64_t rows, int64_t cols) {
  const fixed::Layout L = fixed::layout_of(e);
  std::vector<float> W(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) fixed::decode_row_stored(L, e.data, r, W.data() + r * cols);
  for (auto& w : W) w = bf16_round(w);
  return W;
}
std::vector<float> bf16_x(const EncodedTensor& e, const float* x, int64_t cols) {
  std::vector<float> xr(x, x + cols);
  if (fixed::layout_of(e).kind == fixed::Kind::Rbe)
    RandomizedHadamard(cols, fixed::rotation_seed(e)).forward(xr.data());
  for (auto& v : xr) v = bf16_round(v);
  return xr;
}

void print_kernels(const char* what, const std::vector<std::string>& names, const char* active) {
  std::printf("%s here: ", what);
  for (const auto& k : names) std::printf("%s ", k.c_str());
  std::printf("(active %s)\n", active);
}

double snr(const Tensor& W, const std::vector<float>& D) {
  double s = 0, e = 0;
  const float* w = W.data<float>();
  for (size_t i = 0; i < D.size(); ++i) s += double(w[i]) * w[i], e += double(w[i] - D[i]) * (w[i] - D[i]);
  return 10 * std::log10(s / e);
}

// ---- naive references written from the spec ----
uint16_t ref_f16(float v) { return f32_to_f16(v); }

std::vector<uint8_t> ref_q8_0(const Tensor& W) {
  const int64_t rows = W.size(0), cols = W.size(1);
  std::vector<uint8_t> out;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / 32; ++b) {
      const float* w = W.data<float>() + r * cols + b * 32;
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(w[i]));
      const uint16_t h = ref_f16(amax / 127.f);
      const float d = f16_to_f32(h);
      out.push_back(uint8_t(h & 255)), out.push_back(uint8_t(h >> 8));
      for (int i = 0; i < 32; ++i) out.push_back(uint8_t(int8_t(d > 0 ? std::lrint(w[i] / d) : 0)));
    }
  return out;
}

std::vector<uint8_t> ref_q4_0(const Tensor& W) {
  const int64_t rows = W.size(0), cols = W.size(1);
  std::vector<uint8_t> out;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / 32; ++b) {
      const float* w = W.data<float>() + r * cols + b * 32;
      float m = 0;
      for (int i = 0; i < 32; ++i)
        if (std::fabs(w[i]) > std::fabs(m)) m = w[i];
      const uint16_t h = ref_f16(m / -8.f);
      const float d = f16_to_f32(h);
      out.push_back(uint8_t(h & 255)), out.push_back(uint8_t(h >> 8));
      int q[32];
      for (int i = 0; i < 32; ++i) q[i] = std::clamp<int>(int(std::lrint(w[i] / d)) + 8, 0, 15);
      for (int j = 0; j < 16; ++j) out.push_back(uint8_t(q[j] | (q[j + 16] << 4)));
    }
  return out;
}

// Decoders straight from the spec (ggml's Q8_0 / Q4_0 block layout).
std::vector<float> ref_decode_q8_0(const uint8_t* p, int64_t rows, int64_t cols) {
  std::vector<float> out;
  for (int64_t i = 0; i < rows * cols / 32; ++i, p += 34) {
    const float d = f16_to_f32(uint16_t(p[0] | (p[1] << 8)));
    for (int j = 0; j < 32; ++j) out.push_back(d * float(int8_t(p[2 + j])));
  }
  return out;
}
std::vector<float> ref_decode_q4_0(const uint8_t* p, int64_t rows, int64_t cols) {
  std::vector<float> out;
  for (int64_t i = 0; i < rows * cols / 32; ++i, p += 18) {
    const float d = f16_to_f32(uint16_t(p[0] | (p[1] << 8)));
    float v[32];
    for (int j = 0; j < 16; ++j) v[j] = d * float((p[2 + j] & 15) - 8), v[j + 16] = d * float((p[2 + j] >> 4) - 8);
    out.insert(out.end(), v, v + 32);
  }
  return out;
}

}  // namespace

// One pass of radix-2 butterflies per stage, h = 1, 2, 4, ..., the last
// stage scaling by 1/sqrt(n): the order of operations fwht keeps, in plain
// floats, so that its passes fused in registers must match it bit for bit.
std::vector<float> fwht_one_pass_per_stage(std::vector<float> x) {
  const size_t n = x.size();
  const float scale = float(1.0 / std::sqrt(double(n)));
  for (size_t h = 1; h < n; h *= 2) {
    const float s = 2 * h == n ? scale : 1.f;
    for (size_t i = 0; i < n; i += 2 * h)
      for (size_t j = i; j < i + h; ++j) {
        const float u = x[j], v = x[j + h];
        x[j] = (u + v) * s, x[j + h] = (u - v) * s;
      }
  }
  return x;
}

TEST(CodecFixedHadamard, FwhtMatchesSylvesterMatrixAndIsOrthonormal) {
  for (int n : {16, 64, 128, 256, 512, 1024, 2048}) {
    std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
    Rng rng(uint64_t(3 + n));
    for (auto& v : x) v = float(rng.normal());
    for (int i = 0; i < n; ++i) {  // H[i][j] = (-1)^popcount(i & j) / sqrt(n)
      double s = 0;
      for (int j = 0; j < n; ++j) s += ((__builtin_popcount(i & j) & 1) ? -1.0 : 1.0) * x[size_t(j)];
      y[size_t(i)] = float(s / std::sqrt(double(n)));
    }
    std::vector<float> z = x;
    fwht(z.data(), n);
    for (int i = 0; i < n; ++i) ASSERT_NEAR(z[size_t(i)], y[size_t(i)], 1e-5) << n;
    EXPECT_EQ(z, fwht_one_pass_per_stage(x)) << n;
    fwht(z.data(), n);  // its own inverse
    for (int i = 0; i < n; ++i) ASSERT_NEAR(z[size_t(i)], x[size_t(i)], 1e-5) << n;
  }
  std::vector<float> z(12);
  EXPECT_THROW(fwht(z.data(), 12), std::invalid_argument);
}

TEST(CodecFixedHadamard, RandomizedRotationInvertsAndKeepsNorms) {
  for (int64_t n : {1, 3, 64, 768, 3072}) {
    RandomizedHadamard R(n, 42);
    EXPECT_EQ(R.size(), n);
    EXPECT_EQ(n % R.block(), 0);
    std::vector<float> x(static_cast<size_t>(n));
    Rng rng(static_cast<uint64_t>(n));
    for (auto& v : x) v = float(rng.normal());
    std::vector<float> y = x;
    R.forward(y.data());
    double nx = 0, ny = 0;
    for (int64_t i = 0; i < n; ++i) nx += x[size_t(i)] * x[size_t(i)], ny += y[size_t(i)] * y[size_t(i)];
    EXPECT_NEAR(nx, ny, 1e-4 * nx) << n;
    R.inverse(y.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(y[size_t(i)], x[size_t(i)], 1e-5) << n;
  }
  EXPECT_EQ(RandomizedHadamard(768, 1).block(), 256);
  EXPECT_THROW(RandomizedHadamard(0, 1), std::invalid_argument);
}

TEST(CodecFixedHadamard, RotationSpreadsAnOutlier) {
  // A spike concentrated in one coordinate becomes flat: max |y| = |x| / sqrt(block).
  std::vector<float> x(256, 0.f);
  x[17] = 16.f;
  RandomizedHadamard(256, 9).forward(x.data());
  for (float v : x) EXPECT_NEAR(std::fabs(v), 1.f, 1e-5);
}

TEST(CodecFixed, Q8_0AndQ4_0BytesMatchTheSpecReference) {
  const Tensor W = gaussian(7, 96, 11);
  const EncodedTensor e8 = enc(W, settings("q8_0")), e4 = enc(W, settings("q4_0"));
  const std::vector<uint8_t> r8 = ref_q8_0(W), r4 = ref_q4_0(W);
  ASSERT_EQ(e8.size, int64_t(r8.size()));
  ASSERT_EQ(e4.size, int64_t(r4.size()));
  EXPECT_EQ(0, std::memcmp(e8.data, r8.data(), r8.size()));
  EXPECT_EQ(0, std::memcmp(e4.data, r4.data(), r4.size()));
  // Decoding: ours == the spec decoder's, bit for bit.
  EXPECT_EQ(decode_all(e8), ref_decode_q8_0(e8.data, 7, 96));
  EXPECT_EQ(decode_all(e4), ref_decode_q4_0(e4.data, 7, 96));
  EXPECT_DOUBLE_EQ(e8.meta.bits_per_weight, 8.5);
  EXPECT_DOUBLE_EQ(e4.meta.bits_per_weight, 4.5);
}

TEST(CodecFixed, SimdRowDecodeEqualsTheScalarReference) {
  const Tensor W = gaussian(5, 192, 4);
  for (const Form& f : kForms) {
    const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
    const fixed::Layout L = fixed::layout_of(e);
    std::vector<float> a(192), b(192);
    for (int64_t r = 0; r < 5; ++r) {
      fixed::decode_row_stored(L, e.data, r, a.data());
      fixed::decode_row_scalar(L, e.data, r, b.data());
      ASSERT_EQ(a, b) << L.name() << " row " << r;
      // A run of groups is that part of the row (the prompt products decode depth blocks).
      const int64_t g0 = 1, g1 = L.groups_per_row() - (L.groups_per_row() > 2 ? 1 : 0);
      std::vector<float> part(size_t((g1 - g0) * L.group)), part_scalar(part.size());
      fixed::decode_groups_stored(L, e.data, r, g0, g1, part.data());
      fixed::decode_groups_scalar(L, e.data, r, g0, g1, part_scalar.data());
      ASSERT_TRUE(std::equal(part.begin(), part.end(), a.begin() + g0 * L.group)) << L.name() << " row " << r;
      ASSERT_EQ(part, part_scalar) << L.name() << " row " << r;
    }
  }
}

// Each rbe fixed group's scale is the MSE search docs/format.md describes,
// done here independently: scalar, each weight's nearest level by a plain
// scan, its error summed in order. The encoder's search (vectorized) must
// pick the same f16 scale in every group, at every rate.
TEST(CodecFixed, RbeScalesAreTheSpecsMseSearch) {
  for (double bpw : {2.25, 2.5, 3.25, 3.5, 4.25, 4.5}) {
    SCOPED_TRACE(bpw);
    Tensor W = gaussian(24, 256, uint64_t(bpw * 100));
    for (int64_t i = 0; i < W.numel(); i += 97) W.data<float>()[i] *= 8.f;  // tails, where clipping pays
    const EncodedTensor e = enc(W, settings("rbe", bpw));
    const fixed::Layout L = fixed::layout_of(e);
    std::vector<float> Wrot(W.data<float>(), W.data<float>() + W.numel());
    RandomizedHadamard(L.cols, fixed::rotation_seed(e)).forward_rows(Wrot.data(), L.rows);
    const int nlev = 1 << L.bits;
    auto err = [&](const float* w, float d) {
      const float inv = 1.f / d;
      double sum = 0;
      for (int i = 0; i < L.group; ++i) {
        int best = 0;  // the nearest level, ties to the lower one
        for (int c = 1; c < nlev; ++c)
          if (std::fabs(w[i] * inv - float(L.levels[size_t(c)])) < std::fabs(w[i] * inv - float(L.levels[size_t(best)])))
            best = c;
        const float r = std::fma(-d, float(L.levels[size_t(best)]), w[i]);
        sum = std::fma(double(r), double(r), sum);
      }
      return sum;
    };
    auto f16r = [](float v) { return f16_to_f32(f32_to_f16(v)); };
    int64_t checked = 0;
    for (int64_t r = 0; r < L.rows; ++r)
      for (int64_t g = 0; g < L.groups_per_row(); ++g) {
        const float* w = Wrot.data() + r * L.cols + g * L.group;
        float amax = 0;
        for (int i = 0; i < L.group; ++i) amax = std::max(amax, std::fabs(w[i]));
        float best_d = f16r(amax / 127.f), best_f = 1.f;
        double best = INFINITY;
        auto try_f = [&](float f) {
          const float d = f16r(amax / 127.f * f);
          if (!(d > 0)) return;
          if (const double x = err(w, d); x < best) best = x, best_d = d, best_f = f;
        };
        for (int s = 0; s <= 19; ++s) try_f(std::fma(0.05f, float(s), 0.3f));
        const float f0 = best_f;
        for (int s = -3; s <= 3; ++s)
          if (s != 0) try_f(std::fma(0.0125f, float(s), f0));
        const float stored = fixed::group_scale(e.data + r * L.row_bytes() + g * L.group_bytes());
        ASSERT_EQ(stored, best_d) << "row " << r << ", group " << g;
        ++checked;
      }
    EXPECT_EQ(checked, L.rows * L.groups_per_row());
  }
}

TEST(CodecFixed, EveryFormHasItsRateAndHonestMeta) {
  const Tensor W = gaussian(33, 128, 5);
  for (const Form& f : kForms) {
    const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
    EXPECT_DOUBLE_EQ(e.meta.bits_per_weight, f.expect_bpw) << f.codec;
    EXPECT_EQ(e.meta.bytes, e.size);
    const std::vector<float> d = decode_all(e);
    double se = 0, sw = 0;
    for (size_t i = 0; i < d.size(); ++i) {
      const double w = W.data<float>()[i];
      se += (w - d[i]) * (w - d[i]), sw += w * w;
    }
    EXPECT_NEAR(e.meta.rmse, std::sqrt(se / double(d.size())), 1e-9);
    EXPECT_NEAR(e.meta.snr_db, 10 * std::log10(sw / se), 1e-6);
    EXPECT_FALSE(e.blocks.empty());
  }
}

TEST(CodecFixed, RbeFixedBeatsQ4_0OnGaussianAtNoMoreBits) {
  const Tensor W = gaussian(256, 768, 21);
  const double q4 = snr(W, decode_all(enc(W, settings("q4_0"))));
  const double r45 = snr(W, decode_all(enc(W, settings("rbe", 4.5))));
  const double r425 = snr(W, decode_all(enc(W, settings("rbe", 4.25))));
  std::printf("SNR on N(0,1): q4_0 %.2f dB, rbe 4.5 %.2f dB, rbe 4.25 %.2f dB\n", q4, r45, r425);
  EXPECT_GE(r45, q4);
  EXPECT_GE(r425, q4);
}

TEST(CodecFixed, RbeFixedRotationTamesOutlierColumns) {
  // Trained weights have a few large input channels; the rotation spreads them.
  Tensor W = gaussian(64, 256, 8);
  for (int64_t r = 0; r < 64; ++r) W.data<float>()[r * 256 + 5] *= 30.f;
  const double q4 = snr(W, decode_all(enc(W, settings("q4_0"))));
  const double r45 = snr(W, decode_all(enc(W, settings("rbe", 4.5))));
  EXPECT_GT(r45, q4 + 3.0) << "q4_0 " << q4 << " dB, rbe " << r45 << " dB";
}

TEST(CodecFixed, GptqFactorIsTheUpperCholeskyFactorOfTheDampedInverse) {
  const int64_t n = 300;  // above the parallel grain, so the threaded paths run
  Rng rng(12);
  std::vector<float> X(size_t(n * 400)), H(size_t(n * n), 0.f);
  for (auto& v : X) v = float(rng.normal());
  for (int64_t s = 0; s < 400; ++s)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) H[size_t(i * n + j)] += X[size_t(s * n + i)] * X[size_t(s * n + j)];
  const std::vector<float> U = gptq_inverse_cholesky(H.data(), n, 0.01);
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += H[size_t(i * n + i)] / double(n);
  // (U^T U) (H + 0.01 mean(diag) I) = I, and U is upper triangular.
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) ASSERT_EQ(U[size_t(i * n + j)], 0.f);
  std::vector<double> M(size_t(n * n), 0.0);  // U^T U
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = k; i < n; ++i)
      for (int64_t j = k; j < n; ++j) M[size_t(i * n + j)] += double(U[size_t(k * n + i)]) * U[size_t(k * n + j)];
  for (int64_t i = 0; i < n; i += 7)
    for (int64_t j = 0; j < n; ++j) {
      double t = 0;
      for (int64_t k = 0; k < n; ++k)
        t += M[size_t(i * n + k)] * (H[size_t(k * n + j)] + (k == j ? 0.01 * mean_diag : 0.0));
      worst = std::max(worst, std::fabs(t - (i == j ? 1.0 : 0.0)));
    }
  EXPECT_LT(worst, 1e-3);
}

// The factor against the column-at-a-time and row-at-a-time loops it was
// computed with before they were blocked, written out here with the same
// roundings (8-lane fused dots; tail products rounded, but an odd tail's
// last fused; volatile keeps this file's compiler from fusing the rest):
// bit for bit, at a size no block divides. H = X^T X from small integers
// (exact in float) with fewer samples than inputs, and a tiny damping: nearly
// singular, so that a difference in the last bit of a double grows until the
// float factor shows it.
TEST(CodecFixed, GptqFactorEqualsTheUnblockedLoops) {
  const int64_t n = 203, samples = 150;
  const double damping = 1e-10;
  Rng rng(31);
  std::vector<float> X(size_t(n * samples)), H(size_t(n * n), 0.f);
  for (auto& v : X) v = float(int(rng.uniform() * 7) - 3);
  for (int64_t s = 0; s < samples; ++s)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) H[size_t(i * n + j)] += X[size_t(s * n + i)] * X[size_t(s * n + j)];
  auto dot = [](const double* a, const double* b, int64_t len) {
    double acc[8] = {};
    int64_t k = 0;
    for (; k + 8 <= len; k += 8)
      for (int l = 0; l < 8; ++l) acc[l] = std::fma(a[k + l], b[k + l], acc[l]);
    double s = 0;
    const bool odd = (len - k) % 2 == 1;
    for (; k < len; ++k) {
      if (odd && k == len - 1) {
        s = std::fma(a[k], b[k], s);
      } else {
        volatile double p = a[k] * b[k];
        s = s + p;
      }
    }
    for (double v : acc) s = s + v;
    return s;
  };
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += H[size_t(i * n + i)];
  mean_diag /= double(n);
  const double damp = damping * mean_diag;
  std::vector<double> A(size_t(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double h = H[size_t((n - 1 - i) * n + (n - 1 - j))];
      if (i == j) h = h + damp;
      A[size_t(i * n + j)] = h;
    }
  for (int64_t j = 0; j < n; ++j) {
    double* aj = &A[size_t(j * n)];
    aj[j] = std::sqrt(aj[j] - dot(aj, aj, j));
    for (int64_t i = j + 1; i < n; ++i) A[size_t(i * n + j)] = (A[size_t(i * n + j)] - dot(&A[size_t(i * n)], aj, j)) * (1.0 / aj[j]);
  }
  std::vector<double> Li(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double* li = &Li[size_t(i * n)];
    for (int64_t k = 0; k < i; ++k)
      for (int64_t j = 0; j <= k; ++j) li[j] = std::fma(A[size_t(i * n + k)], Li[size_t(k * n + j)], li[j]);
    const double inv = 1.0 / A[size_t(i * n + i)];
    for (int64_t j = 0; j < i; ++j) li[j] = li[j] * -inv;
    li[i] = inv;
  }
  const std::vector<float> U = gptq_inverse_cholesky(H.data(), n, damping);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j)
      ASSERT_EQ(U[size_t(i * n + j)], float(Li[size_t((n - 1 - i) * n + (n - 1 - j))])) << i << ", " << j;
}

// The error-feedback sweep against a plain reference: one row at a time,
// every update w_j -= e * u_ij with one rounding (std::fma), column by column.
// Bit for bit, on rows that fill neither whole 16-row tiles nor whole groups
// of columns in step with the tiles.
TEST(CodecFixed, GptqSweepEqualsTheRowByRowReference) {
  const int64_t rows = 37, cols = 96;
  Rng rng(5);
  std::vector<float> W(size_t(rows * cols)), U(size_t(cols * cols), 0.f);
  // Updates as large as the weights, so that one rounding or two differ often.
  for (auto& v : W) v = float(rng.normal());
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = i; j < cols; ++j) U[size_t(i * cols + j)] = i == j ? 1.f + float(rng.uniform()) : float(rng.normal());
  GroupQuantizer q;  // round to nearest, 32 weights a group, on a scale that
  q.group = 32;       // every value's last bit moves (the mean |w|): a sharp check
  q.scale = [](const float* w, int n) {
    float m = 0;
    for (int i = 0; i < n; ++i) m += std::fabs(w[i]);
    return m / float(n) / 2.f;
  };
  q.round = [](float w, float d, float* deq) -> uint8_t {
    const int c = d > 0 ? int(std::clamp(std::nearbyint(w / d), -7.f, 7.f)) : 0;
    *deq = d * float(c);
    return uint8_t(c + 8);
  };
  std::vector<uint8_t> codes(W.size());
  std::vector<float> scales(size_t(rows * cols / 32));
  gptq_quantize_rows(W.data(), cols, U.data(), q, 0, rows, codes.data(), scales.data());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> w(W.begin() + r * cols, W.begin() + (r + 1) * cols);
    float d = 0;
    for (int64_t i = 0; i < cols; ++i) {
      if (i % 32 == 0) {
        d = q.scale(&w[size_t(i)], 32);
        ASSERT_EQ(scales[size_t(r * (cols / 32) + i / 32)], d) << r << ", " << i;
      }
      float deq;
      ASSERT_EQ(codes[size_t(r * cols + i)], q.round(w[size_t(i)], d, &deq)) << r << ", " << i;
      const float e = (w[size_t(i)] - deq) * (1.f / U[size_t(i * cols + i)]);
      for (int64_t j = i + 1; j < cols; ++j) w[size_t(j)] = std::fma(-e, U[size_t(i * cols + j)], w[size_t(j)]);
    }
  }
}

TEST(CodecFixed, GptqLowersTheOutputErrorOnCorrelatedInputs) {
  const int64_t rows = 64, cols = 128, n = 512;
  const Tensor W = gaussian(rows, cols, 31);
  // X = Z A: strongly correlated inputs with uneven scales.
  Rng rng(77);
  std::vector<float> A(size_t(cols * cols)), X(size_t(n * cols));
  for (auto& v : A) v = float(rng.normal());
  for (int64_t i = 0; i < cols; ++i) A[size_t(i * cols + i)] += 4.f;
  std::vector<float> Z(size_t(n * cols));
  for (auto& v : Z) v = float(rng.normal());
  for (int64_t s = 0; s < n; ++s)
    for (int64_t j = 0; j < cols; ++j) {
      double t = 0;
      for (int64_t k = 0; k < 8; ++k) t += Z[size_t(s * cols + (j + k) % cols)] * A[size_t(k * cols + j)];
      X[size_t(s * cols + j)] = float(t * (1 + j % 7));
    }
  Tensor H = Tensor::zeros({cols, cols});
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) H.data<float>()[i * cols + j] += X[size_t(s * cols + i)] * X[size_t(s * cols + j)];
  auto out_err = [&](const std::vector<float>& D) {
    double e = 0;
    for (int64_t s = 0; s < n; ++s)
      for (int64_t r = 0; r < rows; ++r) {
        double t = 0;
        for (int64_t c = 0; c < cols; ++c) t += (W.data<float>()[r * cols + c] - D[size_t(r * cols + c)]) * X[size_t(s * cols + c)];
        e += t * t;
      }
    return std::sqrt(e);
  };
  for (const Form& f : {Form{"q4_0", {}, 4.5}, Form{"q8_0", {}, 8.5}, Form{"rbe", 3.25, 3.25}, Form{"rbe", 2.25, 2.25}}) {
    const double rtn = out_err(decode_all(enc(W, settings(f.codec, f.bpw))));
    const EncodedTensor g = enc(W, settings(f.codec, f.bpw), H);
    EXPECT_TRUE(g.params.value("gptq", false));
    const double gptq = out_err(decode_all(g));
    std::printf("%s %.2f bpw: ||(W - W')X|| RTN %.4g, GPTQ %.4g\n", f.codec.c_str(), f.expect_bpw, rtn, gptq);
    EXPECT_LT(gptq, 0.9 * rtn) << f.codec << " " << f.expect_bpw;
  }
}

TEST(CodecFixed, GradeTargetPicksTheSmallestRateThatMeetsIt) {
  const Tensor W = gaussian(64, 256, 13);
  CodecSettings s = settings("rbe");
  s.grade = QualityGrade::B;  // a bound some rate below 4.5 meets on Gaussian data
  const EncodedTensor lo = enc(W, s);
  s.grade = QualityGrade::SPlus;  // unreachable at 4.5 bpw: the highest rate
  const EncodedTensor hi = enc(W, s);
  for (const BlockStats& b : lo.blocks) EXPECT_LE(b.rel_rmse, grade_bound(QualityGrade::B));
  EXPECT_LT(lo.meta.bits_per_weight, hi.meta.bits_per_weight);
  EXPECT_DOUBLE_EQ(hi.meta.bits_per_weight, 4.5);
}

// Where the threads' pieces of rows fall depends on timing
// (tensor/kernels/row_chunks.h): each kernel must give a row the same bits
// in any range of rows split on multiples of 4 (split_test_util.h), for
// every form and kernel.
TEST(CodecFixed, FusedGemvGivesTheSameBitsHoweverTheRowsAreSplit) {
  int tested = 0;
  for (int64_t rows : {515, 2304}) {
    const int64_t cols = 768;
    const Tensor W = gaussian(rows, cols, uint64_t(rows));
    std::vector<float> x(static_cast<size_t>(cols)), bias(static_cast<size_t>(rows));
    Rng rng(uint64_t(rows) + 1);
    for (auto& v : x) v = float(rng.normal());
    for (auto& v : bias) v = float(rng.normal()) * 0.1f;
    for (const Form& f : kForms) {
      const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
      for (const auto& k : fixed_kernel_names()) {
        auto run = [&] {
          std::vector<float> y(static_cast<size_t>(rows), NAN);
          EXPECT_TRUE(fixed_gemv_with_kernel(k.c_str(), e, x.data(), bias.data(), y.data()));
          return y;
        };
        const std::string what = k + " " + e.codec + " " + std::to_string(f.expect_bpw) + " " + std::to_string(rows);
        ASSERT_TRUE(rbe::testing_split::same_bits_however_split(run, what)) << what;
        if (HasFailure()) return;
        ++tested;
      }
    }
  }
  EXPECT_GT(tested, 0);
}

TEST(CodecFixed, FusedGemvMatchesDecodeAndMatvecOnEveryKernel) {
  const auto kernels = fixed_kernel_names();
  print_kernels("fixed-rate kernels", kernels, fixed_kernel_name());
  ASSERT_FALSE(kernels.empty());
  for (int64_t rows : {1, 37, 203})
    for (int64_t cols : {64, 96, 768}) {  // 96: a lone last 32-block
      const Tensor W = gaussian(rows, cols, uint64_t(rows * cols));
      std::vector<float> x(static_cast<size_t>(cols)), bias(static_cast<size_t>(rows));
      Rng rng(uint64_t(rows + cols));
      for (auto& v : x) v = float(rng.normal());
      for (auto& v : bias) v = float(rng.normal()) * 0.1f;
      for (const Form& f : kForms) {
        if (cols % 64 != 0 && f.expect_bpw == 2.25) continue;  // needs groups of 64 (others fall back to 32)
        const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
        const std::vector<float> D = decode_all(e);
        for (const float* b : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
          const std::vector<double> ref = naive_matvec(D, rows, cols, x.data(), b);
          for (const auto& k : kernels) {
            std::vector<float> y(size_t(rows), NAN);
            ASSERT_TRUE(fixed_gemv_with_kernel(k.c_str(), e, x.data(), b, y.data()));
            // f32 kernels: rounding only (and 1e-4 relative over the vector).
            // int8 activations: x is quantized to 8 bits per 32-block; the
            // error of a row is about ||w|| ||x|| * (max|x_b| / 127) / sqrt(12) / rms(x)
            // / sqrt(K) (< 1e-3 here), so 5e-3 of ||w|| ||x||.
            const bool q8 = fixed_kernel_quantizes_x(k);
            const std::string what = k + " " + e.codec + " " + std::to_string(f.expect_bpw) + " " +
                                     std::to_string(rows) + "x" + std::to_string(cols) + (b ? " bias" : "");
            if (!q8) {
              EXPECT_LT(rel_diff(y, ref), 1e-4) << what;
            }
            EXPECT_LT(row_err(y, ref, D, cols, x.data()), q8 ? 5e-3 : 1e-5) << what;
          }
        }
      }
    }
  EXPECT_FALSE(fixed_gemv_with_kernel("nonsense", enc(gaussian(2, 32, 1), settings("q8_0")), nullptr, nullptr, nullptr));
}

// A few inputs at once (fixed::gemv_rows, what a batched decoding step runs
// without AMX): each output row equals, bit for bit, the matvec of its input
// alone, on every kernel (those with a multi-input path and those without).
TEST(CodecFixed, FewRowProductsEqualTheMatvecPerRowOnEveryKernel) {
  for (int64_t rows : {5, 203})
    for (int64_t cols : {64, 96, 768}) {
      const Tensor W = gaussian(rows, cols, uint64_t(11 * rows + cols));
      std::vector<float> bias(static_cast<size_t>(rows));
      Rng rng(uint64_t(rows * cols));
      for (auto& v : bias) v = float(rng.normal()) * 0.1f;
      for (const Form& f : kForms) {
        if (cols % 64 != 0 && f.expect_bpw == 2.25) continue;
        const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
        const fixed::Layout L = fixed::layout_of(e);
        for (const auto& k : fixed_kernel_names()) {
          const fixed::FixedKernels* ks = fixed::find_kernels(k.c_str());
          ASSERT_NE(ks, nullptr);
          for (int64_t N : {1, 3, 4, 7}) {
            std::vector<float> X(size_t(N * cols));
            for (auto& v : X) v = float(rng.normal());
            std::vector<float> Y(size_t(N * rows), NAN), y(static_cast<size_t>(rows));
            fixed::gemv_rows(*ks, L, e.data, N, X.data(), bias.data(), Y.data());
            for (int64_t n = 0; n < N; ++n) {
              fixed::gemv(*ks, L, e.data, X.data() + n * cols, bias.data(), y.data());
              EXPECT_EQ(std::memcmp(y.data(), Y.data() + n * rows, y.size() * sizeof(float)), 0)
                  << k << " " << e.codec << " " << f.expect_bpw << " " << rows << "x" << cols << " N " << N
                  << " input " << n;
            }
          }
        }
      }
    }
}

// The batched kernels against the decode: "sgemm" to f32 rounding; "amx"
// quantizes X exactly as the VNNI matvec quantizes x, so each of its rows
// also matches that kernel's product of the same row up to the order of the
// sums; "amx-bf16" and "avx512-bf16" match the product of the bf16-rounded
// stored weights and x up to the order of their f32 sums. Shapes that are
// not multiples of the tiles (rows, N) and a lone last 32-block (cols 96).
TEST(CodecFixed, BatchedKernelsAgreeWithTheDecodeAndTheMatvec) {
  const auto kernels = fixed_gemm_kernel_names();
  print_kernels("fixed-rate batched kernels", kernels, fixed_gemm_kernel_name());
  ASSERT_FALSE(kernels.empty());
  const bool vnni = fixed::find_kernels("avx512vnni") != nullptr;
  for (int64_t rows : {5, 37, 203})
    for (int64_t cols : {64, 96, 768})
      for (int64_t N : {3, 16, 21}) {
        const Tensor W = gaussian(rows, cols, uint64_t(7 * rows + cols));
        std::vector<float> X(size_t(N * cols)), bias(static_cast<size_t>(rows));
        Rng rng(uint64_t(rows + cols + N));
        for (auto& v : X) v = float(rng.normal());
        for (auto& v : bias) v = float(rng.normal()) * 0.1f;
        for (const Form& f : kForms) {
          if (cols % 64 != 0 && f.expect_bpw == 2.25) continue;
          const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
          const std::vector<float> D = decode_all(e);
          for (const auto& k : kernels) {
            std::vector<float> Y(size_t(N * rows), NAN);
            ASSERT_TRUE(fixed_gemm_with_kernel(k.c_str(), e, N, X.data(), bias.data(), Y.data()));
            for (int64_t n = 0; n < N; ++n) {
              const float* x = X.data() + n * cols;
              const std::vector<float> y(Y.begin() + n * rows, Y.begin() + (n + 1) * rows);
              const std::vector<double> ref = naive_matvec(D, rows, cols, x, bias.data());
              const std::string what = k + " " + e.codec + " " + std::to_string(f.expect_bpw) + " " +
                                       std::to_string(rows) + "x" + std::to_string(cols) + " N " + std::to_string(N) +
                                       " row " + std::to_string(n);
              if (k == "sgemm") {
                EXPECT_LT(rel_diff(y, ref), 1e-4) << what;
                continue;
              }
              if (k == "amx-bf16" || k == "avx512-bf16") {
                EXPECT_LT(row_err(y, ref, D, cols, x), 5e-3) << what;
                const std::vector<float> Wb = bf16_rows(e, rows, cols), xb = bf16_x(e, x, cols);
                const std::vector<double> exact = naive_matvec(Wb, rows, cols, xb.data(), bias.data());
                EXPECT_LT(row_err(y, exact, Wb, cols, xb.data()), 1e-6) << what;
                continue;
              }
              EXPECT_LT(row_err(y, ref, D, cols, x), 5e-3) << what;  // int8 x, as the VNNI matvec
              if (vnni) {
                std::vector<float> yv(static_cast<size_t>(rows));
                ASSERT_TRUE(fixed_gemv_with_kernel("avx512vnni", e, x, bias.data(), yv.data()));
                EXPECT_LT(row_err(y, std::vector<double>(yv.begin(), yv.end()), D, cols, x), 1e-6) << what;
              }
            }
          }
        }
      }
  const EncodedTensor e = enc(gaussian(2, 32, 1), settings("q8_0"));
  EXPECT_FALSE(fixed_gemm_with_kernel("nonsense", e, 1, nullptr, nullptr, nullptr));
}

// A prompt's product through the SGEMM decodes whole scale groups inside its
// column tasks, one depth block at a time: at 1600 columns (GPT-2 XL) the
// SGEMM's depth block (229) is not a multiple of a group and is rounded up
// to one; every row of the product still matches the decode.
TEST(CodecFixed, SgemmProductDecodesWholeGroupsPerDepthBlock) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
  const int64_t rows = 203, cols = 1600, N = 21;
  const Tensor W = gaussian(rows, cols, 31);
  std::vector<float> X(size_t(N * cols));
  Rng rng(8);
  for (auto& v : X) v = float(rng.normal());
  for (const Form& f : kForms) {
    const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
    const std::vector<float> D = decode_all(e);
    std::vector<float> Y(size_t(N * rows), NAN);
    ASSERT_TRUE(fixed_gemm_with_kernel("sgemm", e, N, X.data(), nullptr, Y.data()));
    for (int64_t n = 0; n < N; ++n) {
      const std::vector<float> y(Y.begin() + n * rows, Y.begin() + (n + 1) * rows);
      EXPECT_LT(rel_diff(y, naive_matvec(D, rows, cols, X.data() + n * cols, nullptr)), 1e-4)
          << e.codec << " " << f.expect_bpw << " row " << n;
    }
  }
}

// The bf16 kernels this machine runs: the AMX tiles and AVX512-BF16.
std::vector<std::string> bf16_kernels_here() {
  std::vector<std::string> v;
  for (const auto& k : fixed_gemm_kernel_names())
    if (k == "amx-bf16" || k == "avx512-bf16") v.push_back(k);
  return v;
}

// Past 2048 rows the bf16 kernels take X 2048 rows at a time (its bf16 copy
// stays bounded): every row of such a product equals that row alone.
TEST(CodecFixed, Bf16TilesTakeLongInputsInPieces) {
  const auto kernels = bf16_kernels_here();
  if (kernels.empty()) GTEST_SKIP() << "no AMX bf16 tiles or AVX512-BF16 here";
  const int64_t N = 2100, rows = 40, cols = 64;
  const EncodedTensor e = enc(gaussian(rows, cols, 4), settings("q8_0"));
  std::vector<float> X(size_t(N * cols)), Y(size_t(N * rows), NAN), y(size_t(rows), NAN);
  Rng rng(9);
  for (auto& v : X) v = float(rng.normal());
  for (const auto& k : kernels) {
    ASSERT_TRUE(fixed_gemm_with_kernel(k.c_str(), e, N, X.data(), nullptr, Y.data()));
    for (int64_t n : {int64_t(0), int64_t(2047), int64_t(2048), N - 1}) {
      ASSERT_TRUE(fixed_gemm_with_kernel(k.c_str(), e, 1, X.data() + n * cols, nullptr, y.data()));
      for (int64_t r = 0; r < rows; ++r)
        ASSERT_EQ(Y[size_t(n * rows + r)], y[size_t(r)]) << k << " row " << n << ", " << r;
    }
  }
}

// A deep product over more than 2 MiB of bf16 X (the MLP's c_proj in a long
// prompt): every row matches the product of the bf16-rounded stored weights
// and x (as in BatchedKernelsAgreeWithTheDecodeAndTheMatvec, whose shapes
// are smaller), for q8_0, q4_0 and rbe with its rotation.
TEST(CodecFixed, Bf16TilesMatchOnADeepLongInput) {
  const auto kernels = bf16_kernels_here();
  if (kernels.empty()) GTEST_SKIP() << "no AMX bf16 tiles or AVX512-BF16 here";
  const int64_t N = 360, rows = 40, cols = 3072;  // X in bf16: 2.2 MB
  const Tensor W = gaussian(rows, cols, 31);
  std::vector<float> X(size_t(N * cols)), bias(static_cast<size_t>(rows));
  Rng rng(17);
  for (auto& v : X) v = float(rng.normal());
  for (auto& v : bias) v = float(rng.normal());
  for (const Form& f : {kForms[0], kForms[1], kForms[3]}) {  // q8_0, q4_0, rbe 4.25
    const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
    const std::vector<float> Wb = bf16_rows(e, rows, cols);
    for (const auto& k : kernels) {
      std::vector<float> Y(size_t(N * rows), NAN);
      ASSERT_TRUE(fixed_gemm_with_kernel(k.c_str(), e, N, X.data(), bias.data(), Y.data()));
      for (int64_t n : {int64_t(0), int64_t(17), int64_t(200), N - 1}) {
        const float* x = X.data() + n * cols;
        const std::vector<float> xb = bf16_x(e, x, cols);
        const std::vector<double> exact = naive_matvec(Wb, rows, cols, xb.data(), bias.data());
        const std::vector<float> y(Y.begin() + n * rows, Y.begin() + (n + 1) * rows);
        EXPECT_LT(row_err(y, exact, Wb, cols, xb.data()), 1e-6) << k << " " << e.codec << " row " << n;
      }
    }
  }
}

// The workbench runs two models side by side, each on its own thread: batched
// products from two threads at once (oneTBB tasks of both in one arena, each
// task with its own AMX tile state) give what each gives alone.
TEST(CodecFixed, BatchedProductsFromTwoThreadsAtOnceMatchAlone) {
  const int64_t N = 40;
  struct Job {
    EncodedTensor e;
    std::vector<float> X, alone, together;
  };
  std::vector<Job> jobs;
  for (const Form& f : {kForms[0], kForms[3]}) {  // q8_0, rbe 4.25
    Job j{enc(gaussian(203, 768, jobs.size() + 11), settings(f.codec, f.bpw)), {}, {}, {}};
    j.X.resize(size_t(N * 768));
    Rng rng(jobs.size() + 3);
    for (auto& v : j.X) v = float(rng.normal());
    j.alone.assign(size_t(N * 203), NAN);
    ASSERT_TRUE(fixed_gemm_with_kernel(fixed_gemm_kernel_name(), j.e, N, j.X.data(), nullptr, j.alone.data()));
    jobs.push_back(std::move(j));
  }
  for (int round = 0; round < 20; ++round) {
    std::vector<std::thread> threads;
    for (Job& j : jobs) {
      j.together.assign(j.alone.size(), NAN);
      threads.emplace_back([&j] { fixed_gemm_with_kernel(fixed_gemm_kernel_name(), j.e, N, j.X.data(), nullptr, j.together.data()); });
    }
    for (auto& t : threads) t.join();
    for (const Job& j : jobs) ASSERT_EQ(j.together, j.alone) << j.e.codec << " round " << round;
  }
}

// The PackedMatrix's batched product at a few rows (5: a decoding step, per
// row matvecs where there are no AMX tiles, int8 tiles where there are) and
// at many (40: bf16 tiles where the CPU has them). Every path but the SGEMM
// rounds x (int8 for the VNNI matvec and the int8 tiles, bf16 for the bf16
// tiles); the kernels themselves are tested exactly above.
TEST(CodecFixed, PackedMatrixGemvGemmAndRowsAgreeWithTheDecode) {
  const int64_t rows = 75, cols = 256, maxN = 40;
  const Tensor W = gaussian(rows, cols, 99);
  std::vector<float> X(size_t(maxN * cols)), bias(static_cast<size_t>(rows));
  Rng rng(5);
  for (auto& v : X) v = float(rng.normal());
  for (auto& v : bias) v = float(rng.normal());
  const bool rounds_x = std::string(fixed_gemm_kernel_name()) != "sgemm" || fixed_kernel_quantizes_x(fixed_kernel_name());
  for (const Form& f : kForms) {
    auto e = std::make_shared<EncodedTensor>(enc(W, settings(f.codec, f.bpw)));
    const std::vector<float> D = decode_all(*e);
    auto P = make_packed_fixed(e);
    EXPECT_EQ(P->rows(), rows);
    EXPECT_EQ(P->cols(), cols);
    EXPECT_EQ(P->bytes(), e->size);
    std::vector<float> part(size_t(3 * cols));
    P->decode_rows(10, 13, part.data());
    for (size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i], D[size_t(10 * cols) + i]) << P->format();
    for (int64_t N : {int64_t(5), maxN}) {
      std::vector<float> Y(size_t(N * rows), NAN);
      P->gemm(N, X.data(), bias.data(), Y.data());
      for (int64_t n = 0; n < N; ++n) {
        const auto ref = naive_matvec(D, rows, cols, X.data() + n * cols, bias.data());
        const std::vector<float> y(Y.begin() + n * rows, Y.begin() + (n + 1) * rows);
        EXPECT_LT(row_err(y, ref, D, cols, X.data() + n * cols), rounds_x ? 5e-3 : 1e-5) << P->format() << " N " << N;
      }
    }
    std::vector<float> y(static_cast<size_t>(rows));
    P->gemv(X.data(), nullptr, y.data());
    const double tol = fixed_kernel_quantizes_x(fixed_kernel_name()) ? 5e-3 : 1e-5;
    EXPECT_LT(row_err(y, naive_matvec(D, rows, cols, X.data(), nullptr), D, cols, X.data()), tol) << P->format();
  }
}

TEST(CodecFixed, BadInputGivesClearErrors) {
  try {
    enc(gaussian(4, 48, 1), settings("q4_0"));
    FAIL() << "no error for 48 columns";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(enc(gaussian(4, 64, 1), settings("rbe", 1.0)), std::invalid_argument);  // below the lowest rate
  Tensor bad = gaussian(4, 64, 1);
  bad.data<float>()[70] = NAN;
  EXPECT_THROW(enc(bad, settings("q8_0")), std::invalid_argument);
  EXPECT_THROW(enc(gaussian(4, 64, 1), settings("q4_0"), Tensor::zeros({32, 32})), std::invalid_argument);
  EncodedTensor e = enc(gaussian(4, 64, 1), settings("q8_0"));
  std::vector<uint8_t> cut(e.data, e.data + e.size - 1);
  e.set_owned(cut);
  std::vector<float> out(4 * 64);
  EXPECT_THROW(decode_fixed_rows(e, 0, 4, out.data()), std::runtime_error);
  e = enc(gaussian(4, 64, 1), settings("q8_0"));
  EXPECT_THROW(decode_fixed_rows(e, 2, 5, out.data()), std::out_of_range);
}

// The params of an rbe fixed tensor come from the file: numbers that are not
// integers of the field's type are errors naming the field, not casts
// (undefined for 1e300).
TEST(CodecFixed, ParamsNumbersMustBeIntegers) {
  const EncodedTensor good = enc(gaussian(4, 64, 1), settings("rbe", 4.25));
  ASSERT_NO_THROW(fixed::layout_of(good));
  ASSERT_TRUE(good.params.contains("levels"));
  const std::vector<std::pair<std::string, nlohmann::json>> bad_values = {
      {"bits", 1e300}, {"bits", 4.0}, {"group", 2.5}, {"seed", -1}, {"seed", 1e300}};
  for (const auto& [key, value] : bad_values) {
    EncodedTensor e = good;
    e.params[key] = value;
    try {
      fixed::layout_of(e);
      (void)fixed::rotation_seed(e);
      ADD_FAILURE() << key << " = " << value.dump() << " was accepted";
    } catch (const std::runtime_error& ex) {
      EXPECT_NE(std::string(ex.what()).find(key + " must be an integer"), std::string::npos) << ex.what();
    }
  }
  EncodedTensor e = good;
  e.params["levels"][0] = 1e300;
  EXPECT_THROW(fixed::layout_of(e), std::runtime_error);
  e.params["levels"] = "none";
  EXPECT_THROW(fixed::layout_of(e), std::runtime_error);
}

TEST(CodecFixed, CancelStopsTheEncoder) {
  const Tensor W = gaussian(1024, 64, 2);
  EXPECT_THROW(encode_fixed(W, settings("q4_0"), {}, [] { return true; }, {}), Cancelled);
  double last = 0;
  encode_fixed(W, settings("rbe", 3.25), [&](double f, const std::string&) { last = f; }, {}, {});
  EXPECT_DOUBLE_EQ(last, 1.0);
}

TEST(CodecFixed, PropertyRowsDecodeEqualsFullDecodeAndGenericGemvAgrees) {
  EXPECT_TRUE(rc::check([] {
    const int64_t rows = *rc::gen::inRange<int64_t>(1, 40);
    const int64_t cols = 64 * *rc::gen::inRange<int64_t>(1, 6);
    const int form = *rc::gen::inRange(0, int(kForms.size()));
    const uint64_t seed = *rc::gen::arbitrary<uint32_t>();
    const Tensor W = gaussian(rows, cols, seed, 1.f);
    const EncodedTensor e = enc(W, settings(kForms[size_t(form)].codec, kForms[size_t(form)].bpw));
    const std::vector<float> D = decode_all(e);
    const int64_t r0 = *rc::gen::inRange<int64_t>(0, rows);
    const int64_t r1 = *rc::gen::inRange<int64_t>(r0, rows + 1);
    std::vector<float> part(size_t((r1 - r0) * cols));
    decode_fixed_rows(e, r0, r1, part.data());
    RC_ASSERT(std::equal(part.begin(), part.end(), D.begin() + r0 * cols));
    std::vector<float> x(size_t(cols), 0.5f), y(static_cast<size_t>(rows));
    RC_ASSERT(fixed_gemv_with_kernel("generic", e, x.data(), nullptr, y.data()));
    // Per row, against ||w|| ||x||: relative to the whole output, one row
    // whose terms cancel fails on rounding alone (the test below).
    RC_ASSERT(row_err(y, naive_matvec(D, rows, cols, x.data(), nullptr), D, cols, x.data()) < 1e-5);
  }));
}

// The case RapidCheck found (1 x 128, rbe at 4.5 bits, seed 251): the row's
// terms cancel to -1.2e-4 against ||w|| ||x|| = 59, so the generic kernel's
// rounding, 8e-9 of ||w|| ||x||, is 4e-3 of the output itself. The kernel is
// right; an error relative to the output vector cannot judge a single such row.
TEST(CodecFixed, GenericGemvOnARowWhoseTermsCancel) {
  const int64_t rows = 1, cols = 128;
  const EncodedTensor e = enc(gaussian(rows, cols, 251, 1.f), settings("rbe", 4.5));
  const std::vector<float> D = decode_all(e);
  std::vector<float> x(size_t(cols), 0.5f), y(1);
  ASSERT_TRUE(fixed_gemv_with_kernel("generic", e, x.data(), nullptr, y.data()));
  const std::vector<double> ref = naive_matvec(D, rows, cols, x.data(), nullptr);
  double ww = 0;
  for (float w : D) ww += double(w) * w;
  EXPECT_LT(std::fabs(ref[0]), 1e-5 * std::sqrt(ww * double(cols) * 0.25));  // still the case: the terms cancel
  EXPECT_LT(row_err(y, ref, D, cols, x.data()), 1e-5);
}

// A NaN or an infinity in the input (a model whose weights overflow, a
// corrupt file) must come out as NaN or inf in every row it reaches, with
// every kernel, including those that quantize x to int8 (where converting
// NaN to an integer is undefined: the fuzzer found it in the VNNI kernel),
// and only there.
TEST(CodecFixed, NonFiniteInputsGiveNonFiniteRowsWithEveryKernel) {
  const int64_t rows = 8, cols = 256;
  const Tensor W = gaussian(rows, cols, 17, 1.f);
  for (const Form& f : kForms) {
    const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
    for (const auto& k : fixed_kernel_names())
      for (const float bad : {NAN, INFINITY, -INFINITY}) {
        std::vector<float> x(size_t(cols), 0.25f), y(size_t(rows), 0.f);
        x[37] = bad;
        ASSERT_TRUE(fixed_gemv_with_kernel(k.c_str(), e, x.data(), nullptr, y.data()));
        for (int64_t r = 0; r < rows; ++r)
          EXPECT_FALSE(std::isfinite(y[size_t(r)])) << k << " " << e.codec << " " << f.expect_bpw << " x[37] = " << bad
                                                    << " row " << r << ": " << y[size_t(r)];
      }
    // The batched kernels (prompts; AMX int8 tiles quantize X as the VNNI
    // matvec does): input row 1 of 20 holds the bad value, the others stay finite.
    for (const auto& k : fixed_gemm_kernel_names())
      for (const float bad : {NAN, INFINITY}) {
        const int64_t N = 20;
        std::vector<float> X(size_t(N * cols), 0.25f), Y(size_t(N * rows), 0.f);
        X[size_t(cols + 37)] = bad;
        ASSERT_TRUE(fixed_gemm_with_kernel(k.c_str(), e, N, X.data(), nullptr, Y.data()));
        for (int64_t n = 0; n < N; ++n)
          for (int64_t r = 0; r < rows; ++r)
            EXPECT_EQ(std::isfinite(Y[size_t(n * rows + r)]), n != 1)
                << k << " " << e.codec << " " << f.expect_bpw << " X[1][37] = " << bad << " row " << n << ", " << r;
      }
  }
}

// A 32-block of x so small that 127 / max|x| overflows (the fuzzer reached
// it through a .rbe model: x * inf converted to int8, undefined) gives
// finite rows, as close to the decode's product as any other input.
TEST(CodecFixed, TinyInputBlocksGiveFiniteRows) {
  const int64_t rows = 8, cols = 256;
  const EncodedTensor e = enc(gaussian(rows, cols, 23, 1.f), settings("q8_0"));
  const std::vector<float> D = decode_all(e);
  for (const float tiny : {1e-38f, 1e-41f}) {
    std::vector<float> x(size_t(cols), 0.25f);
    for (int i = 64; i < 96; ++i) x[size_t(i)] = i % 2 ? tiny : -tiny;
    const std::vector<double> ref = naive_matvec(D, rows, cols, x.data(), nullptr);
    for (const auto& k : fixed_kernel_names()) {
      std::vector<float> y(size_t(rows), NAN);
      ASSERT_TRUE(fixed_gemv_with_kernel(k.c_str(), e, x.data(), nullptr, y.data()));
      for (float v : y) EXPECT_TRUE(std::isfinite(v)) << k << " " << tiny;
      EXPECT_LT(row_err(y, ref, D, cols, x.data()), fixed_kernel_quantizes_x(k) ? 5e-3 : 1e-5) << k << " " << tiny;
    }
  }
}
