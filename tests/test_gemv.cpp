// GEMV (f32 and f16 weights) and the f16-weight GEMM against double-precision
// loops, for every kernel the machine supports, odd sizes, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include "tensor/dtype.h"
#include "tensor/kernels/gemm_f16.h"
#include "tensor/kernels/gemv.h"

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

const char* const kKernels[] = {"avx512", "avx2", "generic"};

TEST(Gemv, MatchesDoubleLoopsForEveryKernelOddSizesAndThreads) {
  const int64_t shapes[][3] = {{1, 1, 0},   {3, 5, 0},    {7, 17, 3},  {9, 31, 1},   {64, 768, 0},
                               {33, 100, 5}, {1001, 67, 0}, {515, 257, 2}, {2051, 129, 0}};
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

}  // namespace
