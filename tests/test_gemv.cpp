// GEMV (f32 and f16 weights) and the f16-weight GEMM against double-precision
// loops, for every kernel the machine supports, odd sizes, 1 and 2 threads.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include "autodiff/node.h"
#include "nn/functional.h"
#include "tensor/dtype.h"
#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemm_f16.h"
#include "tensor/kernels/gemm_split.h"
#include "tensor/kernels/gemv.h"
#include "tensor/tensor.h"

namespace {

using namespace rbe;

struct Problem {
  int64_t N, K, ldw;
  std::vector<float> w, x, bias;  // w holds the values the kernels see (f16-rounded for f16)
  std::vector<uint16_t> wh;
};

Problem make(int64_t N, int64_t K, int64_t pad, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  Problem p{N, K, K + pad, {}, {}, {}, {}};
  p.w.resize(size_t(N * p.ldw));
  p.wh.resize(p.w.size());
  for (size_t i = 0; i < p.w.size(); ++i) {
    p.wh[i] = f32_to_f16(d(rng));
    p.w[i] = f16_to_f32(p.wh[i]);  // exactly representable in both
  }
  p.x.resize(size_t(K));
  for (auto& v : p.x) v = d(rng);
  p.bias.resize(size_t(N));
  for (auto& v : p.bias) v = d(rng);
  return p;
}

// y[n] = sum_k w[n, k] x[k] (+ bias) in double; also the sum of |terms| for the tolerance.
void reference(const Problem& p, bool with_bias, std::vector<double>& y, std::vector<double>& mag) {
  y.assign(size_t(p.N), 0.0);
  mag.assign(size_t(p.N), 0.0);
  for (int64_t n = 0; n < p.N; ++n) {
    double s = with_bias ? p.bias[size_t(n)] : 0.0, m = with_bias ? std::abs(p.bias[size_t(n)]) : 0.0;
    for (int64_t k = 0; k < p.K; ++k) {
      const double t = double(p.w[size_t(n * p.ldw + k)]) * p.x[size_t(k)];
      s += t;
      m += std::abs(t);
    }
    y[size_t(n)] = s;
    mag[size_t(n)] = m;
  }
}

void expect_close(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& mag,
                  const std::string& what) {
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(got[i], ref[i], 3e-5 * mag[i] + 1e-6) << what << " row " << i;
}

const char* const kKernels[] = {"avx512", "avx512l2", "avx2", "generic"};

TEST(Gemv, MatchesDoubleLoopsForEveryKernelOddSizesAndThreads) {
  const int64_t shapes[][3] = {{1, 1, 0},   {3, 5, 0},    {7, 17, 3},  {9, 31, 1},   {64, 768, 0},
                               {33, 100, 5}, {1001, 67, 0}, {515, 257, 2}, {2051, 129, 0},
                               {70, 3072, 0}, {41, 2049, 3}};
  int tested_kernels = 0;
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    uint32_t seed = 1;
    for (const auto& s : shapes) {
      Problem p = make(s[0], s[1], s[2], seed++);
      for (bool with_bias : {false, true}) {
        std::vector<double> ref, mag;
        reference(p, with_bias, ref, mag);
        const float* b = with_bias ? p.bias.data() : nullptr;
        const std::string tag = std::to_string(p.N) + "x" + std::to_string(p.K) + " ldw " + std::to_string(p.ldw) +
                                " threads " + std::to_string(threads) + (with_bias ? " bias" : "");
        std::vector<float> y(size_t(p.N), NAN);
        kernels::sgemv(p.N, p.K, p.w.data(), p.ldw, p.x.data(), b, y.data());
        expect_close(y, ref, mag, "sgemv " + tag);
        std::fill(y.begin(), y.end(), NAN);
        kernels::hgemv(p.N, p.K, p.wh.data(), p.ldw, p.x.data(), b, y.data());
        expect_close(y, ref, mag, "hgemv " + tag);
        for (const char* k : kKernels) {
          std::fill(y.begin(), y.end(), NAN);
          if (!kernels::sgemv_with_kernel(k, p.N, p.K, p.w.data(), p.ldw, p.x.data(), b, y.data())) continue;
          ++tested_kernels;
          expect_close(y, ref, mag, std::string("sgemv[") + k + "] " + tag);
          std::fill(y.begin(), y.end(), NAN);
          ASSERT_TRUE(kernels::hgemv_with_kernel(k, p.N, p.K, p.wh.data(), p.ldw, p.x.data(), b, y.data()));
          expect_close(y, ref, mag, std::string("hgemv[") + k + "] " + tag);
        }
      }
    }
  }
  EXPECT_GT(tested_kernels, 0);
  EXPECT_FALSE(kernels::sgemv_with_kernel("nope", 1, 1, nullptr, 1, nullptr, nullptr, nullptr));
}

