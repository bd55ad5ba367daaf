// AMX int8 product of a fixed-rate matrix with a batch of activation rows
// (fixed_gemm_amx.h). Compiled with AVX-512 and AMX flags where the compiler
// has them (files *_amx.cpp, engine/CMakeLists.txt); run only where
// amx_gemm_available() says so. Without the flags this file builds the
// "not available" answer alone.
#include "codec/fixed_gemm_amx.h"

#include <cstdlib>
#include <cstring>

#if defined(__AMX_INT8__) && defined(__AMX_TILE__) && defined(__AVX512F__)
#include <cpuid.h>
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <sys/syscall.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "codec/fixed_simd.h"
#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/transpose_avx512.h"
#define RBE_FIXED_AMX 1
#endif

namespace rbe::codec::fixed {

#ifndef RBE_FIXED_AMX

bool amx_gemm_available() { return false; }
void gemm_amx(const Layout&, const uint8_t*, int64_t, const float*, const float*, float*) {
  std::abort();  // unreachable: callers ask amx_gemm_available() first
}

#else

namespace {

constexpr int kTile = 16;       // weight rows and activation rows per tile
constexpr int kBlockBytes = 512;  // one B tile: 8 rows x (16 activations x 4 int8)

bool cpu_has_amx_int8() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d >> 24 & 1) && (d >> 25 & 1);  // AMX-TILE, AMX-INT8
}

// Linux hands out the 8 KiB tile state only on request (arch_prctl, 5.16+).
bool os_grants_tiles() {
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

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
        const __m512 inv = _mm512_set1_ps(amax > 0 ? 127.f / amax : 0.f);
        // cvtps rounds to nearest even (the default MXCSR mode), as nearbyint.
        alignas(32) int8_t q[kSub];
        _mm_store_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(lo, inv))));
        _mm_store_si128(reinterpret_cast<__m128i*>(q + 16),
                        _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(hi, inv))));
        int8_t* blk = xq + (t * subs + s) * kBlockBytes + mm * 4;
        for (int k4 = 0; k4 < kSub / 4; ++k4) std::memcpy(blk + k4 * 64, q + 4 * k4, 4);
        xd[(t * subs + s) * kTile + mm] = amax / 127.f;
      }
    }
  });
}

// Weight rows [n0, n0 + 16) as int8 levels, natural order, row stride K, and
// their scales ws[row][sub-block]; rows past the matrix are zero.
template <int kBits, int kSubs>
void unpack_strip(const Layout& L, const uint8_t* data, int64_t n0, int8_t* lv, float* ws) {
  const __m256i table = level_table(L);
  const int64_t K = L.cols, subs = K / kSub, groups = L.groups_per_row();
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  for (int i = 0; i < kTile; ++i) {
    int8_t* out = lv + i * K;
    float* sc = ws + i * subs;
    if (n0 + i >= L.rows) {
      std::memset(out, 0, size_t(K));
      std::fill(sc, sc + subs, 0.f);
      continue;
    }
    const uint8_t* g = data + (n0 + i) * L.row_bytes();
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
  const bool g64 = L.group == 64;
  switch (L.bits) {
    case 8: return &unpack_strip<8, 1>;
    case 4: return g64 ? &unpack_strip<4, 2> : &unpack_strip<4, 1>;
    case 3: return g64 ? &unpack_strip<3, 2> : &unpack_strip<3, 1>;
    default: return g64 ? &unpack_strip<2, 2> : &unpack_strip<2, 1>;
  }
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

bool check_available() {
  if (const char* env = std::getenv("RBE_FIXED_GEMM"); env && std::strcmp(env, "sgemm") == 0) return false;
  return rbe::kernels::cpu_has_avx512() && cpu_has_amx_int8() && os_grants_tiles();
}

}  // namespace

bool amx_gemm_available() {
  static const bool ok = check_available();
  return ok;
}

void gemm_amx(const Layout& L, const uint8_t* data, int64_t N, const float* X, const float* bias, float* Y) {
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
    load_tile_config();
    for (int64_t nt = r.begin(); nt < r.end(); ++nt) {
      const int64_t n0 = nt * kTile;
      Strip st{lv.data(), K, kSub};
      if (direct && n0 + kTile <= R) {  // q8_0 codes are the levels: tiles load them in place
        st = Strip{reinterpret_cast<const int8_t*>(data + n0 * L.row_bytes() + 2), L.row_bytes(), L.group_bytes()};
        for (int i = 0; i < kTile; ++i)
          for (int64_t s = 0; s < subs; ++s) ws[size_t(i * subs + s)] = load_scale(data + (n0 + i) * L.row_bytes() + s * L.group_bytes());
      } else {
        unpack(L, data, n0, lv.data(), ws.data());
      }
      for (int64_t t = 0; t < mtiles; ++t) tile_product(st, ws.data(), xq.data(), xd.data(), t, subs, n0, N, R, bias, Y);
    }
    _tile_release();
  });
}

#endif

}  // namespace rbe::codec::fixed
