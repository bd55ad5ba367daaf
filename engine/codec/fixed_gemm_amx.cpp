// AMX int8 and bf16 products of a fixed-rate matrix with a batch of
// activation rows (fixed_gemm_amx.h). Compiled with AVX-512 and AMX flags where the compiler
// has them (files *_amx.cpp, engine/CMakeLists.txt: RBE_AMX_KERNELS); run
// only where amx_gemm_available() or amx_bf16_gemm_available() says so,
// asked in fixed_gemm.cpp, which is built for the base instruction set
// (tensor/kernels/amx_tiles.cpp says why).
#include "codec/fixed_gemm_amx.h"

#include <cstdlib>
#include <cstring>

#ifdef RBE_AMX_KERNELS
#if !(defined(__AMX_INT8__) && defined(__AMX_BF16__) && defined(__AMX_TILE__) && defined(__AVX512F__) && \
      defined(__AVX512BF16__))
#error "RBE_AMX_KERNELS is set but this file is built without the AMX flags"
#endif
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "codec/fixed_interleaved.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/fixed_simd.h"
#include "codec/hadamard.h"
#include "tensor/kernels/aligned_buffer.h"
#include "tensor/kernels/amx_tiles_internal.h"
#endif

namespace rbe::codec::fixed {

#ifndef RBE_AMX_KERNELS

void gemm_amx(const Layout&, const StoredRows&, int64_t, const float*, const float*, float*) {
  std::abort();  // unreachable: callers ask amx_gemm_available() first
}
void gemm_amx_bf16(const Layout&, const uint8_t*, int64_t, const float*, const float*, float*,
                   const RandomizedHadamard*) {
  std::abort();  // unreachable: callers ask amx_bf16_gemm_available() first
}

#else

namespace {

constexpr int kTile = rbe::kernels::kTileRows;  // weight rows and activation rows per tile
constexpr int kBlockBytes = 512;  // one B tile: 8 rows x (16 activations x 4 int8)

using rbe::kernels::kPairBlock;
using rbe::kernels::kStripRows;
using rbe::kernels::TileConfig;

// Tiles 0, 1: C, 16 weight rows x 16 activations (int32); 2, 3: A, 16
// weight rows x 32 levels; 4, 5: B, the 16 activations' 32 int8 values in
// VNNI order (8 rows of 16 x 4). Two of each, so that one sub-block's
// product runs while the other's sums are scaled.
void load_tile_config() {
  TileConfig c;
  for (int t : {0, 1}) c.rows[t] = kTile, c.colsb[t] = 64;
  for (int t : {2, 3}) c.rows[t] = kTile, c.colsb[t] = kSub;
  for (int t : {4, 5}) c.rows[t] = kSub / 4, c.colsb[t] = 64;
  _tile_loadconfig(&c);
}

// X quantized per 32-block (as prep_q8 of the VNNI matvec: d = max|x| / 127,
// rounded to nearest even) into B tiles: block (m-tile t, sub-block s) holds
// row k4 = 4-group of the block, byte 4 * mm + j = q[16t + mm][32s + 4 k4 + j].
// Rows of the last m-tile past N are zero. xd[t][s][mm] = d.
void quantize_activations(const float* X, int64_t N, int64_t K, int8_t* xq, float* xd) {
  const int64_t subs = K / kSub;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, N, 4), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t m = r.begin(); m < r.end(); ++m) {
      const int64_t t = m / kTile, mm = m % kTile;
      for (int64_t s = 0; s < subs; ++s) {
        const float* x = X + m * K + s * kSub;
        const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
        const __m512 inv = _mm512_set1_ps(act_q8_inv(amax));
        // cvtps rounds to nearest even (the default MXCSR mode), as nearbyint.
        alignas(32) int8_t q[kSub];
        _mm_store_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(lo, inv))));
        _mm_store_si128(reinterpret_cast<__m128i*>(q + 16),
                        _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(hi, inv))));
        int8_t* blk = xq + (t * subs + s) * kBlockBytes + mm * 4;
        for (int k4 = 0; k4 < kSub / 4; ++k4) std::memcpy(blk + k4 * 64, q + 4 * k4, 4);
        const bool nan = _mm512_cmp_ps_mask(lo, lo, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(hi, hi, _CMP_UNORD_Q);
        xd[(t * subs + s) * kTile + mm] = act_q8_scale(amax, nan);
      }
    }
  });
}

