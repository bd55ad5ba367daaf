// AVX-512 VNNI kernel of InterleavedRows (fixed_interleaved.h): sixteen rows
// per VPDPBUSD, one row a lane. Compiled with -mavx512f/bw/vl/dq; run only
// where fixed_kernels.cpp's check found VNNI, BITALG, VBMI and GFNI.
#include <immintrin.h>

// GCC 12's broadcast / cvtph intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "codec/fixed_interleaved.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/fixed_simd.h"
#include "tensor/kernels/stream_rows.h"

namespace rbe::codec::fixed {
namespace {

#pragma GCC push_options
#pragma GCC target("avx512vnni,avx512bitalg,avx512vbmi,gfni")

// Blocks are read as kStreams sequential streams at once (blocks i, h + i,
// 2h + i, 3h + i of a thread's range), each prefetched kAhead bytes ahead
// into L2, as the stored layout's kernel reads rows: from L3 or memory, one
// stream kept too few lines in flight (q4_0 3072x768 from memory, one
// thread: 0.11 ms against 0.09 for the stored layout's four streams,
// though 3x faster in L2; docs/performance.md).
constexpr int64_t kAhead = 1024;

// The sums of S blocks for M inputs. kBits 2, 3 or 4 (codes through the
// table, level + 128; kRaw: q4_0's codes as they are, level + 8) or 8 (q8_0:
// level + 128 by flipping the sign bit); kSubs 32-column sub-blocks per
// scale. Per sub-block the integer sums start at corr and take four bytes of
// x per VPDPBUSD (broadcast to the 16 rows); the low nibbles of chunk c are
// columns 4c..4c+3, the high ones 16 + 4c.., and 8-bit chunk c is columns
// 4c..4c+3. Two integer chains (exact, so their order does not matter) and
// one f32 accumulator per block and input: the same operations in the same
// order for every M and S, so each input's rows are bit for bit its matvec's
// however the blocks are grouped.
template <int kBits, int kSubs, bool kRaw, int M, int S>
inline void block_sums(const Layout& L, const uint8_t* const* blk, const ActQ8Blocks* x, __m512i table,
                       __m512 (&acc)[S][M]) {
  constexpr int kChunks = kBits;  // 4-byte chunks per stored sub-block: 32 * bits / 8 / 4
  const __m512i lo_field = _mm512_set1_epi64(field_matrix(0, 4)), hi_field = _mm512_set1_epi64(field_matrix(4, 4));
  const int64_t groups = L.groups_per_row(), codes_bytes = interleaved_codes_bytes(L);
  for (int s = 0; s < S; ++s)
    for (int m = 0; m < M; ++m) acc[s][m] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 sv[S];
    for (int s = 0; s < S; ++s)
      sv[s] = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(blk[s] + codes_bytes + 32 * g)));
#pragma GCC unroll 2
    for (int k = 0; k < kSubs; ++k) {
      const int64_t sub = g * kSubs + k;
      const int64_t off = sub * kChunks * 64;
      const int32_t* xq[M];
      for (int m = 0; m < M; ++m) xq[m] = reinterpret_cast<const int32_t*>(x[m].q + 32 * sub);
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) {
        __m512i lo[M], hi[M];
        for (int m = 0; m < M; ++m) lo[m] = _mm512_set1_epi32(x[m].corr[sub]), hi[m] = _mm512_setzero_si512();
        if constexpr (kBits <= 3) {
          // Chunks 0 and 1: four 2-bit fields per byte, field k of chunk c
          // being columns 4c + 8k.. (x's quad c + 2k); 3 bits: chunk 2 holds
          // each row's word of third bits, bit n for column n.
          __m512i third = _mm512_setzero_si512();
          if constexpr (kBits == 3) {
            const uint8_t* p = blk[s] + off + 128;
            _mm_prefetch(reinterpret_cast<const char*>(p) + kAhead, _MM_HINT_T1);
            third = _mm512_load_si512(p);
          }
#pragma GCC unroll 2
          for (int c = 0; c < 2; ++c) {
            const uint8_t* p = blk[s] + off + 64 * c;
            _mm_prefetch(reinterpret_cast<const char*>(p) + kAhead, _MM_HINT_T1);
            const __m512i v = _mm512_load_si512(p);
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
              __m512i code = _mm512_gf2p8affine_epi64_epi8(v, _mm512_set1_epi64(field_matrix(2 * k, 2)), 0);
              if constexpr (kBits == 3) {
                const __mmask64 set =
                    _mm512_bitshuffle_epi64_mask(third, _mm512_set1_epi64(third_bit_ctrl(c + 2 * k)));
                code = _mm512_mask_add_epi8(code, set, code, _mm512_set1_epi8(4));
              }
              code = _mm512_shuffle_epi8(table, code);
              for (int m = 0; m < M; ++m) {
                __m512i& sum = k % 2 == 0 ? lo[m] : hi[m];
                sum = _mm512_dpbusd_epi32(sum, code, _mm512_set1_epi32(xq[m][c + 2 * k]));
              }
            }
          }
        }
#pragma GCC unroll 8
        for (int c = 0; c < (kBits >= 4 ? kChunks : 0); ++c) {  // 4 and 8 bits
          const uint8_t* p = blk[s] + off + 64 * c;
          _mm_prefetch(reinterpret_cast<const char*>(p) + kAhead, _MM_HINT_T1);
          const __m512i v = _mm512_load_si512(p);
          if constexpr (kBits == 4) {
            __m512i a = _mm512_gf2p8affine_epi64_epi8(v, lo_field, 0),
                    h = _mm512_gf2p8affine_epi64_epi8(v, hi_field, 0);
            if constexpr (!kRaw) a = _mm512_shuffle_epi8(table, a), h = _mm512_shuffle_epi8(table, h);
            for (int m = 0; m < M; ++m) {
              lo[m] = _mm512_dpbusd_epi32(lo[m], a, _mm512_set1_epi32(xq[m][c]));
              hi[m] = _mm512_dpbusd_epi32(hi[m], h, _mm512_set1_epi32(xq[m][4 + c]));
            }
          } else {
            const __m512i u = _mm512_xor_si512(v, _mm512_set1_epi8(int8_t(0x80)));
            for (int m = 0; m < M; ++m) {
              __m512i& sum = c % 2 == 0 ? lo[m] : hi[m];
              sum = _mm512_dpbusd_epi32(sum, u, _mm512_set1_epi32(xq[m][c]));
            }
          }
        }
        for (int m = 0; m < M; ++m) {
          const __m512 t = _mm512_cvtepi32_ps(_mm512_add_epi32(lo[m], hi[m]));
          acc[s][m] = _mm512_fmadd_ps(t, _mm512_mul_ps(sv[s], _mm512_set1_ps(x[m].d[sub])), acc[s][m]);
        }
      }
    }
  }
}