TEST(Gemv, F16WeightsAreConvertedExactly) {
  // A weight that f16 represents exactly but that is not an "easy" float:
  // 1 + 2^-10 and a subnormal; x picks them out one at a time.
  const uint16_t w[4] = {f32_to_f16(1.f + 1.f / 1024.f), f32_to_f16(-3.5f), 0x0001 /* 2^-24 */, f32_to_f16(65504.f)};
  for (int64_t k = 0; k < 4; ++k) {
    float x[4] = {0, 0, 0, 0};
    x[k] = 1.f;
    float y = 0;
    kernels::hgemv(1, 4, w, 4, x, nullptr, &y);
    EXPECT_EQ(y, f16_to_f32(w[k])) << k;
  }
}

// M input rows (ldx > K) against double loops, for every kernel, M = 1..11
// (groups of 8 beyond 8), with and without bias; Y has ldy > N and the padding
// columns must stay untouched.
TEST(GemvMulti, MatchesDoubleLoopsForEveryKernelAndRowCount) {
  const int64_t shapes[][3] = {{1, 1, 0}, {3, 5, 0}, {7, 17, 3}, {9, 31, 1}, {33, 100, 5}, {64, 768, 0}, {515, 257, 2}};
  const float kSentinel = -12345.f;
  int tested = 0;
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    uint32_t seed = 100;
    for (const auto& s : shapes) {
      Problem p = make(s[0], s[1], s[2], seed++);
      std::mt19937 rng(seed * 31);
      std::uniform_real_distribution<float> d(-1.f, 1.f);
      for (int64_t M = 1; M <= 11; ++M) {
        const int64_t ldx = p.K + 3, ldy = p.N + 2;
        std::vector<float> X(size_t(M * ldx));
        for (auto& v : X) v = d(rng);
        for (bool with_bias : {false, true}) {
          // Reference per input row, reusing the single-vector reference.
          std::vector<std::vector<double>> ref(static_cast<size_t>(M)), mag(static_cast<size_t>(M));
          for (int64_t m = 0; m < M; ++m) {
            Problem q = p;
            q.x.assign(X.begin() + m * ldx, X.begin() + m * ldx + p.K);
            reference(q, with_bias, ref[size_t(m)], mag[size_t(m)]);
          }
          const float* b = with_bias ? p.bias.data() : nullptr;
          const std::string tag = std::to_string(M) + " x " + std::to_string(p.N) + "x" + std::to_string(p.K) +
                                  " ldw " + std::to_string(p.ldw) + " threads " + std::to_string(threads) +
                                  (with_bias ? " bias" : "");
          auto check = [&](const std::vector<float>& Y, const std::string& what) {
            for (int64_t m = 0; m < M; ++m) {
              for (int64_t n = 0; n < p.N; ++n)
                ASSERT_NEAR(Y[size_t(m * ldy + n)], ref[size_t(m)][size_t(n)], 1e-5 * mag[size_t(m)][size_t(n)] + 1e-6)
                    << what << " " << tag << " at " << m << "," << n;
              for (int64_t n = p.N; n < ldy; ++n) ASSERT_EQ(Y[size_t(m * ldy + n)], kSentinel) << what << " " << tag;
            }
          };
          std::vector<float> Y(size_t(M * ldy), kSentinel);
          kernels::sgemv_multi(M, p.N, p.K, p.w.data(), p.ldw, X.data(), ldx, b, Y.data(), ldy);
          check(Y, "sgemv_multi");
          std::fill(Y.begin(), Y.end(), kSentinel);
          kernels::hgemv_multi(M, p.N, p.K, p.wh.data(), p.ldw, X.data(), ldx, b, Y.data(), ldy);
          check(Y, "hgemv_multi");
          for (const char* k : kKernels) {
            std::fill(Y.begin(), Y.end(), kSentinel);
            if (!kernels::sgemv_multi_with_kernel(k, M, p.N, p.K, p.w.data(), p.ldw, X.data(), ldx, b, Y.data(), ldy))
              continue;
            ++tested;
            check(Y, std::string("sgemv_multi[") + k + "]");
            std::fill(Y.begin(), Y.end(), kSentinel);
            ASSERT_TRUE(
                kernels::hgemv_multi_with_kernel(k, M, p.N, p.K, p.wh.data(), p.ldw, X.data(), ldx, b, Y.data(), ldy));
            check(Y, std::string("hgemv_multi[") + k + "]");
          }
        }
      }
    }
  }
  EXPECT_GT(tested, 0);
  EXPECT_FALSE(kernels::sgemv_multi_with_kernel("nope", 2, 1, 1, nullptr, 1, nullptr, 1, nullptr, nullptr, 1));
  EXPECT_FALSE(kernels::hgemv_multi_with_kernel("nope", 2, 1, 1, nullptr, 1, nullptr, 1, nullptr, nullptr, 1));
}