// The first `rows` of the 16 weight rows stored at `strip` as int8 levels,
// natural order, row stride K, and their scales ws[row][sub-block]; the
// rest (past the matrix) zero.
template <int kBits, int kSubs>
void unpack_strip(const Layout& L, const uint8_t* strip, int64_t rows, int8_t* lv, float* ws) {
  const __m256i table = level_table(L);
  const int64_t K = L.cols, subs = K / kSub, groups = L.groups_per_row();
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  for (int i = 0; i < kTile; ++i) {
    int8_t* out = lv + i * K;
    float* sc = ws + i * subs;
    if (i >= rows) {
      std::memset(out, 0, size_t(K));
      std::fill(sc, sc + subs, 0.f);
      continue;
    }
    const uint8_t* g = strip + i * L.row_bytes();
    for (int64_t gi = 0; gi < groups; ++gi, g += gb) {
      const float d = load_scale(g);
      for (int k = 0; k < kSubs; ++k) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (gi * kSubs + k) * kSub),
                            sub_levels<kBits>(g + 2 + k * sb, table));
        sc[gi * kSubs + k] = d;
      }
    }
  }
}

using UnpackFn = void (*)(const Layout&, const uint8_t*, int64_t, int8_t*, float*);
UnpackFn unpack_for(const Layout& L) {
  return with_layout(L, [](auto bits, auto subs) -> UnpackFn { return &unpack_strip<bits(), subs()>; });
}

// The strip's levels: sub-block s of row i at a + i * stride + s * step.
struct Strip {
  const int8_t* a;
  int64_t stride, step;
};

// Y rows [16 t, 16 t + 16) x columns [n0, n0 + 16) from the strip: per
// sub-block one TDPBSSD, then acc[i] (weight row i; lanes = activations)
// += int32 sums * x scales * the row's weight scale.
void tile_product(Strip st, const float* ws, const int8_t* xq, const float* xd, int64_t t, int64_t subs,
                  int64_t n0, int64_t N, int64_t R, const float* bias, float* Y) {
  alignas(64) int32_t c[kTile * kTile];
  __m512 acc[kTile];
  for (int i = 0; i < kTile; ++i) acc[i] = _mm512_setzero_ps();
  const int8_t* bt = xq + t * subs * kBlockBytes;
  const float* dt = xd + t * subs * kTile;
  auto scale_add = [&](int64_t s) {  // acc += the sums in c, scaled for sub-block s
    const __m512 dx = _mm512_loadu_ps(dt + s * kTile);
#pragma GCC unroll 16
    for (int i = 0; i < kTile; ++i) {
      const __m512 v = _mm512_cvtepi32_ps(_mm512_load_si512(c + i * kTile));
      acc[i] = _mm512_fmadd_ps(v, _mm512_mul_ps(dx, _mm512_set1_ps(ws[i * subs + s])), acc[i]);
    }
  };
  // Sub-block s in tiles 0/2/4 (even) or 1/3/5 (odd); the next one's
  // product is issued before this one's sums are read back.
  _tile_zero(0);
  _tile_loadd(2, st.a, st.stride);
  _tile_loadd(4, bt, 64);
  _tile_dpbssd(0, 2, 4);
  for (int64_t s = 0; s < subs; s += 2) {
    if (s + 1 < subs) {
      _tile_zero(1);
      _tile_loadd(3, st.a + (s + 1) * st.step, st.stride);
      _tile_loadd(5, bt + (s + 1) * kBlockBytes, 64);
      _tile_dpbssd(1, 3, 5);
    }
    _tile_stored(0, c, 64);
    scale_add(s);
    if (s + 2 < subs) {
      _tile_zero(0);
      _tile_loadd(2, st.a + (s + 2) * st.step, st.stride);
      _tile_loadd(4, bt + (s + 2) * kBlockBytes, 64);
      _tile_dpbssd(0, 2, 4);
    }
    if (s + 1 < subs) {
      _tile_stored(1, c, 64);
      scale_add(s + 1);
    }
  }
  rbe::kernels::transpose16(acc);  // acc[mm]: activation row mm, lanes = weight rows
  const int64_t nn = std::min<int64_t>(kTile, R - n0), mrows = std::min<int64_t>(kTile, N - t * kTile);
  const __mmask16 mask = __mmask16((1u << nn) - 1);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + n0) : _mm512_setzero_ps();
  for (int64_t mm = 0; mm < mrows; ++mm)
    _mm512_mask_storeu_ps(Y + (t * kTile + mm) * R + n0, mask, _mm512_add_ps(acc[mm], b));
}