// Block b's rows of Y (+ bias); rows past L.rows are not written.
template <int M>
inline void store_block(const Layout& L, int64_t b, const __m512 (&acc)[M], const float* bias, float* Y,
                        int64_t ldy) {
  const int64_t r0 = b * kInterleave;
  const int64_t n = L.rows - r0 < kInterleave ? L.rows - r0 : kInterleave;
  const __mmask16 rows = __mmask16((1u << n) - 1);
  const __m512 bv = bias ? _mm512_maskz_loadu_ps(rows, bias + r0) : _mm512_setzero_ps();
  for (int m = 0; m < M; ++m) _mm512_mask_storeu_ps(Y + m * ldy + r0, rows, _mm512_add_ps(acc[m], bv));
}

template <int kBits, int kSubs, bool kRaw, int M>
void blocks_t(const Layout& L, const uint8_t* copy, int64_t b0, int64_t b1, const ActQ8Blocks* x, const float* bias,
              float* Y, int64_t ldy) {
  const std::array<uint8_t, 16> levels = unsigned_levels(L);  // level + 128, in every 128-bit lane below
  const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(levels.data())));
  constexpr int kStreams = M == 1 ? 4 : 2;  // several inputs: their sums fill the registers
  const int64_t stride = interleaved_stride(L), h = kernels::stream_rows(b1 - b0, kStreams, stride);
  if (h > 0)
    for (int s = 0; s < kStreams; ++s) {
      const char* q = reinterpret_cast<const char*>(copy + (b0 + s * h) * stride);
      for (int64_t i = 0; i < kAhead; i += 64) _mm_prefetch(q + i, _MM_HINT_T1);
    }
  for (int64_t i = 0; i < h; ++i) {
    const uint8_t* blk[kStreams];
    for (int s = 0; s < kStreams; ++s) blk[s] = copy + (b0 + s * h + i) * stride;
    __m512 acc[kStreams][M];
    block_sums<kBits, kSubs, kRaw, M, kStreams>(L, blk, x, table, acc);
    for (int s = 0; s < kStreams; ++s) store_block<M>(L, b0 + s * h + i, acc[s], bias, Y, ldy);
  }
  for (int64_t b = b0 + kStreams * h; b < b1; ++b) {
    const uint8_t* blk[1] = {copy + b * stride};
    __m512 acc[1][M];
    block_sums<kBits, kSubs, kRaw, M, 1>(L, blk, x, table, acc);
    store_block<M>(L, b, acc[0], bias, Y, ldy);
  }
}