// AMD's AVX-512 table runs f32 rows through the multi-row kernel with one
// input, so each row's sum is the same, bit for bit, alone or in a batch
// (gemv_avx512.cpp, rows_f32_streams8): batched f32 decoding agrees exactly
// with single decoding in the products. Rows of every stream position and
// the leftover rows, 1 and 2 threads.
TEST(GemvMulti, AvxL2F32RowsMatchTheMultiRowKernelExactly) {
  int tested = 0;
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    for (const auto& s : {std::array<int64_t, 3>{37, 100, 0}, std::array<int64_t, 3>{515, 257, 2},
                          std::array<int64_t, 3>{2304, 768, 0}}) {
      Problem p = make(s[0], s[1], s[2], uint32_t(s[0]));
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> d(-1.f, 1.f);
      for (int64_t M : {2, 5, 8}) {
        std::vector<float> X(size_t(M * p.K)), Y(size_t(M * p.N)), y(size_t(p.N));
        for (auto& v : X) v = d(rng);
        if (!kernels::sgemv_multi_with_kernel("avx512l2", M, p.N, p.K, p.w.data(), p.ldw, X.data(), p.K,
                                              p.bias.data(), Y.data(), p.N))
          GTEST_SKIP() << "no AVX-512 here";
        for (int64_t m = 0; m < M; ++m) {
          ASSERT_TRUE(kernels::sgemv_with_kernel("avx512l2", p.N, p.K, p.w.data(), p.ldw, X.data() + m * p.K,
                                                 p.bias.data(), y.data()));
          for (int64_t n = 0; n < p.N; ++n)
            ASSERT_EQ(y[size_t(n)], Y[size_t(m * p.N + n)]) << "row " << n << " input " << m << " of " << M;
          ++tested;
        }
      }
    }
  }
  EXPECT_GT(tested, 0);
}