// ---- bf16 tiles ----------------------------------------------------------
// Weights unpacked to level * scale in bf16 and activations converted to
// bf16; TDPBF16PS sums in f32 over the whole row, so no per-32-block
// scaling between tile products (the int8 kernel's main cost).

// The first `rows` of the 32 weight rows stored at `strip` as bf16
// level * scale in tile order: 32-block s of row i at wb + (s * 32 + i) * 32,
// so that each A tile is 1 KiB in one piece and the strip is read front to
// back; the rest (past the matrix) zero.
template <int kBits, int kSubs>
void unpack_strip_bf16(const Layout& L, const uint8_t* strip, int64_t rows, uint16_t* wb) {
  const __m256i table = level_table(L);
  const int64_t K = L.cols, groups = L.groups_per_row();
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  const int64_t steps = K / kSub;
  for (int i = 0; i < kStripRows; ++i) {
    uint16_t* out = wb + i * kSub;  // block s at out + s * kStripRows * kSub
    if (i >= rows) {
      for (int64_t s = 0; s < steps; ++s) std::memset(out + s * kStripRows * kSub, 0, kSub * 2);
      continue;
    }
    const uint8_t* g = strip + i * L.row_bytes();
    for (int64_t gi = 0; gi < groups; ++gi, g += gb) {
      const __m512 d = _mm512_set1_ps(load_scale(g));
      for (int k = 0; k < kSubs; ++k) {
        const __m256i lv = sub_levels<kBits>(g + 2 + k * sb, table);
        const __m512 lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(lv))), d);
        const __m512 hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(lv, 1))), d);
        _mm512_store_si512(out + (gi * kSubs + k) * kStripRows * kSub, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
      }
    }
  }
}

using UnpackBf16Fn = void (*)(const Layout&, const uint8_t*, int64_t, uint16_t*);
UnpackBf16Fn unpack_bf16_for(const Layout& L) {
  return with_layout(L, [](auto bits, auto subs) -> UnpackBf16Fn { return &unpack_strip_bf16<bits(), subs()>; });
}

// X in bf16: held by the calling thread across its parallel loops, so taken
// through a ScratchLease (aligned_buffer.h). A strip of weights: only inside
// a task body, which never waits, so the thread's own.
thread_local rbe::kernels::AlignedBuffer tls_xb, tls_wb;

}  // namespace

