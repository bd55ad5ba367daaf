// InterleavedRows (fixed_interleaved.h): the regrouping, the quantization of
// x for its kernel (fixed_interleaved_avx512.cpp), and the threads.
#include "codec/fixed_interleaved.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "codec/fixed_kernels.h"
#include "codec/fixed_kernels_internal.h"
#include "io/mapped_file.h"
#include "tensor/big_alloc.h"
#include "tensor/kernels/row_chunks.h"

namespace rbe::codec::fixed {
namespace {

// x quantized per 32-block exactly as prep_q8 (fixed_kernels_avx512.cpp)
// quantizes it, in element order (kInterleavedPrepAvx512).
struct PreparedX {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> corr;
  ActQ8Blocks view() const { return ActQ8Blocks{q.data(), d.data(), corr.data()}; }
};

void prepare(const Layout& L, const float* x, PreparedX& p) {
  const int64_t nsub = L.cols / kSub;
  p.q.resize(size_t(nsub * kSub));
  p.d.resize(size_t(nsub));
  p.corr.resize(size_t(nsub));
  kInterleavedPrepAvx512(x, nsub, code_offset(L), p.q.data(), p.d.data(), p.corr.data());
}

// Moves scale groups [g0, g1) of a row between the stored layout (`row`,
// from group g0) and its place i in a block of the copy (`blk`): into the
// block when blk is writable (Blk = uint8_t*, Row = const uint8_t*), back
// when it is const. One function both ways, so each undoes the other.
template <class Blk, class Row>
void move_groups(const Layout& L, Blk blk, int64_t i, Row row, int64_t g0, int64_t g1) {
  const int64_t subs = L.subs_per_group(), sb = L.sub_bytes(), gb = L.group_bytes();
  const int64_t codes_bytes = interleaved_codes_bytes(L);
  auto move = [](Blk in_blk, Row in_row, size_t n) {
    if constexpr (std::is_const_v<std::remove_pointer_t<Blk>>) std::memcpy(in_row, in_blk, n);
    else std::memcpy(in_blk, in_row, n);
  };
  for (int64_t g = g0; g < g1; ++g) {
    Row grp = row + (g - g0) * gb;
    move(blk + codes_bytes + g * 2 * kInterleave + 2 * i, grp, 2);
    for (int64_t k = 0; k < subs; ++k)
      for (int64_t c = 0; c < sb / 4; ++c)
        move(blk + ((g * subs + k) * (sb / 4) + c) * 64 + 4 * i, grp + 2 + k * sb + 4 * c, 4);
  }
}

// Pieces as the stored layout's matvec cuts them (fixed_kernels.cpp), in blocks.
template <class Fn>
void run_blocks(int64_t blocks, int64_t stride, Fn&& fn) {
  kernels::parallel_row_chunks(blocks, stride, kernels::RowChunking{24 << 10, 16 << 10}, fn);
}

}  // namespace

bool InterleavedRows::available(const Layout& L) {
  return find_kernels("avx512vnni") && L.cols % kSub == 0 && L.group % kSub == 0;
}

void InterleavedRows::Release::operator()(uint8_t* p) const { release_aligned(p, bytes); }

// As tensors are allocated (tensor/big_alloc.h): 64-byte aligned, and a large
// copy on 2 MiB pages, since generation streams it once per token.
InterleavedRows::InterleavedRows(const Layout& L, const uint8_t* data, bool give_back)
    : L_(L), buf_(nullptr, Release{0}) {
  if (!available(L))
    throw std::invalid_argument("InterleavedRows: no kernel for " + L.name() + " on this machine");
  stride_ = interleaved_stride(L);
  blocks_ = (L.rows + kInterleave - 1) / kInterleave;
  const size_t n = size_t(std::max<int64_t>(bytes(), 64));
  buf_ = std::unique_ptr<uint8_t, Release>(static_cast<uint8_t*>(allocate_aligned(n)), Release{n});
  uint8_t* base = buf_.get();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, blocks_, 64), [&](const tbb::blocked_range<int64_t>& range) {
    for (int64_t b = range.begin(); b < range.end(); ++b) {
      uint8_t* blk = base + b * stride_;
      std::memset(blk, 0, size_t(stride_));  // padding rows: scale 0
      for (int64_t i = 0; i < kInterleave && b * kInterleave + i < L.rows; ++i)
        move_groups(L, blk, i, data + (b * kInterleave + i) * L.row_bytes(), 0, L.groups_per_row());
    }
    if (give_back) {  // the whole pages of this range's rows (a page shared with the next range: below)
      const int64_t r0 = range.begin() * kInterleave, r1 = std::min(range.end() * kInterleave, L.rows);
      io::release_pages(data + r0 * L.row_bytes(), uint64_t((r1 - r0) * L.row_bytes()));
    }
  });
  if (give_back) io::release_pages(data, uint64_t(L.total_bytes()));  // the pages two ranges shared
}

void InterleavedRows::stored(int64_t r0, int64_t r1, int64_t g0, int64_t g1, uint8_t* out) const {
  // Blocks in registers; up to the first block boundary, row by row.
  const int64_t stride = (g1 - g0) * L_.group_bytes();
  for (int64_t r = r0; r < r1;) {
    uint8_t* o = out + (r - r0) * stride;
    const uint8_t* blk = buf_.get() + (r / kInterleave) * stride_;
    if (r % kInterleave == 0) {
      const int64_t n = std::min<int64_t>(kInterleave, r1 - r);
      kInterleavedStoredRows(L_, blk, n, g0, g1, o, stride);
      r += n;
    } else {
      move_groups(L_, blk, r % kInterleave, o, g0, g1);
      ++r;
    }
  }
}

void InterleavedRows::gemv(const float* x, const float* bias, float* y) const {
  PreparedX p;  // per call, not thread_local: a nested TBB task may run another product here
  prepare(L_, x, p);
  const ActQ8Blocks a = p.view();
  run_blocks(blocks_, stride_,
             [&](int64_t b0, int64_t b1) { kInterleavedVnni(L_, buf_.get(), b0, b1, &a, 1, bias, y, 0); });
}

void InterleavedRows::gemv_rows(int64_t N, const float* X, const float* bias, float* Y) const {
  const int64_t R = L_.rows, K = L_.cols;
  for (int64_t n0 = 0; n0 < N; n0 += kMultiRowsQ8) {
    const int M = int(std::min<int64_t>(kMultiRowsQ8, N - n0));
    PreparedX p[kMultiRowsQ8];
    ActQ8Blocks a[kMultiRowsQ8]{};
    for (int m = 0; m < M; ++m) prepare(L_, X + (n0 + m) * K, p[m]), a[m] = p[m].view();
    float* Yg = Y + n0 * R;
    run_blocks(blocks_, stride_,
               [&](int64_t b0, int64_t b1) { kInterleavedVnni(L_, buf_.get(), b0, b1, a, M, bias, Yg, R); });
  }
}

}  // namespace rbe::codec::fixed

namespace rbe::codec {

bool fixed_matvecs_regrouped() {
  static const bool on = [] {
    const char* env = std::getenv("RBE_FIXED_INTERLEAVE");
    return !(env && std::strcmp(env, "0") == 0) && std::strcmp(fixed::active_kernels().name, "avx512vnni") == 0;
  }();
  return on;
}

}  // namespace rbe::codec