TEST(GemvMulti, F16WeightsAreConvertedExactlyForEveryRow) {
  // Input row m picks weight k = m % 4 (see F16WeightsAreConvertedExactly).
  const uint16_t w[4] = {f32_to_f16(1.f + 1.f / 1024.f), f32_to_f16(-3.5f), 0x0001 /* 2^-24 */, f32_to_f16(65504.f)};
  for (const char* k : kKernels) {
    std::vector<float> X(8 * 4, 0.f), Y(8, NAN);
    for (int m = 0; m < 8; ++m) X[size_t(m * 4 + m % 4)] = 1.f;
    if (!kernels::hgemv_multi_with_kernel(k, 8, 1, 4, w, 4, X.data(), 4, nullptr, Y.data(), 1)) continue;
    for (int m = 0; m < 8; ++m) EXPECT_EQ(Y[size_t(m)], f16_to_f32(w[m % 4])) << k << " row " << m;
  }
}

// nn::F::linear with 2..16 input rows (the multi-vector path: one group up
// to 8, two from 9) and 17 (the GEMM again) equals the GEMM, f32 and f16
// weights, [B, 1, IC] inputs as in batched decoding.
TEST(GemvMulti, LinearForwardMatchesGemmForSmallBatches) {
  NoGradGuard ng;
  for (const int64_t IC : {97, 128}) {  // 128: a depth the AMX tiles take (f16 weights from 17 rows)
    const int64_t OC = 301;
    const Tensor w = Tensor::randn({OC, IC}, 7), bias = Tensor::randn({OC}, 8);
    const Tensor wh = w.to(DType::F16);
    for (int64_t N = 2; N <= 17; ++N) {
      const Tensor x = Tensor::randn({N, 1, IC}, uint64_t(N));
      for (bool with_bias : {false, true}) {
        const Tensor b = with_bias ? bias : Tensor();
        const Tensor y32 = nn::F::linear(x, w, b), y16 = nn::F::linear(x, wh, b);
        ASSERT_EQ(y32.shape(), (Shape{N, 1, OC}));
        ASSERT_EQ(y16.shape(), (Shape{N, 1, OC}));
        std::vector<float> g32(size_t(N * OC)), g16(size_t(N * OC));
        for (int64_t n = 0; n < N; ++n)
          for (int64_t o = 0; o < OC; ++o)
            g32[size_t(n * OC + o)] = g16[size_t(n * OC + o)] = with_bias ? bias.data<float>()[o] : 0.f;
        const float beta = with_bias ? 1.f : 0.f;
        kernels::sgemm(false, true, N, OC, IC, 1.f, x.data<float>(), IC, w.data<float>(), IC, beta, g32.data(), OC);
        kernels::gemm_f16w(N, OC, IC, x.data<float>(), IC, wh.data<uint16_t>(), IC, beta, g16.data(), OC);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t o = 0; o < OC; ++o) {
            double mag = with_bias ? std::abs(bias.data<float>()[o]) : 0.0;
            for (int64_t k = 0; k < IC; ++k) mag += std::abs(double(x.data<float>()[n * IC + k]) * w.data<float>()[o * IC + k]);
            const size_t i = size_t(n * OC + o);
            ASSERT_NEAR(y32.data<float>()[i], g32[i], 1e-5 * mag + 1e-6) << "f32 N " << N << " at " << n << "," << o;
            ASSERT_NEAR(y16.data<float>()[i], g16[i], 2e-5 * mag + 1e-6) << "f16 N " << N << " at " << n << "," << o;
          }
      }
    }
  }
}

TEST(GemmF16, MatchesDoubleLoops) {
  const int64_t shapes[][3] = {{2, 3, 5}, {5, 37, 19}, {17, 300, 33}, {33, 129, 768}};
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    for (const auto& s : shapes) {
      const int64_t M = s[0], N = s[1], K = s[2];
      Problem p = make(N, K, 1, uint32_t(M * 7 + N));
      std::mt19937 rng(static_cast<uint32_t>(K));
      std::uniform_real_distribution<float> d(-1.f, 1.f);
      std::vector<float> A(size_t(M * K)), C(size_t(M * N));
      for (auto& v : A) v = d(rng);
      for (auto& v : C) v = d(rng);
      const std::vector<float> C0 = C;
      for (float beta : {0.f, 1.f}) {
        C = C0;
        kernels::gemm_f16w(M, N, K, A.data(), K, p.wh.data(), p.ldw, beta, C.data(), N);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double s = beta * C0[size_t(i * N + j)], m = std::abs(s);
            for (int64_t k = 0; k < K; ++k) {
              const double t = double(A[size_t(i * K + k)]) * p.w[size_t(j * p.ldw + k)];
              s += t;
              m += std::abs(t);
            }
            ASSERT_NEAR(C[size_t(i * N + j)], s, 1e-5 * m + 1e-6) << M << "x" << N << "x" << K << " at " << i << "," << j;
          }
      }
    }
  }
}

