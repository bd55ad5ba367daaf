// The matvec from rows regrouped sixteen at a time (fixed_interleaved.h)
// against the decode and against the stored layout's VNNI kernel, which
// quantizes x the same way (so the two differ only in the order of their f32
// sums); x's quantization against the rule every int8 kernel shares;
// bit-for-bit agreement between one input and several, and however the
// threads split the rows; non-finite and tiny inputs; and the PackedMatrix
// (what the model runs) taking the copy. Skipped on machines without the
// VNNI kernel.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "codec/fixed_interleaved.h"
#include "codec/fixed_internal.h"
#include "codec/fixed_kernels.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/hadamard.h"
#include "fixed_test_util.h"
#include "split_test_util.h"

using namespace rbe;
using namespace rbe::codec;
using namespace rbe::fixed_test;

namespace {

// x in the stored basis (rbe: rotated), as FixedPacked hands it to the kernels.
std::vector<float> stored_basis(const EncodedTensor& e, const float* x) {
  std::vector<float> xr(x, x + e.cols);
  if (fixed::layout_of(e).kind == fixed::Kind::Rbe)
    RandomizedHadamard(e.cols, fixed::rotation_seed(e)).forward(xr.data());
  return xr;
}

}  // namespace

TEST(CodecFixedInterleaved, TakesEveryForm) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  for (const Form& f : kForms)
    for (int64_t cols : {64, 96}) {
      if (cols % 64 != 0 && f.expect_bpw == 2.25) continue;  // needs groups of 64
      const EncodedTensor e = enc(gaussian(16, cols, 1), settings(f.codec, f.bpw));
      EXPECT_TRUE(fixed::InterleavedRows::available(fixed::layout_of(e))) << fixed::layout_of(e).name();
    }
}

// x's quantization against the scalar rule every int8 kernel shares
// (fixed_kernels_internal.h): per 32-block d = max|x| / 127 over the values
// that are numbers (NaN in the block: d NaN), levels round-to-nearest-even
// of x * 127 / max clamped to +-127, 0 where that is NaN; ties, infinities,
// NaN, all-zero and tiny blocks.
TEST(CodecFixedInterleaved, QuantizesXByTheSharedRule) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  std::vector<float> x = normal(32 * 9, 4);
  for (int i = 0; i < 32; ++i) x[size_t(i)] = float(i % 2 ? -(i / 2) - 0.5f : i / 2 + 0.5f);  // ties
  x[31] = 127.f;
  x[32 + 3] = NAN;
  x[64 + 5] = INFINITY;
  x[96 + 7] = -INFINITY, x[96 + 8] = NAN;
  for (int i = 0; i < 32; ++i) x[size_t(128 + i)] = 0.f;
  for (int i = 0; i < 32; ++i) x[size_t(160 + i)] = i % 2 ? 1e-41f : -1e-38f;
  const int64_t nsub = int64_t(x.size()) / 32;
  for (int offset : {8, 128}) {
    std::vector<int8_t> q(x.size());
    std::vector<float> d(static_cast<size_t>(nsub));
    std::vector<int32_t> corr(static_cast<size_t>(nsub));
    fixed::kInterleavedPrepAvx512(x.data(), nsub, offset, q.data(), d.data(), corr.data());
    for (int64_t s = 0; s < nsub; ++s) {
      const float* xb = x.data() + 32 * s;
      float amax = 0;
      bool nan = false;
      for (int i = 0; i < 32; ++i)
        if (std::isnan(xb[i])) nan = true;
        else amax = std::max(amax, std::fabs(xb[i]));
      const float inv = std::isfinite(127.f / amax) ? 127.f / amax : 0.f;
      int sum = 0;
      for (int i = 0; i < 32; ++i) {
        const float v = xb[i] * inv;
        const int want = std::isnan(v) ? 0 : int(std::nearbyint(std::clamp(v, -127.f, 127.f)));
        EXPECT_EQ(q[size_t(32 * s + i)], want) << "block " << s << " value " << i << " x " << xb[i];
        sum += want;
      }
      if (nan) EXPECT_TRUE(std::isnan(d[size_t(s)])) << s;
      else EXPECT_EQ(d[size_t(s)], amax / 127.f) << s;
      EXPECT_EQ(corr[size_t(s)], -offset * sum) << s;
    }
  }
}