template <int M>
void blocks_m(const Layout& L, const uint8_t* copy, int64_t b0, int64_t b1, const ActQ8Blocks* x, const float* bias,
              float* Y, int64_t ldy) {
  if (L.kind == Kind::Q4_0) return blocks_t<4, 1, true, M>(L, copy, b0, b1, x, bias, Y, ldy);
  with_layout(L, [&](auto bits, auto subs) { blocks_t<bits(), subs(), false, M>(L, copy, b0, b1, x, bias, Y, ldy); });
}

void blocks(const Layout& L, const uint8_t* copy, int64_t b0, int64_t b1, const ActQ8Blocks* x, int M,
            const float* bias, float* Y, int64_t ldy) {
  with_inputs(M, [&](auto m) { blocks_m<m()>(L, copy, b0, b1, x, bias, Y, ldy); });
}

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512vnni,avx512bitalg,avx512vbmi,gfni,avx512bf16")

// Word 2n of the result: word n of v (bf16 of lane n's first value); word
// 2n + 1: word 16 + n (its second).
inline __m512i interleave_pairs(__m512i v) {
  alignas(64) static constexpr std::array<int16_t, 32> idx = [] {
    std::array<int16_t, 32> a{};
    for (int n = 0; n < 16; ++n) a[size_t(2 * n)] = int16_t(n), a[size_t(2 * n + 1)] = int16_t(16 + n);
    return a;
  }();
  return _mm512_permutexvar_epi16(_mm512_load_si512(idx.data()), v);
}

// Four columns of the 16 rows (lane n: row n's four int8 levels) times the
// rows' scales, in bf16, as two vectors of pairs: out[n] = columns 0, 1 of
// row n, out[pair_stride + n] = columns 2, 3.
inline void quad_pairs(__m512i q, __m512 scale, uint32_t* out, int64_t pair_stride) {
  __m512 f[4];
  for (int j = 0; j < 4; ++j) {
    const __m512i l = _mm512_srai_epi32(_mm512_slli_epi32(q, 24 - 8 * j), 24);  // byte j, sign-extended
    f[j] = _mm512_mul_ps(_mm512_cvtepi32_ps(l), scale);
  }
  _mm512_store_si512(out, interleave_pairs((__m512i)_mm512_cvtne2ps_pbh(f[1], f[0])));
  _mm512_store_si512(out + pair_stride, interleave_pairs((__m512i)_mm512_cvtne2ps_pbh(f[3], f[2])));
}