// To nearest even, as VCVTNE2PS2BF16 (tensor/dtype.h's conversion).
float bf16_round(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// The AMX tiles' f16 product against what it means to compute, in double:
// W exactly as hi + lo, A as hi + lo (16 bits), the lo x lo term left out,
// so sum_k a_hi w + a_lo w_hi. Within 1e-6 of the terms' magnitudes (f32
// sums of 768 terms); plain bf16 operands would be ~1e-3 off. Strides
// wider than the shapes, beta 0 and 1, edges of every kind, C's padding
// untouched.
TEST(GemmF16, TilesMatchTheirSplitOperandsInDouble) {
  if (!kernels::gemm_f16w_tiles_usable()) GTEST_SKIP() << "no usable AMX bf16 tiles here";
  // The last two: X beyond 2 MiB, taken in blocks (the last block odd), and
  // at K = 3072 in parts of 768 of depth, each adding into C.
  const int64_t shapes[][3] = {{9, 32, 32},      {16, 70, 96},   {33, 129, 768},
                               {47, 2304, 768},  {700, 40, 768}, {333, 70, 3072}};
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    for (const auto& s : shapes) {
      const int64_t M = s[0], N = s[1], K = s[2], lda = K + 5, ldc = N + 3;
      Problem p = make(N, K, 7, uint32_t(M * 5 + N));
      std::mt19937 rng(static_cast<uint32_t>(K + M));
      std::uniform_real_distribution<float> d(-1.f, 1.f);
      std::vector<float> A(size_t(M * lda)), C0(size_t(M * ldc));
      for (auto& v : A) v = d(rng) * 3.f;
      for (auto& v : C0) v = d(rng);
      for (float beta : {0.f, 1.f}) {
        std::vector<float> C = C0;
        ASSERT_TRUE(kernels::gemm_f16w_tiles(M, N, K, A.data(), lda, p.wh.data(), p.ldw, beta, C.data(), ldc));
        for (int64_t i = 0; i < M; ++i) {
          for (int64_t j = N; j < ldc; ++j) ASSERT_EQ(C[size_t(i * ldc + j)], C0[size_t(i * ldc + j)]);
          for (int64_t j = 0; j < N; ++j) {
            double ref = beta * C0[size_t(i * ldc + j)], exact = ref, m = std::abs(ref);
            for (int64_t k = 0; k < K; ++k) {
              const float a = A[size_t(i * lda + k)], w = p.w[size_t(j * p.ldw + k)];
              const float ah = bf16_round(a), al = bf16_round(a - ah), wh = bf16_round(w);
              ref += double(ah) * w + double(al) * wh;
              exact += double(a) * w;
              m += std::abs(double(a) * w);
            }
            const float got = C[size_t(i * ldc + j)];
            ASSERT_NEAR(got, ref, 1e-6 * m) << M << "x" << N << "x" << K << " beta " << beta << " at " << i << "," << j;
            ASSERT_NEAR(got, exact, 2e-5 * m) << M << "x" << N << "x" << K << " at " << i << "," << j;
          }
        }
      }
    }
  }
}

