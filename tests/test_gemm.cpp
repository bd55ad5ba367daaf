// Tests for rbe::kernels::sgemm against a double-precision reference, for every kernel set
// the machine supports (the chosen one through the public API, the others through the
// internal sgemm_with_kernel entry point).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>

#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemm_internal.h"

namespace {

using rbe::kernels::sgemm;

struct Case {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
  int64_t pad_a = 0, pad_b = 0, pad_c = 0;  // extra leading-dimension slack
};

std::vector<float> random_vec(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Runs one case through `kernel` ("" = public sgemm) and checks every element of C,
// including that the slack between rows of C is untouched.
void check_case(const Case& c, const std::string& kernel, std::mt19937& rng) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad_a, ldb = b_cols + c.pad_b, ldc = c.N + c.pad_c;
  const auto A = random_vec(size_t(std::max<int64_t>(1, a_rows * lda)), rng);
  const auto B = random_vec(size_t(std::max<int64_t>(1, b_rows * ldb)), rng);
  std::vector<float> C0 = random_vec(size_t(std::max<int64_t>(1, c.M * ldc)), rng);
  if (c.beta == 0.0f) {  // old contents must be ignored, even NaN
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) C0[i * ldc + j] = std::numeric_limits<float>::quiet_NaN();
  }
  std::vector<float> C = C0;

  if (kernel.empty()) {
    sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  } else {
    ASSERT_TRUE(rbe::kernels::gemm_detail::sgemm_with_kernel(
        kernel.c_str(), c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta,
        C.data(), ldc));
  }

  int bad = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0.0, mag = 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[k * lda + i] : A[i * lda + k];
        const double b = c.tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
        mag += std::fabs(a * b);
      }
      double ref = double(c.alpha) * s;
      double scale = std::fabs(c.alpha) * mag;
      if (c.beta != 0.0f) {
        ref += double(c.beta) * C0[i * ldc + j];
        scale += std::fabs(c.beta * C0[i * ldc + j]);
      }
      const double got = C[i * ldc + j];
      if (!(std::fabs(got - ref) <= 1e-4 * scale + 1e-6) && bad++ < 5) {
        ADD_FAILURE() << "kernel=" << (kernel.empty() ? "default" : kernel) << " ta=" << c.ta
                      << " tb=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K
                      << " alpha=" << c.alpha << " beta=" << c.beta << " at (" << i << "," << j
                      << "): got " << got << " want " << ref;
      }
    }
    for (int64_t j = c.N; j < ldc; ++j) {
      if (C[i * ldc + j] != C0[i * ldc + j] && bad++ < 5)
        ADD_FAILURE() << "slack of C row " << i << " modified";
    }
  }
}

std::vector<std::string> kernels_to_test() {
  std::vector<std::string> ks = {""};
  for (const char* name : {"avx512", "avx2", "generic"}) {
    std::vector<float> a(1, 1.0f), b(1, 1.0f), c(1, 0.0f);
    if (rbe::kernels::gemm_detail::sgemm_with_kernel(name, false, false, 1, 1, 1, 1.0f, a.data(), 1,
                                                     b.data(), 1, 0.0f, c.data(), 1))
      ks.emplace_back(name);
  }
  return ks;
}

TEST(Gemm, KernelNameIsKnown) {
  const std::string name = rbe::kernels::sgemm_kernel_name();
  EXPECT_TRUE(name == "avx512" || name == "avx2" || name == "generic") << name;
}

TEST(Gemm, AllTransposesOddSizes) {
  std::mt19937 rng(42);
  const int64_t sizes[] = {1, 3, 17, 33, 65};
  for (const auto& kernel : kernels_to_test()) {
    for (int t = 0; t < 4; ++t) {
      for (int64_t M : sizes)
        for (int64_t N : sizes)
          for (int64_t K : {int64_t(1), int64_t(17), int64_t(65)})
            check_case({bool(t & 1), bool(t & 2), M, N, K, 1.0f, 0.0f}, kernel, rng);
    }
  }
}

TEST(Gemm, AlphaBetaAndPadding) {
  std::mt19937 rng(7);
  const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.5f, -2.0f}, {-1.5f, 0.0f}, {2.0f, 0.25f}};
  for (const auto& kernel : kernels_to_test()) {
    for (int t = 0; t < 4; ++t) {
      for (const auto& v : ab) {
        check_case({bool(t & 1), bool(t & 2), 37, 45, 29, v[0], v[1], 3, 5, 7}, kernel, rng);
        check_case({bool(t & 1), bool(t & 2), 127, 33, 257, v[0], v[1], 1, 16, 2}, kernel, rng);
      }
    }
  }
}

TEST(Gemm, LargerShapesMultiKBlock) {
  std::mt19937 rng(3);
  for (const auto& kernel : kernels_to_test()) {
    for (int t = 0; t < 4; ++t) {
      check_case({bool(t & 1), bool(t & 2), 257, 127, 65, 1.0f, 0.0f}, kernel, rng);
      check_case({bool(t & 1), bool(t & 2), 65, 257, 600, 1.0f, 0.5f, 0, 3, 1}, kernel, rng);
      check_case({bool(t & 1), bool(t & 2), 1, 257, 300, 1.0f, 0.0f}, kernel, rng);  // M = 1
      check_case({bool(t & 1), bool(t & 2), 300, 1, 257, 1.0f, 1.0f}, kernel, rng);  // N = 1
    }
  }
}

