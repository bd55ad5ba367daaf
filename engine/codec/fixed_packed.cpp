// The PackedMatrix of the fixed-rate forms: gemv runs the fused kernel on the
// packed bytes (rbe fixed rotates x once, O(K log K)), or, with the AVX-512
// VNNI kernel, on a copy of them regrouped sixteen rows at a time
// (fixed_interleaved.h), made at the first use, which then replaces the
// stored bytes where nothing else holds them; gemm rotates the rows of X
// likewise and runs the batched kernel (fixed_gemm.cpp: AMX bf16 or int8
// tiles, or row panels decoded to f32 for the SGEMM).

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "codec/fixed_gemm_amx.h"
#include "codec/fixed_gemm_bf16.h"
#include "codec/fixed_interleaved.h"
#include "codec/fixed_internal.h"
#include "codec/fixed_kernels.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/fixed_rate.h"
#include "codec/hadamard.h"
#include "tensor/big_alloc.h"

namespace rbe::codec {
namespace {

constexpr int64_t kMatvecRowsWithoutTiles = 16;
// The regrouped copy's matvecs take four inputs a pass, each pass reading
// every packed byte: up to 16 rows at 5 bits a weight or fewer, up to 12 at
// more (q8_0's 8.5), where the fourth pass costs more than the tiles.
constexpr int64_t kMatvecRowsRegrouped = 16, kMatvecRowsRegroupedWide = 12;
constexpr double kRegroupedWideBits = 5;

// Whether the matvecs of L run on the regrouped copy (fixed_kernels.h).
bool use_interleaved(const fixed::Layout& L) {
  return fixed_matvecs_regrouped() && fixed::InterleavedRows::available(L);
}

class FixedPacked final : public nn::PackedMatrix {
 public:
  explicit FixedPacked(std::shared_ptr<const EncodedTensor> e)
      : e_(std::move(e)), L_(fixed::layout_of(*e_)), size_(e_->size), interleave_(use_interleaved(L_)) {
    if (L_.kind == fixed::Kind::Rbe) R_ = std::make_unique<RandomizedHadamard>(L_.cols, fixed::rotation_seed(*e_));
  }
  int64_t rows() const override { return L_.rows; }
  int64_t cols() const override { return L_.cols; }
  int64_t bytes() const override { return size_; }
  std::span<const std::byte> storage() const override {  // what the matvecs read: the copy where they use one
    if (const fixed::InterleavedRows* c = ready().copy())
      return {reinterpret_cast<const std::byte*>(c->data()), size_t(c->bytes())};
    return {reinterpret_cast<const std::byte*>(ready().data()), size_t(size_)};
  }
  std::string format() const override { return L_.name(); }

  void gemv(const float* x, const float* bias, float* y) const override {
    if (R_) {
      std::vector<float> xr(x, x + L_.cols);
      R_->forward(xr.data());
      matvec(xr.data(), bias, y);
    } else {
      matvec(x, bias, y);
    }
  }

  void gemm(int64_t N, const float* X, const float* bias, float* Y) const override {
    const int64_t K = L_.cols;
    const fixed::StoredRows& w = ready();
    // A few rows (a batched decoding step): without AMX, the fused matvec
    // (several inputs at once) beats decoding every weight for the SGEMM
    // (bench_quant_gemv batch/, 124M shapes: one AVX-512 VNNI matvec per row
    // 5-6x at 4 rows, 2x at 16, before it took 4 inputs at once;
    // on an AVX2 Zen 3, avx2q8 taking 4 rows at once 2.5-6x at 4 rows,
    // 0.9-2x at 16); AMX tiles beat both from 3 rows, AVX512-BF16 from 7
    // (on a Zen 4 VM: 1.2-1.3x slower than matvecs at 4 rows, 1.1-1.4x
    // faster at 8, 1.7-2.2x at 16; docs/performance.md). The regrouped
    // copy's matvecs beat the AMX tiles up to 12 rows (Emerald Rapids, 124M
    // shapes: 2-4x at 4 rows, 0.9-2.4x at 8; whole 124M steps at 9 and 12
    // rows 1.1-1.7x faster), and up to 16 but for q8_0 ("Batches of 9 to
    // 16").
    const int64_t regrouped_rows =
        L_.bits_per_weight() > kRegroupedWideBits ? kMatvecRowsRegroupedWide : kMatvecRowsRegrouped;
    const int64_t matvec_rows = w.copy()                               ? regrouped_rows
                                : fixed::amx_gemm_available()          ? 2
                                : fixed::avx512_bf16_gemm_available() ? fixed::kAvx512Bf16MinRows - 1
                                                                      : kMatvecRowsWithoutTiles;
    if (N <= matvec_rows) {
      std::vector<float> Xr;
      if (R_) {
        Xr.assign(X, X + N * K);
        R_->forward_rows(Xr.data(), N);
        X = Xr.data();
      }
      if (w.copy()) w.copy()->gemv_rows(N, X, bias, Y);
      else fixed::gemv_rows(fixed::active_kernels(), L_, w.data(), N, X, bias, Y);
      return;
    }
    fixed::gemm(L_, w, N, X, bias, Y, R_.get());  // rbe: Y = X W^T = (X R^T) W'^T
  }