// Past 1024 rows of A the tiles run 1024 at a time, and past 2 MiB of split
// X they split W a group of strips at a time (2720 rows at K = 768): the
// rows of such a product equal the same rows multiplied alone (every
// element sums the same products in the same order), and a few of them
// the double-precision product.
TEST(GemmF16, TilesTakeLongInputsInPieces) {
  if (!kernels::gemm_f16w_tiles_usable()) GTEST_SKIP() << "no usable AMX bf16 tiles here";
  const int64_t M = 1100, N = 2800, K = 768;
  Problem p = make(N, K, 0, 5);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> A(size_t(M * K)), C(size_t(M * N)), row(static_cast<size_t>(N));
  for (auto& v : A) v = d(rng);
  ASSERT_TRUE(kernels::gemm_f16w_tiles(M, N, K, A.data(), K, p.wh.data(), K, 0.f, C.data(), N));
  for (int64_t i : {int64_t(0), int64_t(517), int64_t(1023), int64_t(1024), M - 1}) {
    ASSERT_TRUE(kernels::gemm_f16w_tiles(1, N, K, A.data() + i * K, K, p.wh.data(), K, 0.f, row.data(), N));
    for (int64_t j = 0; j < N; ++j) ASSERT_EQ(C[size_t(i * N + j)], row[size_t(j)]) << "row " << i << ", column " << j;
    for (int64_t j : {int64_t(0), int64_t(2719), int64_t(2720), N - 1}) {
      double exact = 0, m = 0;
      for (int64_t k = 0; k < K; ++k) {
        exact += double(A[size_t(i * K + k)]) * p.w[size_t(j * K + k)];
        m += std::abs(double(A[size_t(i * K + k)]) * p.w[size_t(j * K + k)]);
      }
      ASSERT_NEAR(row[size_t(j)], exact, 2e-5 * m) << "row " << i << ", column " << j;
    }
  }
}

// The f32 tiles (three parts each, six products) against f32 precision.
// With one nonzero term per output there is nothing to sum: each output must
// be the exact a * w to within f32 rounding (2^-22 of it). Two parts, or one
// of the six products left out, would be off by up to 2^-17 or 2^-18. Then
// dense random products against double loops (strides, beta 0 and 1, C's
// padding, X whole and in blocks).
TEST(GemmF32Tiles, SingleTermsAreExactToF32Rounding) {
  if (!kernels::gemm_f32w_tiles_usable()) GTEST_SKIP() << "no usable AMX bf16 tiles here";
  const int64_t M = 20, N = 40, K = 96;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(0.5f, 2.f);
  std::vector<float> A(size_t(M * K), 0.f), W(size_t(N * K)), C(size_t(M * N));
  for (auto& v : W) v = (rng() & 1 ? -1.f : 1.f) * d(rng);
  for (int64_t i = 0; i < M; ++i) A[size_t(i * K + (i * 7) % K)] = (rng() & 1 ? -1.f : 1.f) * d(rng);
  ASSERT_TRUE(kernels::gemm_f32w_tiles(M, N, K, A.data(), K, W.data(), K, 0.f, C.data(), N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const int64_t k = (i * 7) % K;
      const double exact = double(A[size_t(i * K + k)]) * W[size_t(j * K + k)];
      ASSERT_NEAR(C[size_t(i * N + j)], exact, std::ldexp(std::abs(exact), -22)) << i << "," << j;
    }
}

TEST(GemmF32Tiles, MatchDoubleLoops) {
  if (!kernels::gemm_f32w_tiles_usable()) GTEST_SKIP() << "no usable AMX bf16 tiles here";
  // The last two: X's three parts beyond 2 MiB, in blocks, and at K = 3072
  // in parts of 768 of depth, each adding into C (beta only on the first).
  const int64_t shapes[][3] = {{9, 32, 32}, {16, 70, 96}, {33, 129, 768}, {500, 40, 768}, {130, 33, 3072}};
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    for (const auto& s : shapes) {
      const int64_t M = s[0], N = s[1], K = s[2], lda = K + 5, ldw = K + 3, ldc = N + 3;
      std::mt19937 rng(uint32_t(M * 5 + N));
      std::uniform_real_distribution<float> d(-1.f, 1.f);
      std::vector<float> A(size_t(M * lda)), W(size_t(N * ldw)), C0(size_t(M * ldc));
      for (auto& v : A) v = d(rng) * 3.f;
      for (auto& v : W) v = d(rng);
      for (auto& v : C0) v = d(rng);
      for (float beta : {0.f, 1.f}) {
        std::vector<float> C = C0;
        ASSERT_TRUE(kernels::gemm_f32w_tiles(M, N, K, A.data(), lda, W.data(), ldw, beta, C.data(), ldc));
        for (int64_t i = 0; i < M; ++i) {
          for (int64_t j = N; j < ldc; ++j) ASSERT_EQ(C[size_t(i * ldc + j)], C0[size_t(i * ldc + j)]);
          for (int64_t j = 0; j < N; ++j) {
            double exact = beta * C0[size_t(i * ldc + j)], m = std::abs(exact);
            for (int64_t k = 0; k < K; ++k) {
              const double t = double(A[size_t(i * lda + k)]) * W[size_t(j * ldw + k)];
              exact += t;
              m += std::abs(t);
            }
            ASSERT_NEAR(C[size_t(i * ldc + j)], exact, 1e-6 * m) << M << "x" << N << "x" << K << " at " << i << "," << j;
          }
        }
      }
    }
  }
}