TEST(Gemm, ZeroK) {
  std::mt19937 rng(5);
  for (const auto& kernel : kernels_to_test()) {
    check_case({false, false, 17, 33, 0, 1.0f, 0.0f}, kernel, rng);  // NaN C -> zeros
    check_case({true, true, 17, 33, 0, 1.0f, 0.5f, 0, 0, 3}, kernel, rng);
  }
}

TEST(Gemm, EmptyMOrNIsNoop) {
  float c = 3.0f;
  sgemm(false, false, 0, 1, 5, 1.0f, nullptr, 5, nullptr, 1, 0.0f, &c, 1);
  sgemm(false, false, 1, 0, 5, 1.0f, nullptr, 5, nullptr, 1, 0.0f, &c, 1);
  EXPECT_EQ(c, 3.0f);
}

TEST(Gemm, RespectsGlobalControlAndNests) {
  std::mt19937 rng(11);
  {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
    check_case({false, true, 200, 96, 128, 1.0f, 0.0f}, "", rng);
    // Few rows (a prompt): the column tasks, one after another on one thread.
    check_case({false, true, 64, 200, 300, 1.0f, 0.5f}, "", rng);
    check_case({true, false, 64, 200, 300, 1.0f, 0.0f}, "", rng);
  }
  // Nested: several sgemm calls inside an outer parallel_for, each checked.
  const int64_t M = 96, N = 80, K = 112;
  std::vector<std::vector<float>> As, Bs, Cs;
  for (int r = 0; r < 6; ++r) {
    As.push_back(random_vec(size_t(M * K), rng));
    Bs.push_back(random_vec(size_t(K * N), rng));
    Cs.emplace_back(size_t(M * N), 0.0f);
  }
  tbb::parallel_for(0, 6, [&](int r) {
    sgemm(false, false, M, N, K, 1.0f, As[r].data(), K, Bs[r].data(), N, 0.0f, Cs[r].data(), N);
  });
  for (int r = 0; r < 6; ++r) {
    for (int64_t i = 0; i < M; i += 7) {
      for (int64_t j = 0; j < N; j += 5) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += double(As[r][i * K + k]) * Bs[r][k * N + j];
        EXPECT_NEAR(Cs[r][i * N + j], s, 1e-4 * K);
      }
    }
  }
}

// The column tasks with weights decoded on the fly (gemm_decoded_columns, what
// the f16 and fixed-rate prompt products run): the product of the decoded
// weights, every depth block the decoder is asked for whole multiples of the
// alignment (but the last, which ends at K), and false, C untouched, for
// shapes that are not for it.
TEST(Gemm, DecodedColumnsMatchTheProductInWholeDepthBlocks) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
  std::mt19937 rng(23);
  struct Shape {
    int64_t M, N, K, align;
    float beta;
  };
  for (const Shape& c : {Shape{40, 200, 768, 32, 0.f}, Shape{21, 203, 1600, 64, 0.5f}, Shape{64, 130, 300, 1, 0.f}}) {
    const auto A = random_vec(size_t(c.M * c.K), rng), W = random_vec(size_t(c.N * c.K), rng);
    std::vector<float> C0 = random_vec(size_t(c.M * c.N), rng);
    if (c.beta == 0.f) std::fill(C0.begin(), C0.end(), std::numeric_limits<float>::quiet_NaN());
    std::vector<float> C = C0;
    std::atomic<int> misaligned{0}, calls{0};
    const bool ran = rbe::kernels::gemm_decoded_columns(
        c.M, c.N, c.K, A.data(), c.K, c.align,
        [&](int64_t j0, int64_t n, int64_t p0, int64_t kcur, float* out) {
          ++calls;
          if (p0 % c.align != 0 || (kcur % c.align != 0 && p0 + kcur != c.K)) ++misaligned;
          for (int64_t j = 0; j < n; ++j)
            std::copy_n(W.data() + (j0 + j) * c.K + p0, kcur, out + j * kcur);
        },
        c.beta, C.data(), c.N);
    const std::string what = std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K);
    ASSERT_TRUE(ran) << what;
    EXPECT_GT(calls.load(), 1) << what;
    EXPECT_EQ(misaligned.load(), 0) << what;
    int bad = 0;
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) {
        double s = 0, mag = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          s += double(A[i * c.K + k]) * W[j * c.K + k];
          mag += std::fabs(double(A[i * c.K + k]) * W[j * c.K + k]);
        }
        if (c.beta != 0.f) s += double(c.beta) * C0[i * c.N + j];
        if (!(std::fabs(C[i * c.N + j] - s) <= 1e-4 * mag + 1e-6) && bad++ < 5)
          ADD_FAILURE() << what << " at (" << i << "," << j << "): got " << C[i * c.N + j] << " want " << s;
      }
  }
  // Too many rows of A for one packed block, and a product too small for tasks.
  auto never = [](int64_t, int64_t, int64_t, int64_t, float*) { ADD_FAILURE() << "decoded a shape not for it"; };
  std::vector<float> A(2000 * 64, 1.f), C(2000 * 64, 7.f);
  EXPECT_FALSE(rbe::kernels::gemm_decoded_columns(2000, 64, 64, A.data(), 64, 1, never, 0.f, C.data(), 64));
  EXPECT_FALSE(rbe::kernels::gemm_decoded_columns(2, 64, 64, A.data(), 64, 1, never, 0.f, C.data(), 64));
  EXPECT_EQ(std::count(C.begin(), C.end(), 7.f), int64_t(C.size()));
}

}  // namespace