// Rows that fill no block, one block exactly, and blocks plus a partial one;
// a lone last 32-block (96 columns); with and without a bias.
TEST(CodecFixedInterleaved, MatchesTheDecodeAndTheStoredLayoutsKernel) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  const fixed::FixedKernels* vnni = fixed::find_kernels("avx512vnni");
  int tested = 0;
  for (int64_t rows : {1, 5, 16, 37, 203})
    for (int64_t cols : {64, 96, 768}) {
      const Tensor W = gaussian(rows, cols, uint64_t(rows * cols + 3));
      const std::vector<float> x0 = normal(cols, uint64_t(rows + cols)), bias = normal(rows, 5, 0.1f);
      for (const Form& f : kForms) {
        if (cols % 64 != 0 && f.expect_bpw == 2.25) continue;  // needs groups of 64
        const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
        const fixed::Layout L = fixed::layout_of(e);
        const std::vector<float> x = stored_basis(e, x0.data());
        std::vector<float> D(size_t(rows * cols));  // the stored rows (rotated for rbe)
        for (int64_t r = 0; r < rows; ++r) fixed::decode_row_stored(L, e.data, r, D.data() + r * cols);
        const fixed::InterleavedRows copy(L, e.data);
        EXPECT_EQ(copy.bytes() % 64, 0);
        EXPECT_GE(copy.bytes(), L.total_bytes());
        for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
          const std::string what =
              L.name() + " " + std::to_string(rows) + "x" + std::to_string(cols) + (b ? " bias" : "");
          std::vector<float> y(size_t(rows), NAN), yv(size_t(rows), NAN);
          copy.gemv(x.data(), b, y.data());
          fixed::gemv(*vnni, L, e.data, x.data(), b, yv.data());
          // int8 x: within 5e-3 of ||w|| ||x|| of the exact product (as every
          // kernel that quantizes x); the same integer sums as the stored
          // layout's kernel, so only f32 rounding apart from it.
          EXPECT_LT(row_err(y, naive_matvec(D, rows, cols, x.data(), b), D, cols, x.data()), 5e-3) << what;
          EXPECT_LT(row_err(y, std::vector<double>(yv.begin(), yv.end()), D, cols, x.data()), 1e-6) << what;
          ++tested;
        }
      }
    }
  EXPECT_EQ(tested, 5 * (3 * 8 - 1) * 2);  // every form at every shape (rbe 2.25: not at 96 columns)
}

// Random shapes (any row count, any whole number of 32-blocks), forms,
// inputs and biases: within f32 rounding of the stored layout's kernel.
TEST(CodecFixedInterleaved, PropertyAgreesWithTheStoredLayoutsKernel) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  const fixed::FixedKernels* vnni = fixed::find_kernels("avx512vnni");
  EXPECT_TRUE(rc::check([vnni] {
    const int64_t rows = *rc::gen::inRange<int64_t>(1, 70);
    const int64_t cols = 32 * *rc::gen::inRange<int64_t>(1, 13);
    const Form& f = kForms[size_t(*rc::gen::inRange(0, int(kForms.size())))];
    RC_PRE(cols % 64 == 0 || f.expect_bpw != 2.25);  // 2.25 needs groups of 64
    const uint64_t seed = *rc::gen::arbitrary<uint32_t>();
    const EncodedTensor e = enc(gaussian(rows, cols, seed), settings(f.codec, f.bpw));
    const fixed::Layout L = fixed::layout_of(e);
    const std::vector<float> x = normal(cols, seed + 1, float(*rc::gen::inRange(1, 1000)) / 100.f);
    const std::vector<float> bias = normal(rows, seed + 2);
    const bool with_bias = *rc::gen::arbitrary<bool>();
    std::vector<float> D(size_t(rows * cols)), y(static_cast<size_t>(rows)), yv(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) fixed::decode_row_stored(L, e.data, r, D.data() + r * cols);
    fixed::InterleavedRows(L, e.data).gemv(x.data(), with_bias ? bias.data() : nullptr, y.data());
    fixed::gemv(*vnni, L, e.data, x.data(), with_bias ? bias.data() : nullptr, yv.data());
    // Per row, against what the row can reach: ||w|| ||x|| + |bias| (the
    // bias is added to sums rounded in a different order).
    double nx = 0;
    for (float v : x) nx += double(v) * v;
    for (int64_t r = 0; r < rows; ++r) {
      double nw = 0;
      for (int64_t c = 0; c < cols; ++c) nw += double(D[size_t(r * cols + c)]) * D[size_t(r * cols + c)];
      const double reach = std::sqrt(nw * nx) + (with_bias ? std::fabs(bias[size_t(r)]) : 0.0);
      RC_ASSERT(std::fabs(double(y[size_t(r)]) - yv[size_t(r)]) <= 1e-6 * reach);
    }
  }));
}