// The workbench runs two models side by side, each on its own thread: split
// products (f16 and f32 weights, X whole and in blocks) started from two
// threads at once give what each gives alone.
TEST(GemmSplitTiles, ProductsFromTwoThreadsAtOnceMatchAlone) {
  if (!kernels::gemm_f16w_tiles_usable() || !kernels::gemm_f32w_tiles_usable())
    GTEST_SKIP() << "no usable AMX bf16 tiles here";
  struct Job {
    int64_t M, N, K;
    std::vector<float> A, W, alone, together;
    std::vector<uint16_t> Wh;
    void run(std::vector<float>& C) const {
      if (Wh.empty()) kernels::gemm_f32w_tiles(M, N, K, A.data(), K, W.data(), K, 0.f, C.data(), N);
      else kernels::gemm_f16w_tiles(M, N, K, A.data(), K, Wh.data(), K, 0.f, C.data(), N);
    }
  };
  std::vector<Job> jobs;
  for (int i = 0; i < 2; ++i) {
    Job j{i ? 40 : 700, 203, 768, {}, {}, {}, {}, {}};  // f16 W, X in blocks; f32 W, X whole
    std::mt19937 rng(uint32_t(i + 1));
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    j.A.resize(size_t(j.M * j.K));
    for (auto& v : j.A) v = d(rng);
    j.W.resize(size_t(j.N * j.K));
    for (auto& v : j.W) v = d(rng);
    if (i == 0)
      for (float w : j.W) j.Wh.push_back(f32_to_f16(w));
    j.alone.assign(size_t(j.M * j.N), NAN);
    j.run(j.alone);
    jobs.push_back(std::move(j));
  }
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> threads;
    for (Job& j : jobs) {
      j.together.assign(j.alone.size(), NAN);
      threads.emplace_back([&j] { j.run(j.together); });
    }
    for (auto& t : threads) t.join();
    for (const Job& j : jobs) ASSERT_EQ(j.together, j.alone) << (j.Wh.empty() ? "f32" : "f16") << " round " << round;
  }
}

// The tiles decline what they cannot do, leaving C alone.
TEST(GemmF16, TilesDeclineDepthsOffTheTileGrid) {
  std::vector<uint16_t> W(size_t(40 * 40), f32_to_f16(1.f));
  std::vector<float> A(size_t(16 * 40), 1.f), C(size_t(16 * 40), 7.f);
  EXPECT_FALSE(kernels::gemm_f16w_tiles(16, 40, 40, A.data(), 40, W.data(), 40, 0.f, C.data(), 40));
  for (float c : C) ASSERT_EQ(c, 7.f);
  EXPECT_STREQ(kernels::gemm_f16w_kernel_name(16, 40), "sgemm");
  EXPECT_STREQ(kernels::gemm_f16w_kernel_name(8, 768), "sgemm");
}

}  // namespace