// kInterleavedBf16Panel (fixed_kernels_internal.h): the chunks decoded as
// block_sums decodes them, to signed levels; quad c of sub-block s is pairs
// 16 s + 2 c and + 1.
template <int kBits, int kSubs>
void block_panel(const Layout& L, const uint8_t* blk, __m512i table, uint32_t* out, int64_t pair_stride) {
  constexpr int kChunks = kBits;
  const __m512i lo_field = _mm512_set1_epi64(field_matrix(0, 4)), hi_field = _mm512_set1_epi64(field_matrix(4, 4));
  const int64_t groups = L.groups_per_row(), codes_bytes = interleaved_codes_bytes(L);
  for (int64_t g = 0; g < groups; ++g) {
    const __m512 sv =
        _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(blk + codes_bytes + 32 * g)));
    for (int k = 0; k < kSubs; ++k) {
      const int64_t sub = g * kSubs + k;
      const uint8_t* p = blk + sub * kChunks * 64;
      auto quad = [&](int c, __m512i levels) {
        quad_pairs(levels, sv, out + (16 * sub + 2 * c) * pair_stride, pair_stride);
      };
      if constexpr (kBits == 8) {
        for (int c = 0; c < 8; ++c) quad(c, _mm512_load_si512(p + 64 * c));
      } else if constexpr (kBits == 4) {
        for (int c = 0; c < 4; ++c) {
          const __m512i v = _mm512_load_si512(p + 64 * c);
          quad(c, _mm512_shuffle_epi8(table, _mm512_gf2p8affine_epi64_epi8(v, lo_field, 0)));
          quad(4 + c, _mm512_shuffle_epi8(table, _mm512_gf2p8affine_epi64_epi8(v, hi_field, 0)));
        }
      } else {  // 2 and 3 bits: field j of chunk c is columns 4c + 8j..; chunk 2 the third bits
        const __m512i third = kBits == 3 ? _mm512_load_si512(p + 128) : _mm512_setzero_si512();
        for (int c = 0; c < 2; ++c) {
          const __m512i v = _mm512_load_si512(p + 64 * c);
          for (int j = 0; j < 4; ++j) {
            __m512i code = _mm512_gf2p8affine_epi64_epi8(v, _mm512_set1_epi64(field_matrix(2 * j, 2)), 0);
            if constexpr (kBits == 3) {
              const __mmask64 set = _mm512_bitshuffle_epi64_mask(third, _mm512_set1_epi64(third_bit_ctrl(c + 2 * j)));
              code = _mm512_mask_add_epi8(code, set, code, _mm512_set1_epi8(4));
            }
            quad(c + 2 * j, _mm512_shuffle_epi8(table, code));
          }
        }
      }
    }
  }
}

void bf16_panel(const Layout& L, const uint8_t* blk, uint32_t* out, int64_t pair_stride) {
  // Signed levels (q8_0's codes are its levels, no table).
  const __m512i table = _mm512_broadcast_i32x4(_mm256_castsi256_si128(level_table(L)));
  with_layout(L, [&](auto bits, auto subs) { block_panel<bits(), subs()>(L, blk, table, out, pair_stride); });
}

#pragma GCC pop_options

