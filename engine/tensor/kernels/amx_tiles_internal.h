#pragma once
// Pieces shared by the AMX bf16 tile kernels (the packed forms' batched
// product, codec/fixed_gemm_amx.cpp, and the split-operand products,
// gemm_split_amx.cpp). Include only from files compiled with the AMX flags
// (*_amx.cpp); internal linkage, like transpose_avx512.h.
//
// The layout: a weight tile ("A") is 16 weight rows x 32 bf16 of one
// 32-block of K, 64 bytes a row; an activation tile ("B") is the 16 x 16
// matrix of bf16 pairs of 16 activation rows over the same 32-block,
// transposed (row k2: the pair k = 2 k2, 2 k2 + 1 of activations 0..15), as
// TDPBF16PS wants it. C = A B is then 16 weight rows x 16 activations in f32.
#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdint>

#include "tensor/kernels/aligned_buffer.h"
#include "tensor/kernels/transpose_avx512.h"

namespace rbe::kernels {
namespace {

constexpr int kTileRows = 16;   // weight rows and activation rows per tile
constexpr int kTileDepth = 32;  // bf16 values of K per tile row
constexpr int kPairBlock = kTileRows * kTileDepth;  // bf16 values in one tile (1 KiB)
constexpr int kStripRows = 2 * kTileRows;           // weight rows per strip: two A tiles

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Eight tiles of 16 rows x 64 bytes: the bf16 kernels' only shape.
inline void load_tile_config_bf16() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) c.rows[t] = kTileRows, c.colsb[t] = 64;
  _tile_loadconfig(&c);
}

// bf16 of the f32 residual: lanes 0-15 from r0, 16-31 from r1.
inline __m512i bf16_of(__m512 r0, __m512 r1) { return (__m512i)_mm512_cvtne2ps_pbh(r1, r0); }
// The two f32 halves of a vector of 32 bf16 (bf16 -> f32 is a shift into
// the high half).
inline __m512 bf16_low_half(__m512i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(h)), 16));
}
inline __m512 bf16_high_half(__m512i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(h, 1)), 16));
}

// 32 floats (x0: elements 0-15, x1: 16-31) as `parts` vectors of bf16,
// each rounded to nearest even from what the ones before it miss:
// part[0] = bf16(x), part[1] = bf16(x - part[0]), part[2] = bf16(x -
// part[0] - part[1]) (each residual exact in f32). Two parts carry 16 of an
// f32's 24 significant bits and all 11 of an f16's; three carry all 24.
inline void split_bf16(__m512 x0, __m512 x1, int parts, __m512i* part) {
  for (int p = 0; p < parts; ++p) {
    part[p] = bf16_of(x0, x1);
    if (p + 1 < parts) {
      x0 = _mm512_sub_ps(x0, bf16_low_half(part[p]));
      x1 = _mm512_sub_ps(x1, bf16_high_half(part[p]));
    }
  }
}

// Activation tile block b = (m-tile t, 32-block s) of `parts` bf16 parts
// (split_bf16) from the tile's 16 rows (rows[mm] null: a zero row past N).
inline void activation_block(const float* const* rows, int64_t s, int64_t b, int parts, uint16_t* const* part) {
  __m512 pr[3][kTileRows];
  for (int mm = 0; mm < kTileRows; ++mm) {
    __m512i v[3] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    if (rows[mm]) {
      const float* x = rows[mm] + s * kTileDepth;
      split_bf16(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16), parts, v);
    }
    for (int p = 0; p < parts; ++p) pr[p][mm] = _mm512_castsi512_ps(v[p]);
  }
  for (int p = 0; p < parts; ++p) {
    transpose16(pr[p]);
    for (int k2 = 0; k2 < kTileRows; ++k2) _mm512_store_ps(part[p] + b * kPairBlock + k2 * 2 * kTileRows, pr[p][k2]);
  }
}

// X[N, K] (row stride ldx, K a multiple of 32) split into `parts` bf16 parts
// (split_bf16), each as B tiles: block (m-tile t, 32-block s) of part p at
// part[p] + (t * steps + s) * kPairBlock; rows past N are zero.
inline void activations_bf16(const float* X, int64_t ldx, int64_t N, int64_t K, int parts, uint16_t* const* part) {
  const int64_t steps = K / kTileDepth, mtiles = (N + kTileRows - 1) / kTileRows;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, mtiles * steps, 8), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t b = r.begin(); b < r.end(); ++b) {
      const int64_t t = b / steps, s = b % steps;
      const float* rows[kTileRows];
      for (int mm = 0; mm < kTileRows; ++mm) {
        const int64_t m = t * kTileRows + mm;
        rows[mm] = m < N ? X + m * ldx : nullptr;
      }
      activation_block(rows, s, b, parts, part);
    }
  });
}

// The same layout from rows that row(m, dst) writes (K floats each), one
// m-tile per task: the 16 rows go to a buffer of the thread's (16 K floats,
// in L2), so a transform of X's rows (the packed forms' rotation) needs no
// copy of the whole X.
template <class RowFn>
inline void activations_bf16_from_rows(int64_t N, int64_t K, RowFn&& row, int parts, uint16_t* const* part) {
  const int64_t steps = K / kTileDepth, mtiles = (N + kTileRows - 1) / kTileRows;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, mtiles, 1), [&](const tbb::blocked_range<int64_t>& r) {
    static thread_local AlignedBuffer tls_rows;  // only inside a task body, which never waits
    float* buf = tls_rows.get(size_t(kTileRows * K));
    for (int64_t t = r.begin(); t < r.end(); ++t) {
      const float* rows[kTileRows];
      for (int mm = 0; mm < kTileRows; ++mm) {
        const int64_t m = t * kTileRows + mm;
        rows[mm] = nullptr;
        if (m < N) row(m, buf + mm * K), rows[mm] = buf + mm * K;
      }
      for (int64_t s = 0; s < steps; ++s) activation_block(rows, s, t * steps + s, parts, part);
    }
  });
}