  void decode_rows(int64_t r0, int64_t r1, float* out) const override {
    if (r0 < 0 || r1 > L_.rows || r0 > r1) throw std::out_of_range(L_.name() + ": decode_rows out of range");
    const fixed::StoredRows& w = ready();
    auto decode = [&](int64_t a, int64_t b) {  // rows [a, b), in the original basis
      std::vector<uint8_t> scratch(w.in_place() ? 0 : size_t((b - a) * L_.row_bytes()));
      const uint8_t* rows = w.rows(L_, a, b, scratch.data());
      for (int64_t r = a; r < b; ++r) {
        float* o = out + (r - r0) * L_.cols;
        fixed::decode_row_stored(L_, rows, r - a, o);
        if (R_) R_->inverse(o);
      }
    };
    if (r1 - r0 <= 64) return decode(r0, r1);  // embedding lookups: a row or a few, no threads
    tbb::parallel_for(tbb::blocked_range<int64_t>(r0, r1, 64),
                      [&](const tbb::blocked_range<int64_t>& rr) { decode(rr.begin(), rr.end()); });
  }

 private:
  // Where the products read the weights (e_'s bytes, the copy, or both),
  // settled at the first use (gemv may run on several threads at a time):
  // the regrouped copy where the matvecs use one; then, if this is the only
  // owner of the tensor, its stored bytes go (the copy holds every byte of
  // them) and everything reads the copy: one copy of the weights in memory.
  const fixed::StoredRows& ready() const {
    std::call_once(once_, [&] {
      if (interleave_) {
        const bool alone = e_.use_count() == 1;  // nothing else holds the tensor
        // Pages that can go as they are copied, so that the matrix is never
        // held twice whole: a file's (.rbe, GGUF), even where others hold
        // the tensor (the workbench keeps the compressed model for its views
        // and export), since they are never written and a later read maps
        // them again from the file; or its own vector, where it is alone.
        const bool mapped = e_->keepalive != nullptr;
        const bool own_vector = !e_->owned.empty() && e_->owned.data() == e_->data;
        copy_ = std::make_unique<fixed::InterleavedRows>(L_, e_->data, mapped || (alone && own_vector));
        if (alone) drop_stored_bytes(mapped);
      }
      weights_ = e_ ? fixed::StoredRows(e_->data, copy_.get()) : fixed::StoredRows(*copy_);
    });
    return weights_;
  }
  // mapped: a file's mapping, whose pages the copy gave back.
  void drop_stored_bytes(bool mapped) const {
    e_.reset();
    // glibc keeps freed heap memory mapped: hand the stored bytes back (49
    // calls for the 124M shape, 8 ms in all, once).
    if (!mapped) trim_freed_heap();
  }
  void matvec(const float* x, const float* bias, float* y) const {  // x in the stored basis
    const fixed::StoredRows& w = ready();
    if (w.copy()) w.copy()->gemv(x, bias, y);
    else fixed::gemv(fixed::active_kernels(), L_, w.data(), x, bias, y);
  }

  mutable std::shared_ptr<const EncodedTensor> e_;  // null once the copy stands in for it
  fixed::Layout L_;
  int64_t size_;
  std::unique_ptr<RandomizedHadamard> R_;
  const bool interleave_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<fixed::InterleavedRows> copy_;
  mutable fixed::StoredRows weights_{nullptr};
};

}  // namespace

std::shared_ptr<nn::PackedMatrix> make_packed_fixed(std::shared_ptr<const EncodedTensor> e) {
  if (!e) throw std::invalid_argument("make_packed_fixed: null tensor");
  return std::make_shared<FixedPacked>(std::move(e));
}

}  // namespace rbe::codec
