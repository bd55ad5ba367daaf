#pragma once
// The matvec of a fixed-rate form from a copy of its rows regrouped sixteen
// at a time, for the AVX-512 VNNI kernel. In the stored layout (row by row,
// fixed_layout.h) each VPDPBUSD sums four products per lane of one row, and
// the sixteen lanes' sums must then be scaled, converted and added across:
// more vector work than the products themselves. Here a lane is a row: one
// VPDPBUSD multiplies four columns of sixteen rows by the same four bytes of
// x, broadcast, and sixteen rows' results come out side by side, with no
// reduction (about 3x the stored layout's kernel in cache on an Emerald
// Rapids VM, docs/performance.md).
//
// The copy (the stored bytes, regrouped; a last partial block padded with
// zero rows) can stand in for the stored bytes: the batched products and
// the decode read rows rebuilt from it a strip at a time (StoredRows), so
// a FixedPacked that is the only owner of its tensor drops the stored bytes
// once the copy is made (fixed_packed.cpp).
//
// Layout of block b (rows 16b .. 16b + 15), `stride` bytes, 64-aligned:
//   codes: for each scale group g, each 32-column sub-block k of it, each
//          4-byte chunk c of a stored sub-block (sub_bytes / 4 of them):
//          64 bytes, row i's stored bytes [4c, 4c + 4) at 4i;
//   scales: for each group g, the 16 rows' f16 scales (32 bytes);
//   zero bytes up to the stride.
// Every fixed-rate form: a chunk holds four whole codes (8 bits), eight
// nibbles (4 bits: codes 4c..4c+3 low, 16 + 4c.. high), sixteen 2-bit fields
// (chunks 0 and 1 of the 2- and 3-bit forms: field k of byte t is code
// 4c + t + 8k), or a row's 32 third bits (chunk 2 of the 3-bit forms).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "codec/fixed_layout.h"

namespace rbe::codec::fixed {

inline constexpr int kInterleave = 16;  // rows per block: a VPDPBUSD's int32 lanes

class InterleavedRows {
 public:
  // Whether this machine runs the kernel (AVX-512 with VNNI, BITALG, VBMI,
  // GFNI) for L.
  static bool available(const Layout& L);
  // Regroups `data` (L's stored bytes); throws std::invalid_argument where
  // !available(L). With give_back (a caller that drops the stored bytes
  // once the copy is made), the pages of each range of rows go as soon as
  // the range is copied (io::release_pages), so that the matrix is never
  // held twice whole, and at the end every whole page of `data`.
  InterleavedRows(const Layout& L, const uint8_t* data, bool give_back = false);

  // y[rows] = W x (+ bias), x in the stored basis, quantized to int8 per
  // 32-block exactly as the stored layout's VNNI kernel quantizes it (the
  // same integer sums; the f32 sums in another order). Multithreaded over
  // blocks with oneTBB; a row's bits do not depend on the split.
  void gemv(const float* x, const float* bias, float* y) const;
  // Y[N, rows] = X[N, cols] W^T (+ bias): up to four inputs per pass over the
  // copy, every row bit for bit what gemv gives for its input alone.
  void gemv_rows(int64_t N, const float* X, const float* bias, float* Y) const;

  // The stored layout's bytes back: scale groups [g0, g1) of rows [r0, r1),
  // row after row, into out[(r1 - r0) * (g1 - g0) * L.group_bytes()].
  void stored(int64_t r0, int64_t r1, int64_t g0, int64_t g1, uint8_t* out) const;
  void stored_rows(int64_t r0, int64_t r1, uint8_t* out) const { stored(r0, r1, 0, L_.groups_per_row(), out); }

  const uint8_t* data() const { return buf_.get(); }
  int64_t bytes() const { return stride_ * blocks_; }

 private:
  struct Release {  // allocate_aligned's buffers go back with their size
    size_t bytes;
    void operator()(uint8_t* p) const;
  };
  Layout L_;
  int64_t stride_ = 0, blocks_ = 0;
  std::unique_ptr<uint8_t, Release> buf_;
};

// Byte offsets inside a block (shared by the regrouping and the kernel).
inline int64_t interleaved_sub_bytes(const Layout& L) { return int64_t(kInterleave) * L.sub_bytes(); }
inline int64_t interleaved_codes_bytes(const Layout& L) {
  return L.groups_per_row() * L.subs_per_group() * interleaved_sub_bytes(L);
}
inline int64_t interleaved_stride(const Layout& L) {
  const int64_t b = interleaved_codes_bytes(L) + L.groups_per_row() * 2 * kInterleave;
  return (b + 63) / 64 * 64;
}

// Where the batched products and the decode read a matrix's rows in the
// stored layout: in place, or rebuilt from the regrouped copy into the
// caller's scratch (a strip of 16 or 32 rows at a time: it stays in L1/L2).
// Where there is a copy, the bf16 products read it as it is, stored bytes
// or not (fixed_interleaved_amx.cpp, fixed_gemm_bf16.cpp).
class StoredRows {
 public:
  explicit StoredRows(const uint8_t* data, const InterleavedRows* copy = nullptr) : data_(data), copy_(copy) {}
  explicit StoredRows(const InterleavedRows& copy) : copy_(&copy) {}
  bool in_place() const { return data_ != nullptr; }
  const uint8_t* data() const { return data_; }          // the stored bytes; null without them
  const InterleavedRows* copy() const { return copy_; }  // null without one
  // Rows [r0, r1) row after row; scratch: room for (r1 - r0) rows, unused
  // in place.
  const uint8_t* rows(const Layout& L, int64_t r0, int64_t r1, uint8_t* scratch) const {
    if (data_) return data_ + r0 * L.row_bytes();
    copy_->stored_rows(r0, r1, scratch);
    return scratch;
  }
  // Scale groups [g0, g1) of rows [r0, r1): row r0's at the pointer, the
  // next rows `stride` bytes apart (in place L.row_bytes(), rebuilt in
  // scratch, room for (r1 - r0) (g1 - g0) groups, (g1 - g0) groups' bytes).
  struct Groups {
    const uint8_t* p;
    int64_t stride;
  };
  Groups groups(const Layout& L, int64_t r0, int64_t r1, int64_t g0, int64_t g1, uint8_t* scratch) const {
    if (data_) return {data_ + r0 * L.row_bytes() + g0 * L.group_bytes(), L.row_bytes()};
    copy_->stored(r0, r1, g0, g1, scratch);
    return {scratch, (g1 - g0) * L.group_bytes()};
  }

 private:
  const uint8_t* data_ = nullptr;
  const InterleavedRows* copy_ = nullptr;
};

}  // namespace rbe::codec::fixed