// A batched decoding step's few inputs: each row bit for bit the matvec's.
TEST(CodecFixedInterleaved, FewInputsGiveEachInputsMatvecBitForBit) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  for (int64_t rows : {5, 203})
    for (int64_t cols : {96, 768}) {
      const Tensor W = gaussian(rows, cols, uint64_t(11 * rows + cols));
      const std::vector<float> bias = normal(rows, uint64_t(rows), 0.1f);
      for (const Form& f : kForms) {
        if (cols % 64 != 0 && f.expect_bpw == 2.25) continue;  // needs groups of 64
        const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
        const fixed::InterleavedRows copy(fixed::layout_of(e), e.data);
        for (int64_t N : {1, 3, 4, 7}) {
          const std::vector<float> X = normal(N * cols, uint64_t(N * rows + cols));
          std::vector<float> Y(size_t(N * rows), NAN), y(static_cast<size_t>(rows));
          copy.gemv_rows(N, X.data(), bias.data(), Y.data());
          for (int64_t n = 0; n < N; ++n) {
            copy.gemv(X.data() + n * cols, bias.data(), y.data());
            EXPECT_EQ(std::memcmp(y.data(), Y.data() + n * rows, y.size() * sizeof(float)), 0)
                << e.codec << " " << f.expect_bpw << " " << rows << "x" << cols << " N " << N << " input " << n;
          }
        }
      }
    }
}

TEST(CodecFixedInterleaved, GivesTheSameBitsHoweverTheRowsAreSplit) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  for (int64_t rows : {515, 2304}) {
    const int64_t cols = 768;
    const Tensor W = gaussian(rows, cols, uint64_t(rows));
    const std::vector<float> x = normal(cols, uint64_t(rows) + 1), bias = normal(rows, 2, 0.1f);
    for (const Form& f : kForms) {
      const EncodedTensor e = enc(W, settings(f.codec, f.bpw));
      const fixed::InterleavedRows copy(fixed::layout_of(e), e.data);
      auto run = [&] {
        std::vector<float> y(size_t(rows), NAN);
        copy.gemv(x.data(), bias.data(), y.data());
        return y;
      };
      const std::string what = e.codec + " " + std::to_string(f.expect_bpw) + " " + std::to_string(rows);
      ASSERT_TRUE(rbe::testing_split::same_bits_however_split(run, what)) << what;
    }
  }
}

