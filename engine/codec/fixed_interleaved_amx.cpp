// The AMX bf16 product straight from the regrouped copy (fixed_interleaved.h),
// for prompts where a FixedPacked keeps only the copy. The copy's 64-byte
// chunks hold four columns of 16 rows, a row a 32-bit lane: converted to
// bf16 level * scale, one chunk is two rows of a B tile (a pair of columns,
// one weight row per lane) as TDPBF16PS wants them. So here the weights are
// B and X is A, in rows as they come: no transpose of X or of the sums
// (the stored layout's kernel, fixed_gemm_amx.cpp, makes the weights A and
// transposes both), and C is 16 rows of Y. The products are the same pairs
// in the same order as that kernel's: the sums are its bits
// (tests/test_codec_fixed_stored_rows.cpp).
//
// Compiled with the AMX flags (files *_amx.cpp, engine/CMakeLists.txt); run
// only where amx_bf16_gemm_available() and the copy's kernel checks say so.
#include "codec/fixed_gemm_amx.h"

#include <cstdlib>

#ifdef RBE_AMX_KERNELS
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>

#include "codec/fixed_interleaved.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/hadamard.h"
#include "tensor/kernels/aligned_buffer.h"
#include "tensor/kernels/amx_tiles_internal.h"
#endif

namespace rbe::codec::fixed {

#ifndef RBE_AMX_KERNELS

void gemm_amx_bf16_interleaved(const InterleavedRows&, const Layout&, int64_t, const float*, const float*, float*,
                               const RandomizedHadamard*) {
  std::abort();  // unreachable: callers ask amx_bf16_gemm_available() first
}

#else

namespace {

constexpr int kTile = rbe::kernels::kTileRows;  // 16: X rows per A tile, weight rows per B tile
constexpr int kTileDwords = kTile * kTile;      // one tile, in 32-bit pairs (1 KiB)
using rbe::kernels::kTileDepth;                 // 32 columns per tile

// X's rows (rotated by rot where given) in bf16, as A tiles: tile (m-tile t,
// sub-block s) at xb + (t * steps + s) * 512, row mm = X row 16 t + mm's 32
// columns; rows past N zero.
void x_tiles(const float* X, int64_t N, int64_t K, const RandomizedHadamard* rot, uint16_t* xb) {
  const int64_t steps = K / kTileDepth, mtiles = (N + kTile - 1) / kTile;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, mtiles, 1), [&](const tbb::blocked_range<int64_t>& r) {
    static thread_local rbe::kernels::AlignedBuffer tls_row;  // only inside a task body, which never waits
    float* row = rot ? tls_row.get(size_t(K)) : nullptr;
    for (int64_t t = r.begin(); t < r.end(); ++t)
      for (int mm = 0; mm < kTile; ++mm) {
        const int64_t m = t * kTile + mm;
        uint16_t* dst = xb + t * steps * 512 + mm * kTileDepth;
        if (m >= N) {
          for (int64_t s = 0; s < steps; ++s) std::memset(dst + s * 512, 0, kTileDepth * 2);
          continue;
        }
        const float* x = X + m * K;
        if (rot) {
          std::memcpy(row, x, size_t(K) * sizeof(float));
          rot->forward(row);
          x = row;
        }
        for (int64_t s = 0; s < steps; ++s)
          _mm512_store_si512(dst + s * 512, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 32 * s + 16),
                                                                          _mm512_loadu_ps(x + 32 * s)));
      }
  });
}

// C tile `tile` (X rows m0.., weight rows n0..) into Y (row stride R) + bias.
inline void store_rows(int tile, int64_t m0, int64_t n0, int64_t N, int64_t R, const float* bias, float* Y) {
  const int64_t mrows = std::min<int64_t>(kTile, N - m0), nn = std::min<int64_t>(kTile, R - n0);
  if (mrows <= 0 || nn <= 0) return;
  alignas(64) float c[kTile * kTile];
  rbe::kernels::tile_to_floats(tile, c);
  const __mmask16 mask = __mmask16((1u << nn) - 1);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + n0) : _mm512_setzero_ps();
  for (int64_t mm = 0; mm < mrows; ++mm)
    _mm512_mask_storeu_ps(Y + (m0 + mm) * R + n0, mask, _mm512_add_ps(_mm512_load_ps(c + mm * kTile), b));
}

