// Products on AMX bf16 tiles with split operands (gemm_split.h). Compiled
// with the AMX flags where the compiler has them (RBE_AMX_KERNELS); the checks
// before them, and the answer "declined" without them, are in gemm_split.cpp.
//
// f16 W: an f16 weight has 11 significant bits, a bf16 8, so w = w_0 + w_1
// exactly (w - w_0 is a multiple of w's f16 step, at most 4 of them); X is
// split the same way, to 16 of its 24 bits. Of the four products X_1 W_1 (at
// most about 2^-18 of the term) is left out.
// f32 W: three parts hold an f32 exactly, for W and X alike. The six
// products X_a W_b with a + b <= 2 are kept; the three left out are at most
// about 2^-27 of the term each.
#include "tensor/kernels/gemm_split.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "tensor/kernels/gemm_split_internal.h"

#ifdef RBE_AMX_KERNELS
#if !(defined(__AMX_INT8__) && defined(__AMX_BF16__) && defined(__AMX_TILE__) && defined(__AVX512F__) && \
      defined(__AVX512BF16__))
#error "RBE_AMX_KERNELS is set but this file is built without the AMX flags"
#endif
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <tbb/task_arena.h>

#include "tensor/kernels/aligned_buffer.h"
#include "tensor/kernels/amx_tiles_internal.h"
static_assert(rbe::kernels::kSplitTilesDepth == rbe::kernels::kTileDepth, "gemm_split.cpp checks K against kTileDepth");
#endif