// NaN or an infinity in x reaches every row (and only the rows: the padding
// of the last block is never written); a 32-block too small for 127 / max|x|
// gives finite rows.
TEST(CodecFixedInterleaved, NonFiniteInputsReachEveryRowAndTinyOnesStayFinite) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  const int64_t rows = 21, cols = 256;
  for (const Form& f : kForms) {
    const EncodedTensor e = enc(gaussian(rows, cols, 17, 1.f), settings(f.codec, f.bpw));
    const fixed::InterleavedRows copy(fixed::layout_of(e), e.data);
    for (const float bad : {NAN, INFINITY, -INFINITY}) {
      std::vector<float> x(size_t(cols), 0.25f), y(size_t(rows + 1), 0.f);
      x[37] = bad;
      copy.gemv(x.data(), nullptr, y.data());
      for (int64_t r = 0; r < rows; ++r) EXPECT_FALSE(std::isfinite(y[size_t(r)])) << e.codec << " " << bad << " " << r;
      EXPECT_EQ(y[size_t(rows)], 0.f) << "wrote past the last row";
    }
    for (const float tiny : {1e-38f, 1e-41f}) {
      std::vector<float> x(size_t(cols), 0.25f), y(size_t(rows), NAN);
      for (int i = 64; i < 96; ++i) x[size_t(i)] = i % 2 ? tiny : -tiny;
      copy.gemv(x.data(), nullptr, y.data());
      for (float v : y) EXPECT_TRUE(std::isfinite(v)) << e.codec << " " << tiny;
    }
  }
}

// The model's matrices (PackedMatrix) run their matvecs and few-row products
// on the copy where the VNNI kernel is active: the same bits as the copy's
// own product of the rotated x.
TEST(CodecFixedInterleaved, PackedMatricesUseTheCopy) {
  if (!has_vnni_kernel() || std::strcmp(fixed_kernel_name(), "avx512vnni") != 0)
    GTEST_SKIP() << "the VNNI kernel is not the active one here";
  const int64_t rows = 50, cols = 256;
  const std::vector<float> x = normal(cols, 9), bias = normal(rows, 10, 0.1f);
  for (const Form& f : kForms) {
    auto e = std::make_shared<EncodedTensor>(enc(gaussian(rows, cols, 21), settings(f.codec, f.bpw)));
    const auto pm = make_packed_fixed(e);
    const fixed::InterleavedRows copy(fixed::layout_of(*e), e->data);
    const std::vector<float> xr = stored_basis(*e, x.data());
    std::vector<float> y(static_cast<size_t>(rows)), want(static_cast<size_t>(rows)), Y(static_cast<size_t>(2 * rows));
    EXPECT_EQ(int64_t(pm->storage().size()), copy.bytes()) << "the probe reads what the matvecs read";
    pm->gemv(x.data(), bias.data(), y.data());
    copy.gemv(xr.data(), bias.data(), want.data());
    EXPECT_EQ(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)), 0) << e->codec << " " << f.expect_bpw;
    pm->gemm(1, x.data(), bias.data(), Y.data());  // one row: the matvec path of gemm
    EXPECT_EQ(std::memcmp(Y.data(), want.data(), y.size() * sizeof(float)), 0) << e->codec << " " << f.expect_bpw;
    // Up to 12 rows (16 below 5 bits a weight: a batched decoding step) run
    // on the copy too, whatever batched kernel the machine has. (The AMX int8
    // tiles, which took 3 to 8 rows before, happen to sum in the same order
    // here, so this holds the product to the copy's bits rather than proving
    // which ran.)
    for (int64_t N : {int64_t(5), int64_t(8), int64_t(12), f.expect_bpw < 5 ? int64_t(16) : int64_t(12)}) {
      const std::vector<float> X = normal(N * cols, uint64_t(N));
      std::vector<float> Xr(X);
      for (int64_t n = 0; n < N; ++n) {
        const std::vector<float> r = stored_basis(*e, X.data() + n * cols);
        std::copy(r.begin(), r.end(), Xr.begin() + n * cols);
      }
      std::vector<float> got(size_t(N * rows)), exp(size_t(N * rows));
      pm->gemm(N, X.data(), bias.data(), got.data());
      copy.gemv_rows(N, Xr.data(), bias.data(), exp.data());
      EXPECT_EQ(std::memcmp(got.data(), exp.data(), got.size() * sizeof(float)), 0)
          << e->codec << " " << f.expect_bpw << " N " << N;
    }
  }
}
