// The rows of a product split over the threads (tensor/kernels/row_chunks.h):
// every row exactly once on boundaries that are multiples of 4 rows, for 1,
// 2 and 4 parts (4 parts on this machine's 2 cores: the helpers' path taken
// all the time); the pieces' halving; and, because where the pieces fall
// depends on timing, every GEMV kernel giving each row the same bits however
// its rows are split (the packed kernels: test_codec_fixed.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "tensor/dtype.h"
#include "tensor/kernels/gemv.h"
#include "tensor/kernels/row_chunks.h"
#include "split_test_util.h"

namespace {

using rbe::kernels::row_chunks_detail::Part;

// The ranges one call hands out, sorted, checked to cover [0, N) once on
// aligned boundaries.
std::vector<std::pair<int64_t, int64_t>> split(int64_t N, int64_t row_bytes) {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> got;
  rbe::kernels::parallel_row_chunks(N, row_bytes, rbe::kernels::kGemvRowChunking, [&](int64_t r0, int64_t r1) {
    std::lock_guard<std::mutex> lock(mu);
    got.emplace_back(r0, r1);
  });
  std::sort(got.begin(), got.end());
  int64_t next = 0;
  for (const auto& [r0, r1] : got) {
    EXPECT_EQ(r0, next) << "a gap or an overlap at row " << next << " of " << N;
    EXPECT_LT(r0, r1) << "an empty range at " << r0;
    EXPECT_TRUE(r0 % 4 == 0 && (r1 % 4 == 0 || r1 == N)) << "[" << r0 << ", " << r1 << ") of " << N;
    next = r1;
  }
  EXPECT_EQ(next, N);
  return got;
}

void check_cover(int parts) {
  for (int64_t N : {8, 9, 13, 100, 1001, 2304, 50257})
    for (int64_t row_bytes : {4, 1536, 6144}) {
      SCOPED_TRACE("N " + std::to_string(N) + ", row bytes " + std::to_string(row_bytes) + ", parts " +
                   std::to_string(parts));
      for (int run = 0; run < 20; ++run) {
        const auto got = split(N, row_bytes);
        if (N * row_bytes < rbe::kernels::kGemvRowChunking.serial_below || parts == 1) {
          ASSERT_EQ(got.size(), 1u) << "small products and one thread stay serial";
        }
      }
    }
}

TEST(RowChunks, EveryRowOnceOnAlignedBoundaries) {
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    check_cover(threads);
  }
  tbb::task_arena four(4);
  four.execute([] { check_cover(4); });
}

// A part alone: the owner's pieces halve from the front, a helper's from the
// back, and any interleaving of the two takes every row once.
TEST(RowChunks, PiecesHalveFromEitherEnd) {
  Part p;
  p.reset(0, 25128);
  int64_t r0, r1;
  ASSERT_TRUE(p.take(true, 24, r0, r1));
  EXPECT_EQ(r0, 0);
  EXPECT_EQ(r1, 12564);
  ASSERT_TRUE(p.take(false, 24, r0, r1));  // half of the 12564 left, from the back
  EXPECT_EQ(r0, 18848);
  EXPECT_EQ(r1, 25128);
  ASSERT_TRUE(p.take(true, 24, r0, r1));
  EXPECT_EQ(r0, 12564);
  EXPECT_EQ(r1, 12564 + 3140);
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t begin = 4 * int64_t(rng() % 100), end = begin + 1 + int64_t(rng() % 5000), min_rows = 4 * int64_t(1 + rng() % 8);
    p.reset(begin, end);
    std::vector<std::pair<int64_t, int64_t>> got;
    while (p.take(rng() % 2 == 0, min_rows, r0, r1)) got.emplace_back(r0, r1);
    std::sort(got.begin(), got.end());
    int64_t next = begin;
    for (const auto& [a, b] : got) {
      ASSERT_EQ(a, next) << "trial " << trial;
      ASSERT_LT(a, b);
      ASSERT_TRUE(a % 4 == 0 && (b % 4 == 0 || b == end)) << "[" << a << ", " << b << ") of " << end;
      next = b;
    }
    ASSERT_EQ(next, end) << "trial " << trial;
    ASSERT_LE(std::count_if(got.begin(), got.end(), [&](const auto& r) { return r.second - r.first < min_rows; }), 1)
        << "only the last piece taken, the rest of the part, is under min_rows";
  }
}

// Each GEMV kernel, f32 and f16 weights, 1 to 8 inputs: the bits of one
// serial call however the rows are split (split_test_util.h).
TEST(RowChunks, EveryGemvKernelGivesTheSameBitsHoweverTheRowsAreSplit) {
  const char* const kernels[] = {"avx512", "avx512l2", "avx2", "generic"};
  int tested = 0;
  // 1024 x 1024 (and f32 2304 x 768): rows whose streams stream_rows moves closer.
  for (const auto& [N, K] :
       {std::pair<int64_t, int64_t>{515, 100}, {1001, 257}, {2304, 768}, {300, 3072}, {1024, 1024}}) {
    std::mt19937 rng{static_cast<uint32_t>(N)};
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    std::vector<float> w(static_cast<size_t>(N * K)), X(static_cast<size_t>(8 * K)), bias(static_cast<size_t>(N));
    std::vector<uint16_t> wh(w.size());
    for (size_t i = 0; i < w.size(); ++i) wh[i] = rbe::f32_to_f16(w[i] = d(rng));
    for (auto& v : X) v = d(rng);
    for (auto& v : bias) v = d(rng);
    for (const char* k : kernels)
      for (bool f16 : {false, true})
        for (int64_t M = 1; M <= 8; ++M) {
          auto run = [&] {
            std::vector<float> Y(static_cast<size_t>(M * N), NAN);
            bool ok;
            if (M == 1)
              ok = f16 ? rbe::kernels::hgemv_with_kernel(k, N, K, wh.data(), K, X.data(), bias.data(), Y.data())
                       : rbe::kernels::sgemv_with_kernel(k, N, K, w.data(), K, X.data(), bias.data(), Y.data());
            else
              ok = f16 ? rbe::kernels::hgemv_multi_with_kernel(k, M, N, K, wh.data(), K, X.data(), K, bias.data(),
                                                               Y.data(), N)
                       : rbe::kernels::sgemv_multi_with_kernel(k, M, N, K, w.data(), K, X.data(), K, bias.data(),
                                                               Y.data(), N);
            return ok ? Y : std::vector<float>();
          };
          const std::string what = std::string(k) + (f16 ? " f16 " : " f32 ") + std::to_string(M) + " x " +
                                   std::to_string(N) + "x" + std::to_string(K);
          if (!rbe::testing_split::same_bits_however_split(run, what)) continue;  // not on this machine
          if (HasFailure()) return;
          ++tested;
        }
  }
  EXPECT_GT(tested, 0);
}

}  // namespace