// X bf16 is held by the calling thread across the parallel loop (a lease);
// a strip's panels only inside a task body, which never waits.
thread_local rbe::kernels::AlignedBuffer tls_xb, tls_panel;

}  // namespace

void gemm_amx_bf16_interleaved(const InterleavedRows& copy, const Layout& L, int64_t N, const float* X,
                               const float* bias, float* Y, const RandomizedHadamard* rot) {
  const int64_t K = L.cols, R = L.rows, steps = K / kTileDepth;
  if (N <= 0 || R <= 0) return;
  constexpr int64_t kMaxRows = 2048;  // as the stored layout's kernel: bounds X's bf16 copy
  if (N > kMaxRows) {
    for (int64_t n0 = 0; n0 < N; n0 += kMaxRows)
      gemm_amx_bf16_interleaved(copy, L, std::min(kMaxRows, N - n0), X + n0 * K, bias, Y + n0 * R, rot);
    return;
  }
  const int64_t mtiles = (N + kTile - 1) / kTile, blocks = (R + kTile - 1) / kTile;
  const int64_t stride = interleaved_stride(L);
  rbe::kernels::ScratchLease xlease(tls_xb);
  auto* xb = static_cast<uint16_t*>(xlease->bytes(size_t(mtiles * steps * 512) * 2));
  x_tiles(X, N, K, rot, xb);
  // Each task turns two blocks (32 weight rows) into B tiles once and runs
  // them against every pair of X tiles: four C tiles (0: X tile t x block
  // b, 1: t x b + 1, 2: t + 1 x b, 3: t + 1 x b + 1), A in tiles 4, 5, B in 6, 7.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, (blocks + 1) / 2, 1), [&](const tbb::blocked_range<int64_t>& r) {
    auto* panel = static_cast<uint32_t*>(tls_panel.bytes(size_t(2 * steps * kTileDwords) * 4));
    uint32_t* panel1 = panel + steps * kTileDwords;
    rbe::kernels::load_tile_config_bf16();
    for (int64_t st = r.begin(); st < r.end(); ++st) {
      const int64_t b = 2 * st;
      const bool two_b = b + 1 < blocks;
      kInterleavedBf16Panel(L, copy.data() + b * stride, panel, kTile);
      if (two_b) kInterleavedBf16Panel(L, copy.data() + (b + 1) * stride, panel1, kTile);
      for (int64_t t = 0; t < mtiles; t += 2) {
        const bool two_m = t + 1 < mtiles;
        const uint16_t* x0 = xb + t * steps * 512;
        const uint16_t* x1 = x0 + steps * 512;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t s = 0; s < steps; ++s) {
          _tile_loadd(4, x0 + s * 512, 64);
          _tile_loadd(6, panel + s * kTileDwords, 64);
          _tile_dpbf16ps(0, 4, 6);
          if (two_b) {
            _tile_loadd(7, panel1 + s * kTileDwords, 64);
            _tile_dpbf16ps(1, 4, 7);
          }
          if (two_m) {
            _tile_loadd(5, x1 + s * 512, 64);
            _tile_dpbf16ps(2, 5, 6);
            if (two_b) _tile_dpbf16ps(3, 5, 7);
          }
        }
        const int64_t m0 = t * kTile, n0 = b * kTile;
        store_rows(0, m0, n0, N, R, bias, Y);
        if (two_b) store_rows(1, m0, n0 + kTile, N, R, bias, Y);
        if (two_m) store_rows(2, m0 + kTile, n0, N, R, bias, Y);
        if (two_m && two_b) store_rows(3, m0 + kTile, n0 + kTile, N, R, bias, Y);
      }
    }
    _tile_release();
  });
}

#endif

}  // namespace rbe::codec::fixed
