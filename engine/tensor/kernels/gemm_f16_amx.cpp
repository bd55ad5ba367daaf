// The f16-weight GEMM on AMX bf16 tiles, operands split in two (gemm_f16.h).
// Compiled with the AMX flags where the compiler has them; without them it
// declines every product and gemm_f16w runs its SGEMM path.
//
// An f16 weight has 11 significant bits, a bf16 8: w = hi + lo with
// hi = bf16(w) and lo = bf16(w - hi) exactly (w - hi is a multiple of w's
// f16 step, at most 4 of them). X is split the same way, to 16 of its 24
// bits. Of the four products, X_lo W_lo (at most about 2^-18 of the term) is left
// out: X_hi W_hi + X_lo W_hi + X_hi W_lo, each summed in f32 by TDPBF16PS.
#include "tensor/kernels/gemm_f16.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(__AMX_INT8__) && defined(__AMX_BF16__) && defined(__AMX_TILE__) && defined(__AVX512F__) && \
    defined(__AVX512BF16__)
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "tensor/kernels/aligned_buffer.h"
#include "tensor/kernels/amx_tiles.h"
#include "tensor/kernels/amx_tiles_internal.h"
#include <tbb/task_arena.h>
#define RBE_F16_AMX 1
#endif

namespace rbe::kernels {

#ifndef RBE_F16_AMX

bool gemm_f16w_tiles_usable() { return false; }
bool gemm_f16w_tiles(int64_t, int64_t, int64_t, const float*, int64_t, const uint16_t*, int64_t, float, float*,
                     int64_t) {
  return false;
}

#else

namespace {

constexpr int kStripRows = 2 * kTileRows;  // weight rows per strip: two A tiles

// Weight rows [n0, n0 + 32) as bf16 hi and lo parts in tile order: 32-block s
// is four tiles from wb + 4 s kPairBlock (hi of rows 0-15, hi of 16-31, lo of
// 0-15, lo of 16-31), so that the strip is read front to back. Rows past R
// are zero.
void unpack_strip(const uint16_t* W, int64_t ldw, int64_t R, int64_t K, int64_t n0, uint16_t* wb) {
  const int64_t steps = K / kTileDepth;
  for (int i = 0; i < kStripRows; ++i) {
    uint16_t* hi = wb + (i / kTileRows) * kPairBlock + (i % kTileRows) * kTileDepth;
    uint16_t* lo = hi + 2 * kPairBlock;
    if (n0 + i >= R) {
      for (int64_t s = 0; s < steps; ++s) {
        std::memset(hi + 4 * s * kPairBlock, 0, kTileDepth * 2);
        std::memset(lo + 4 * s * kPairBlock, 0, kTileDepth * 2);
      }
      continue;
    }
    const uint16_t* w = W + (n0 + i) * ldw;
    for (int64_t s = 0; s < steps; ++s) {
      const __m512i raw = _mm512_loadu_si512(w + s * kTileDepth);
      __m512i l;
      const __m512i h =
          split_bf16(_mm512_cvtph_ps(_mm512_castsi512_si256(raw)), _mm512_cvtph_ps(_mm512_extracti64x4_epi64(raw, 1)), &l);
      _mm512_store_si512(hi + 4 * s * kPairBlock, h);
      _mm512_store_si512(lo + 4 * s * kPairBlock, l);
    }
  }
}

// The strip's 32 weight rows against activation tiles t and, when `two`,
// t + 1: four C tiles (0: rows 0-15 x t, 1: rows 0-15 x t + 1, 2: rows 16-31
// x t, 3: rows 16-31 x t + 1), each the three products over all of K.
void strip_product(const uint16_t* wb, const uint16_t* xh, const uint16_t* xl, int64_t t, bool two, int64_t steps,
                   int64_t n0, int64_t M, int64_t N, int64_t ldc, float beta, float* C) {
  const uint16_t* h0 = xh + t * steps * kPairBlock;
  const uint16_t* l0 = xl + t * steps * kPairBlock;
  const int64_t next = steps * kPairBlock;  // activation tile t + 1
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  auto load_x = [two, next](const uint16_t* x) {  // B tiles 6 (t) and 7 (t + 1)
    _tile_loadd(6, x, 64);
    if (two) _tile_loadd(7, x + next, 64);
  };
  auto products = [two] {  // C tiles += A tiles 4, 5 x B tiles 6, 7
    if (two) {
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(3, 5, 7);
    }
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
  };
  for (int64_t s = 0; s < steps; ++s) {
    const uint16_t* w = wb + 4 * s * kPairBlock;
    // W_hi against X_lo, then X_hi; W_lo against X_hi: 8 tile loads, 12 products.
    _tile_loadd(4, w, 64);
    _tile_loadd(5, w + kPairBlock, 64);
    load_x(l0 + s * kPairBlock);
    products();
    load_x(h0 + s * kPairBlock);
    products();
    _tile_loadd(4, w + 2 * kPairBlock, 64);
    _tile_loadd(5, w + 3 * kPairBlock, 64);
    products();
  }
  const int64_t m0 = t * kTileRows;
  store_c(0, n0, m0, M, N, ldc, nullptr, beta, C);
  store_c(2, n0 + kTileRows, m0, M, N, ldc, nullptr, beta, C);
  if (two) {
    store_c(1, n0, m0 + kTileRows, M, N, ldc, nullptr, beta, C);
    store_c(3, n0 + kTileRows, m0 + kTileRows, M, N, ldc, nullptr, beta, C);
  }
}

// X's two parts and, for a long X, all of W split: held by the calling
// thread across its parallel loops, so taken through a ScratchLease. A strip
// of weights: only inside a task body, which never waits, so the thread's own.
thread_local AlignedBuffer tls_x, tls_w, tls_wall;

// bf16 values of one split strip: 32 rows x K, two parts.
size_t strip_vals(int64_t steps) { return size_t(4 * steps * kPairBlock); }

// X's two parts up to about an L2 (2 MiB here) stay there while every strip
// passes; a longer X goes in blocks of about 512 KiB, an even number of
// activation tiles (they go in pairs). Measured (bench_quant_gemv
// batch/f16, 2 threads): 896 rows of 768, 490-520 GFLOP/s without blocks,
// 610-690 with blocks of 256-768 KiB; 128 rows of 3072 (1.5 MiB), 445-450
// without, 350-400 with blocks of 512 KiB-1 MiB.
constexpr int64_t kWholeXBytes = 2 << 20, kBlockXBytes = 512 << 10;
int64_t mblock_tiles(int64_t M, int64_t K) {
  const int64_t mtiles = (M + kTileRows - 1) / kTileRows;
  if (4 * M * K <= kWholeXBytes) return mtiles;
  return std::max<int64_t>(2, kBlockXBytes / (4 * K * kTileRows) / 2 * 2);
}

}  // namespace

bool gemm_f16w_tiles_usable() {
  static const bool ok = [] {
    if (const char* env = std::getenv("RBE_F16_GEMM"); env && std::strcmp(env, "sgemm") == 0) return false;
    return amx_bf16_usable();
  }();
  return ok;
}

namespace {

// Rows of A per product below: bounds the split X, 4 M K bytes (12 MiB at
// 1024 rows of 3072; an evaluation's 8 x 1024 rows would need 96).
constexpr int64_t kMaxRows = 1024;
// W split at once for a long X: bounds that buffer too (8 MiB: 2720 rows of
// 768, where the 124M head would need 154 MB).
constexpr int64_t kMaxSplitWBytes = 8 << 20;

// C[M, N] for M <= kMaxRows (gemm_f16w_tiles).
void product(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw, float beta,
             float* C, int64_t ldc) {
  const int64_t steps = K / kTileDepth, mtiles = (M + kTileRows - 1) / kTileRows;
  const int64_t strips = (N + kStripRows - 1) / kStripRows;
  const size_t xvals = size_t(mtiles * steps * kPairBlock);
  ScratchLease lease(tls_x);
  auto* xh = static_cast<uint16_t*>(lease->bytes(xvals * 2 * 2));
  uint16_t* xl = xh + xvals;
  activations_bf16(A, lda, M, K, xh, xl);
  const int64_t mblock = mblock_tiles(M, K);
  if (mtiles <= mblock) {
    // Each task splits a strip of 32 weight rows once and runs it against
    // every pair of activation tiles, all of X staying in L2.
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, strips, 1), [&](const tbb::blocked_range<int64_t>& r) {
      auto* wb = static_cast<uint16_t*>(tls_w.bytes(strip_vals(steps) * 2));
      load_tile_config_bf16();
      for (int64_t st = r.begin(); st < r.end(); ++st) {
        const int64_t n0 = st * kStripRows;
        unpack_strip(W, ldw, N, K, n0, wb);
        for (int64_t t = 0; t < mtiles; t += 2)
          strip_product(wb, xh, xl, t, t + 1 < mtiles, steps, n0, M, N, ldc, beta, C);
      }
      _tile_release();
    });
    return;
  }
  // A long X (896 rows of 768: 2.75 MB in two parts): split W once, a group
  // of strips at a time, then each task runs its strips against one block of
  // X after another.
  const size_t strip_bytes = strip_vals(steps) * 2;
  const int64_t group = std::max<int64_t>(1, kMaxSplitWBytes / int64_t(strip_bytes));
  ScratchLease wlease(tls_wall);
  auto* wall = static_cast<uint16_t*>(wlease->bytes(size_t(std::min(group, strips)) * strip_bytes));
  for (int64_t g0 = 0; g0 < strips; g0 += group) {
    const int64_t g1 = std::min(strips, g0 + group);
    auto strip = [&](int64_t st) { return wall + size_t(st - g0) * strip_vals(steps); };
    tbb::parallel_for(tbb::blocked_range<int64_t>(g0, g1, 1), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t st = r.begin(); st < r.end(); ++st) unpack_strip(W, ldw, N, K, st * kStripRows, strip(st));
    });
    const int64_t grain = std::max<int64_t>(1, (g1 - g0) / (4 * tbb::this_task_arena::max_concurrency()));
    tbb::parallel_for(tbb::blocked_range<int64_t>(g0, g1, grain), [&](const tbb::blocked_range<int64_t>& r) {
      load_tile_config_bf16();
      for (int64_t m0 = 0; m0 < mtiles; m0 += mblock)
        for (int64_t st = r.begin(); st < r.end(); ++st)
          for (int64_t t = m0; t < std::min(mtiles, m0 + mblock); t += 2)
            strip_product(strip(st), xh, xl, t, t + 1 < mtiles, steps, st * kStripRows, M, N, ldc, beta, C);
      _tile_release();
    });
  }
}

}  // namespace

bool gemm_f16w_tiles(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
                     float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0 || K <= 0 || K % kTileDepth != 0 || !gemm_f16w_tiles_usable()) return false;
  for (int64_t m0 = 0; m0 < M; m0 += kMaxRows)
    product(std::min(kMaxRows, M - m0), N, K, A + m0 * lda, lda, W, ldw, beta, C + m0 * ldc, ldc);
  return true;
}

#endif

}  // namespace rbe::kernels