// kInterleavedStoredRows: a group's chunks, four at a time (the last quad
// of the 3-bit forms and of 2-bit groups of 32 short, its missing chunks
// zero and not stored), transposed in registers (per 128-bit lane, rows
// 4l..4l+3 of four chunks become four rows' 16 bytes) and stored row by row
// with masked stores.
void stored_block(const Layout& L, const uint8_t* blk, int64_t nrows, int64_t g0, int64_t g1, uint8_t* out,
                  int64_t rb) {
  const int64_t gb = L.group_bytes(), chunks = (gb - 2) / 4;
  const uint8_t* scales = blk + interleaved_codes_bytes(L);
  for (int64_t g = g0; g < g1; ++g) {
    uint8_t* o = out + (g - g0) * gb;
    for (int64_t i = 0; i < nrows; ++i) std::memcpy(o + i * rb, scales + 32 * g + 2 * i, 2);
    for (int64_t q = 0; q < chunks; q += 4) {
      const int64_t m = std::min<int64_t>(4, chunks - q);  // chunks in this quad
      const uint8_t* c = blk + (g * chunks + q) * 64;
      auto chunk = [&](int64_t k) { return k < m ? _mm512_load_si512(c + 64 * k) : _mm512_setzero_si512(); };
      const __m512i v0 = chunk(0), v1 = chunk(1), v2 = chunk(2), v3 = chunk(3);
      const __m512i t0 = _mm512_unpacklo_epi32(v0, v1), t1 = _mm512_unpackhi_epi32(v0, v1),
                    t2 = _mm512_unpacklo_epi32(v2, v3), t3 = _mm512_unpackhi_epi32(v2, v3);
      // u[k], 128-bit lane l: row 4l + k's bytes 4q .. 4q + 15 of the group's codes
      const __m512i u[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                            _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
      for (int64_t l = 0; l < 4; ++l)
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t i = 4 * l + k;
          // Lane l to row i: the store's base 16 l bytes back (still inside
          // `out`: i rows of at least a group, 18 bytes, come before), lanes masked.
          if (i < nrows)
            _mm512_mask_storeu_epi32(o + i * rb + 2 + 4 * q - 16 * l, __mmask16(((1u << m) - 1) << (4 * l)), u[k]);
        }
    }
  }
}

// prep_q8's arithmetic (fixed_kernels_avx512.cpp), 32 values a step: max|x|
// over the values that are numbers, levels x * (127 / max) clamped to
// +-127 and rounded to nearest even (VCVTPS2DQ in the default rounding mode,
// as std::nearbyint), 0 where x * inv is NaN.
void prep(const float* x, int64_t nsub, int offset, int8_t* q, float* d, int32_t* corr) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t s = 0; s < nsub; ++s) {
    const __m512 a = _mm512_loadu_ps(x + 32 * s), b = _mm512_loadu_ps(x + 32 * s + 16);
    const __mmask16 na = _mm512_cmp_ps_mask(a, a, _CMP_ORD_Q), nb = _mm512_cmp_ps_mask(b, b, _CMP_ORD_Q);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_maskz_and_ps(na, a, abs_mask),
                                                          _mm512_maskz_and_ps(nb, b, abs_mask)));
    const bool nan = (na & nb) != 0xffff;
    const __m512 inv = _mm512_set1_ps(act_q8_inv(amax)), hi = _mm512_set1_ps(127.f), lo = _mm512_set1_ps(-127.f);
    __m512i sum = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_mul_ps(h ? b : a, inv);
      const __mmask16 num = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
      const __m512i l = _mm512_maskz_cvtps_epi32(num, _mm512_max_ps(_mm512_min_ps(v, hi), lo));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * s + 16 * h), _mm512_cvtepi32_epi8(l));
      sum = _mm512_add_epi32(sum, l);
    }
    d[s] = act_q8_scale(amax, nan);
    corr[s] = -offset * _mm512_reduce_add_epi32(sum);
  }
}

}  // namespace

const InterleavedQ8Fn kInterleavedVnni = &blocks;
const InterleavedPrepFn kInterleavedPrepAvx512 = &prep;
const InterleavedBf16PanelFn kInterleavedBf16Panel = &bf16_panel;
const InterleavedStoredRowsFn kInterleavedStoredRows = &stored_block;

}  // namespace rbe::codec::fixed