// C tile `tile` (0-3) into c[16 x 16] (rows of 16 floats).
inline void tile_to_floats(int tile, float* c) {
  switch (tile) {  // the tile number is an immediate
    case 0: _tile_stored(0, c, 64); break;
    case 1: _tile_stored(1, c, 64); break;
    case 2: _tile_stored(2, c, 64); break;
    default: _tile_stored(3, c, 64); break;
  }
}

// C tile `tile` (weight rows n0.. x activations m0..) into Y[m][n] (row
// stride ldy), transposed: Y = C + bias[n] + beta * Y (Y not read when beta
// is 0). Rows past N activations and columns past R weight rows are skipped.
inline void store_c(int tile, int64_t n0, int64_t m0, int64_t N, int64_t R, int64_t ldy, const float* bias, float beta,
                    float* Y) {
  const int64_t nn = std::min<int64_t>(kTileRows, R - n0), mrows = std::min<int64_t>(kTileRows, N - m0);
  if (nn <= 0 || mrows <= 0) return;
  alignas(64) float c[kTileRows * kTileRows];
  tile_to_floats(tile, c);
  __m512 v[kTileRows];
  for (int i = 0; i < kTileRows; ++i) v[i] = _mm512_load_ps(c + i * kTileRows);
  transpose16(v);  // v[mm]: activation mm, lanes = weight rows
  const __mmask16 mask = __mmask16((1u << nn) - 1);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + n0) : _mm512_setzero_ps();
  const __m512 vb = _mm512_set1_ps(beta);
  for (int64_t mm = 0; mm < mrows; ++mm) {
    float* y = Y + (m0 + mm) * ldy + n0;
    __m512 out = _mm512_add_ps(v[mm], b);
    if (beta != 0.f) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, y), out);
    _mm512_mask_storeu_ps(y, mask, out);
  }
}

// A strip of 32 weight rows (wb) in P bf16 parts, tile order: 32-block s is
// 2P tiles from wb + 2P s kPairBlock (part 0 of rows 0-15, part 0 of rows
// 16-31, part 1 of rows 0-15, ...). X in P parts (xp[b], activations_bf16's
// layout, `steps` 32-blocks per activation tile).
//
// The strip against activation tiles t and, when `two`, t + 1: four C tiles
// (0: rows 0-15 x t, 1: rows 0-15 x t + 1, 2: rows 16-31 x t, 3: rows 16-31
// x t + 1), each summing the products X_b W_a with a + b < P over all of K,
// then stored by store_c (rows n0.., M activations, N weight rows, bias,
// beta). Tiles 4, 5 hold A (weight parts), 6, 7 B (X parts).
template <int P>
inline void strip_product(const uint16_t* wb, uint16_t* const* xp, int64_t t, bool two, int64_t steps, int64_t n0,
                          int64_t M, int64_t N, int64_t ldc, const float* bias, float beta, float* C) {
  const int64_t next = steps * kPairBlock;  // activation tile t + 1
  const uint16_t* x[P];
  for (int b = 0; b < P; ++b) x[b] = xp[b] + t * steps * kPairBlock;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  auto load_x = [two, next](const uint16_t* p) {  // B tiles 6 (t) and 7 (t + 1)
    _tile_loadd(6, p, 64);
    if (two) _tile_loadd(7, p + next, 64);
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
    if constexpr (P == 1)  // the two B tiles of two steps ahead into L1 (measured: 3-7% at 128 rows)
      if (two) {
        const char* ahead = reinterpret_cast<const char*>(x[0] + (s + 2) * kPairBlock);
        for (int l = 0; l < 16; ++l) {
          _mm_prefetch(ahead + 64 * l, _MM_HINT_T0);
          _mm_prefetch(ahead + next * 2 + 64 * l, _MM_HINT_T0);
        }
      }
    const uint16_t* w = wb + 2 * P * s * kPairBlock;
    // Weight part a against X parts P - 1 - a down to 0, so that part 0 of X
    // is loaded last and still there for the next weight part: for P = 2, 8
    // tile loads and 12 products; for P = 3, 16 and 24.
    int loaded = -1;
    for (int a = 0; a < P; ++a) {
      _tile_loadd(4, w + 2 * a * kPairBlock, 64);
      _tile_loadd(5, w + (2 * a + 1) * kPairBlock, 64);
      for (int b = P - 1 - a; b >= 0; --b) {
        if (b != loaded) load_x(x[b] + s * kPairBlock);
        loaded = b;
        products();
      }
    }
  }
  const int64_t m0 = t * kTileRows;
  store_c(0, n0, m0, M, N, ldc, bias, beta, C);
  store_c(2, n0 + kTileRows, m0, M, N, ldc, bias, beta, C);
  if (two) {
    store_c(1, n0, m0 + kTileRows, M, N, ldc, bias, beta, C);
    store_c(3, n0 + kTileRows, m0 + kTileRows, M, N, ldc, bias, beta, C);
  }
}

}  // namespace
}  // namespace rbe::kernels