void gemm_amx_bf16(const Layout& L, const uint8_t* data, int64_t N, const float* X, const float* bias, float* Y,
                   const RandomizedHadamard* rot) {
  const int64_t K = L.cols, R = L.rows, steps = K / kSub;
  if (N <= 0 || R <= 0) return;
  // At most 2048 rows of X at a time: bounds its bf16 copy, which the thread
  // keeps (12 MiB at K = 3072; an evaluation's 8 x 1024 rows would need 48).
  constexpr int64_t kMaxRows = 2048;
  if (N > kMaxRows) {
    for (int64_t n0 = 0; n0 < N; n0 += kMaxRows)
      gemm_amx_bf16(L, data, std::min(kMaxRows, N - n0), X + n0 * K, bias, Y + n0 * R, rot);
    return;
  }
  const int64_t mtiles = (N + kTile - 1) / kTile, strips = (R + kStripRows - 1) / kStripRows;
  rbe::kernels::ScratchLease xlease(tls_xb);
  auto* xb = static_cast<uint16_t*>(xlease->bytes(size_t(mtiles * steps * kPairBlock) * 2));
  if (rot) {
    rbe::kernels::activations_bf16_from_rows(
        N, K,
        [&](int64_t m, float* dst) {
          std::memcpy(dst, X + m * K, size_t(K) * sizeof(float));
          rot->forward(dst);
        },
        1, &xb);
  } else {
    rbe::kernels::activations_bf16(X, K, N, K, 1, &xb);
  }
  const UnpackBf16Fn unpack = unpack_bf16_for(L);
  // Each task unpacks a strip of 32 weight rows once and runs it against
  // every pair of activation tiles.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, strips, 1), [&](const tbb::blocked_range<int64_t>& r) {
    auto* wb = static_cast<uint16_t*>(tls_wb.bytes(size_t(kStripRows * K) * 2));
    rbe::kernels::load_tile_config_bf16();
    for (int64_t st = r.begin(); st < r.end(); ++st) {
      const int64_t n0 = st * kStripRows, nr = std::min<int64_t>(kStripRows, R - n0);
      unpack(L, data + n0 * L.row_bytes(), nr, wb);
      for (int64_t t = 0; t < mtiles; t += 2)
        rbe::kernels::strip_product<1>(wb, &xb, t, t + 1 < mtiles, steps, n0, N, R, R, bias, 0.f, Y);
    }
    _tile_release();
  });
}

void gemm_amx(const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias, float* Y) {
  const int64_t K = L.cols, R = L.rows, subs = K / kSub;
  if (N <= 0 || R <= 0) return;
  const int64_t mtiles = (N + kTile - 1) / kTile, ntiles = (R + kTile - 1) / kTile;
  std::vector<int8_t> xq(size_t(mtiles * subs * kBlockBytes), 0);
  std::vector<float> xd(size_t(mtiles * subs * kTile), 0.f);
  quantize_activations(X, N, K, xq.data(), xd.data());
  const UnpackFn unpack = unpack_for(L);
  const bool direct = L.kind == Kind::Q8_0;
  // Each task unpacks a strip of 16 weight rows once and runs it against
  // every activation tile; tiles are per thread, so each task loads the
  // configuration it uses.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, ntiles, 1), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<int8_t> lv(size_t(kTile * K));
    std::vector<float> ws(size_t(kTile * subs));
    std::vector<uint8_t> rows(w.in_place() ? 0 : size_t(kTile * L.row_bytes()));
    load_tile_config();
    for (int64_t nt = r.begin(); nt < r.end(); ++nt) {
      const int64_t n0 = nt * kTile, nr = std::min<int64_t>(kTile, R - n0);
      const uint8_t* strip = w.rows(L, n0, n0 + nr, rows.data());
      Strip st{lv.data(), K, kSub};
      if (direct && nr == kTile) {  // q8_0 codes are the levels: tiles load them in place
        st = Strip{reinterpret_cast<const int8_t*>(strip + 2), L.row_bytes(), L.group_bytes()};
        for (int i = 0; i < kTile; ++i)
          for (int64_t s = 0; s < subs; ++s)
            ws[size_t(i * subs + s)] = load_scale(strip + i * L.row_bytes() + s * L.group_bytes());
      } else {
        unpack(L, strip, nr, lv.data(), ws.data());
      }
      for (int64_t t = 0; t < mtiles; ++t) tile_product(st, ws.data(), xq.data(), xd.data(), t, subs, n0, N, R, bias, Y);
    }
    _tile_release();
  });
}

#endif

}  // namespace rbe::codec::fixed