namespace rbe::kernels {

#ifndef RBE_AMX_KERNELS

// Unreachable: without the kernels the tiles are never usable (gemm_split.cpp).
void gemm_f16w_tiles_run(int64_t, int64_t, int64_t, const float*, int64_t, const uint16_t*, int64_t, float, float*,
                         int64_t) {
  std::abort();
}
void gemm_f32w_tiles_run(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float, float*,
                         int64_t) {
  std::abort();
}

#else

namespace {

// Parts per operand for a weight type: f16 (raw bits) 2, f32 3.
template <class T>
constexpr int kParts = sizeof(T) == 2 ? 2 : 3;

// 32 weights of a row as two f32 vectors.
inline void load32(const uint16_t* w, __m512& a, __m512& b) {
  const __m512i raw = _mm512_loadu_si512(w);
  a = _mm512_cvtph_ps(_mm512_castsi512_si256(raw));
  b = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(raw, 1));
}
inline void load32(const float* w, __m512& a, __m512& b) {
  a = _mm512_loadu_ps(w);
  b = _mm512_loadu_ps(w + 16);
}

// bf16 values of one split strip: 32 rows x K, P parts.
size_t strip_vals(int P, int64_t steps) { return size_t(2 * P * steps * kPairBlock); }

// Weight rows [n0, n0 + 32) split into P bf16 parts, in tile order: 32-block
// s is 2P tiles from wb + 2P s kPairBlock (part 0 of rows 0-15, part 0 of
// 16-31, part 1 of 0-15, ...), so that the strip is read front to back.
// Rows past R are zero.
template <class T>
void unpack_strip(const T* W, int64_t ldw, int64_t R, int64_t K, int64_t n0, uint16_t* wb) {
  constexpr int P = kParts<T>;
  const int64_t steps = K / kTileDepth;
  for (int i = 0; i < kStripRows; ++i) {
    uint16_t* row = wb + (i / kTileRows) * kPairBlock + (i % kTileRows) * kTileDepth;  // part p: + 2 p kPairBlock
    if (n0 + i >= R) {
      for (int64_t s = 0; s < steps; ++s)
        for (int p = 0; p < P; ++p) std::memset(row + (2 * P * s + 2 * p) * kPairBlock, 0, kTileDepth * 2);
      continue;
    }
    const T* w = W + (n0 + i) * ldw;
    for (int64_t s = 0; s < steps; ++s) {
      __m512 a, b;
      load32(w + s * kTileDepth, a, b);
      __m512i part[P];
      split_bf16(a, b, P, part);
      for (int p = 0; p < P; ++p) _mm512_store_si512(row + (2 * P * s + 2 * p) * kPairBlock, part[p]);
    }
  }
}

// X's parts and, for a long X, W split: held by the calling thread across
// its parallel loops, so taken through a ScratchLease. A strip of weights:
// only inside a task body, which never waits, so the thread's own.
thread_local AlignedBuffer tls_x, tls_w, tls_wall;

// X's P parts up to about an L2 (2 MiB here) stay there while every strip
// passes. A longer X goes in blocks of about 512 KiB, an even number of
// activation tiles (they go in pairs), each strip then read again for every
// block; unless a strip is itself that large, when that costs more than X.
// Measured (bench_quant_gemv batch/f16, bench_matmul tiles/prompt_*, 2
// threads): f16 W, 896 rows of 768 (strips of 96 KiB), 490-520 GFLOP/s
// without blocks, 610-690 with blocks of 256-768 KiB; f16 W, 128 rows of
// 3072 (X 1.5 MiB), 445-450 without, 350-400 with blocks; f32 W, 128 rows of
// 3072 (X 2.3 MiB, strips of 576 KiB), 225-245 without, 150-200 with.
constexpr int64_t kWholeXBytes = 2 << 20, kBlockXBytes = 512 << 10;
int64_t mblock_tiles(int P, int64_t M, int64_t K) {
  const int64_t mtiles = (M + kTileRows - 1) / kTileRows;
  if (2 * P * M * K <= kWholeXBytes || int64_t(strip_vals(P, K / kTileDepth) * 2) >= kBlockXBytes) return mtiles;
  return std::max<int64_t>(2, kBlockXBytes / (2 * P * K * kTileRows) / 2 * 2);
}

// Rows of A per product below: bounds X's parts, 2 P M K bytes (12 MiB at
// 1024 rows of 3072 in two parts; an evaluation's 8 x 1024 rows would need
// 96). W split at once for a long X: bounded too (8 MiB: 2720 rows of 768 in
// two parts, where the 124M head would need 154 MB).
constexpr int64_t kMaxRows = 1024;

// A deep product (the MLP's c_proj, K = 3072) with more than kWholeXBytes of
// split X runs in parts of this depth, each adding into C, so that X's parts
// and the strips of one part are those of a 768-deep product (c_fc's). Whole,
// it read all of X's parts (18 MB at 1000 rows of f32) from L3 again for
// every strip of 576 KiB (f32 W), or every strip again for each block of X
// (f16 W, strips of 384 KiB). Measured: bench_matmul
// tiles/prompt_fcproj_128x768x3072 (f32 W) 337-344 -> 389-412 GFLOP/s;
// 1000-token prompt passes 2-11% faster, an f32 rbe-infer --eval at ctx
// 1024 6-10% (docs/performance.md).
constexpr int64_t kDepthPart = 768;
constexpr int64_t kMaxSplitWBytes = 8 << 20;

// C[M, N] for M <= kMaxRows.
template <class T>
void product(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const T* W, int64_t ldw, float beta,
             float* C, int64_t ldc) {
  constexpr int P = kParts<T>;
  const int64_t steps = K / kTileDepth, mtiles = (M + kTileRows - 1) / kTileRows;
  const int64_t strips = (N + kStripRows - 1) / kStripRows;
  const size_t xvals = size_t(mtiles * steps * kPairBlock);
  ScratchLease lease(tls_x);
  uint16_t* xp[P];
  xp[0] = static_cast<uint16_t*>(lease->bytes(xvals * 2 * P));
  for (int b = 1; b < P; ++b) xp[b] = xp[b - 1] + xvals;
  activations_bf16(A, lda, M, K, P, xp);
  const int64_t mblock = mblock_tiles(P, M, K);
  if (mtiles <= mblock) {
    // Each task splits a strip of 32 weight rows once and runs it against
    // every pair of activation tiles, all of X staying in L2.
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, strips, 1), [&](const tbb::blocked_range<int64_t>& r) {
      auto* wb = static_cast<uint16_t*>(tls_w.bytes(strip_vals(P, steps) * 2));
      load_tile_config_bf16();
      for (int64_t st = r.begin(); st < r.end(); ++st) {
        const int64_t n0 = st * kStripRows;
        unpack_strip(W, ldw, N, K, n0, wb);
        for (int64_t t = 0; t < mtiles; t += 2) strip_product<P>(wb, xp, t, t + 1 < mtiles, steps, n0, M, N, ldc, nullptr, beta, C);
      }
      _tile_release();
    });
    return;
  }
  // A long X (896 rows of 768: 2.75 MB in two parts): split W once, a group
  // of strips at a time, then each task runs its strips against one block of
  // X after another.
  const size_t strip_bytes = strip_vals(P, steps) * 2;
  const int64_t group = std::max<int64_t>(1, kMaxSplitWBytes / int64_t(strip_bytes));
  ScratchLease wlease(tls_wall);
  auto* wall = static_cast<uint16_t*>(wlease->bytes(size_t(std::min(group, strips)) * strip_bytes));
  for (int64_t g0 = 0; g0 < strips; g0 += group) {
    const int64_t g1 = std::min(strips, g0 + group);
    auto strip = [&](int64_t st) { return wall + size_t(st - g0) * strip_vals(P, steps); };
    tbb::parallel_for(tbb::blocked_range<int64_t>(g0, g1, 1), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t st = r.begin(); st < r.end(); ++st) unpack_strip(W, ldw, N, K, st * kStripRows, strip(st));
    });
    const int64_t grain = std::max<int64_t>(1, (g1 - g0) / (4 * tbb::this_task_arena::max_concurrency()));
    tbb::parallel_for(tbb::blocked_range<int64_t>(g0, g1, grain), [&](const tbb::blocked_range<int64_t>& r) {
      load_tile_config_bf16();
      for (int64_t m0 = 0; m0 < mtiles; m0 += mblock)
        for (int64_t st = r.begin(); st < r.end(); ++st)
          for (int64_t t = m0; t < std::min(mtiles, m0 + mblock); t += 2)
            strip_product<P>(strip(st), xp, t, t + 1 < mtiles, steps, st * kStripRows, M, N, ldc, nullptr, beta,
                             C);
      _tile_release();
    });
  }
}

// The product in row blocks of kMaxRows and, where X's parts would not fit
// kWholeXBytes, in depth parts of kDepthPart added into C.
template <class T>
void tiles(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const T* W, int64_t ldw, float beta,
           float* C, int64_t ldc) {
  for (int64_t m0 = 0; m0 < M; m0 += kMaxRows) {
    const int64_t rows = std::min(kMaxRows, M - m0);
    const int64_t part = K > kDepthPart && 2 * kParts<T> * rows * K > kWholeXBytes ? kDepthPart : K;
    for (int64_t k0 = 0; k0 < K; k0 += part)
      product(rows, N, std::min(part, K - k0), A + m0 * lda + k0, lda, W + k0, ldw, k0 == 0 ? beta : 1.f,
              C + m0 * ldc, ldc);
  }
}

}  // namespace

void gemm_f16w_tiles_run(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W,
                         int64_t ldw, float beta, float* C, int64_t ldc) {
  tiles(M, N, K, A, lda, W, ldw, beta, C, ldc);
}

void gemm_f32w_tiles_run(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, int64_t ldw,
                         float beta, float* C, int64_t ldc) {
  tiles(M, N, K, A, lda, W, ldw, beta, C, ldc);
}

#endif

}  // namespace rbe::kernels
