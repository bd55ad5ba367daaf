// AVX-512 row kernels of the fixed-rate forms (compiled with -mavx512f/bw/vl/dq;
// run only where fixed_kernels.cpp's start-up check found those features, and
// the VNNI kernel only where avx512vnni, bitalg, vbmi and gfni are present).
#include <immintrin.h>

// GCC 12's broadcast / cvtph intrinsics trip these warnings on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "codec/fixed_kernels_internal.h"
#include "codec/fixed_simd.h"
#include "tensor/kernels/stream_rows.h"

namespace rbe::codec::fixed {
namespace {

// ---- f32 FMA on unpacked levels: per sub-block 2 x (16 int8 -> 16 f32) ----
template <int kBits, int kSubs>
void rows_f32_t(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const float* x, const float* bias,
                float* y) {
  const __m256i table = level_table(L);
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  const int64_t groups = L.groups_per_row();
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* g = data + r * L.row_bytes();
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    const float* xs = x;
    for (int64_t gi = 0; gi < groups; ++gi, g += gb) {
      __m512 t = _mm512_setzero_ps();
      for (int k = 0; k < kSubs; ++k, xs += kSub) {
        const __m256i w = sub_levels<kBits>(g + 2 + k * sb, table);
        t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(w))), _mm512_loadu_ps(xs), t);
        t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(w, 1))),
                            _mm512_loadu_ps(xs + 16), t);
      }
      if (gi & 1) acc1 = _mm512_fmadd_ps(t, _mm512_set1_ps(load_scale(g)), acc1);
      else acc0 = _mm512_fmadd_ps(t, _mm512_set1_ps(load_scale(g)), acc0);
    }
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + (bias ? bias[r] : 0.f);
  }
}

void rows_f32(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const float* x, const float* bias,
              float* y) {
  with_layout(L, [&](auto bits, auto subs) { rows_f32_t<bits(), subs()>(L, data, r0, r1, x, bias, y); });
}

// ---- int8 x int8 (VPDPBUSD), 64 weights (a "pair" of sub-blocks) per step ----
// Codes are unpacked into 64 bytes in an order that is cheap for each width
// (pos_sub / pos_elem below); prep_q8 lays x out in the same order, so the
// weights are never shuffled back. Levels are fed as unsigned level + 128
// (q4_0: its codes, level + 8); the accumulator starts at -128 (-8) *
// sum(x lane), which cancels it exactly.

// Position p (0..63) of an unpacked pair -> sub-block (0 = A, 1 = B) and element.
constexpr int pos_sub(int bits, int p) { return bits == 8 ? p / 32 : bits == 4 ? (p / 16) % 2 : (p / 8) % 2; }
constexpr int pos_elem(int bits, int p) {
  return bits == 8 ? p % 32 : bits == 4 ? p % 16 + 16 * (p / 32) : p % 8 + 8 * (p / 16);
}
int64_t pairs_of(const Layout& L) { return (L.cols + 2 * kSub - 1) / (2 * kSub); }

void prep_q8(const Layout& L, const float* x, std::vector<uint8_t>& buf, ActQ8& out) {
  const int64_t pairs = pairs_of(L), nsub = L.cols / kSub;
  buf.resize(size_t(pairs * 192 + 64));
  uint8_t* base = buf.data() + ((64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64);
  int8_t* q = reinterpret_cast<int8_t*>(base);
  int32_t* neg = reinterpret_cast<int32_t*>(base + pairs * 64);
  float* xs = reinterpret_cast<float*>(base + pairs * 128);
  for (int64_t P = 0; P < pairs; ++P) {
    int8_t qs[2][kSub] = {};
    float d[2] = {0, 0};
    for (int s = 0; s < 2; ++s) {
      const int64_t sub = 2 * P + s;
      if (sub >= nsub) continue;
      const float* xb = x + sub * kSub;
      float amax = 0;
      bool nan = false;
      for (int i = 0; i < kSub; ++i) amax = std::max(amax, std::fabs(xb[i])), nan |= std::isnan(xb[i]);
      d[s] = act_q8_scale(amax, nan);
      const float inv = act_q8_inv(amax);
      // Levels of 0 where x * inv is not a number: converting NaN to an
      // integer is undefined behaviour.
      for (int i = 0; i < kSub; ++i) {
        const float v = xb[i] * inv;
        qs[s][i] = std::isnan(v) ? int8_t(0) : int8_t(std::nearbyint(std::clamp(v, -127.f, 127.f)));
      }
    }
    for (int p = 0; p < 64; ++p) q[P * 64 + p] = qs[pos_sub(L.bits, p)][pos_elem(L.bits, p)];
    for (int l = 0; l < 16; ++l) {
      int sum = 0;
      for (int t = 0; t < 4; ++t) sum += q[P * 64 + 4 * l + t];
      neg[P * 16 + l] = -code_offset(L) * sum;
      xs[P * 16 + l] = d[pos_sub(L.bits, 4 * l)];
    }
  }
  out = ActQ8{q, neg, xs, pairs};
}

#pragma GCC push_options
#pragma GCC target("avx512vnni,avx512bitalg,avx512vbmi,gfni")
#define RBE_VNNI __attribute__((target("avx512vnni,avx512bitalg,avx512vbmi,gfni")))
#ifdef __clang__  // clang does not apply the pragma to lambdas' call operators
#define RBE_VNNI_LAMBDA __attribute__((always_inline, target("avx512vnni,avx512bitalg,avx512vbmi,gfni")))
#else
#define RBE_VNNI_LAMBDA __attribute__((always_inline))
#endif

// GF2P8AFFINEQB with a field_matrix (fixed_simd.h) per 64-bit lane, so that
// lanes can take different fields.
RBE_VNNI inline __m512i bit_fields(__m512i v, int64_t m7, int64_t m6, int64_t m5, int64_t m4, int64_t m3, int64_t m2,
                                   int64_t m1, int64_t m0) {
  return _mm512_gf2p8affine_epi64_epi8(v, _mm512_set_epi64(m7, m6, m5, m4, m3, m2, m1, m0), 0);
}

// The 64 codes of sub-blocks A and B (bytes; for kBits = 8 the raw int8 levels).
// kAdjacent: B's codes follow A's (pB == pA + 16 at 4 bits: the two
// sub-blocks of one 64-weight group).
template <int kBits, bool kAdjacent = false>
RBE_VNNI inline __m512i unpack_pair(const uint8_t* pA, const uint8_t* pB, __m512i bit_ctrl) {
  if constexpr (kBits == 8) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pA))),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pB)), 1);
  } else if constexpr (kBits == 4 && kAdjacent) {
    // [A | B] loaded into both 256-bit halves at once, the upper half shifted
    // down 4 bits: the low nibbles below, the high ones above. Two vector
    // operations where the general case below takes five (rbe 4.25's
    // generation: 3.55-3.70 -> 3.13-3.23 ms/token, docs/performance.md).
    const __m512i w = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pA)));
    constexpr int64_t lo = field_matrix(0, 4), hi = field_matrix(4, 4);
    return bit_fields(w, hi, hi, hi, hi, lo, lo, lo, lo);
  } else if constexpr (kBits == 4) {
    const __m256i v = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pA))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(pB)), 1);
    constexpr int64_t lo = field_matrix(0, 4), hi = field_matrix(4, 4);
    return bit_fields(_mm512_broadcast_i64x4(v), hi, hi, hi, hi, lo, lo, lo, lo);
  } else {
    int64_t a, b;
    std::memcpy(&a, pA, 8);
    std::memcpy(&b, pB, 8);
    const __m512i v = _mm512_broadcast_i32x4(_mm_set_epi64x(b, a));
    constexpr int64_t f0 = field_matrix(0, 2), f2 = field_matrix(2, 2), f4 = field_matrix(4, 2),
                      f6 = field_matrix(6, 2);
    __m512i c = bit_fields(v, f6, f6, f4, f4, f2, f2, f0, f0);
    if constexpr (kBits == 3) {
      uint32_t ha, hb;
      std::memcpy(&ha, pA + 8, 4);
      std::memcpy(&hb, pB + 8, 4);
      const __mmask64 hi =
          _mm512_bitshuffle_epi64_mask(_mm512_set1_epi64(int64_t(uint64_t(ha) | uint64_t(hb) << 32)), bit_ctrl);
      c = _mm512_or_si512(c, _mm512_maskz_mov_epi8(hi, _mm512_set1_epi8(4)));
    }
    return c;
  }
}

// q4_0: byte permutations of a pair's 36 bytes (scale A, 16 bytes of codes A,
// scale B, codes B; a lone last group: its 18 bytes, the rest 0) put the
// codes as [A | B | A | B] (high nibbles in the upper half) and the scales in
// lanes as rows_q8_t's sctrl does: one masked load and two vpermb in place of
// two loads, two inserts, two scalar loads and a broadcast from a register.
// (vpermw did the same in 16% more cycles per pair on Emerald Rapids.)
struct Q4PairPermutes {
  alignas(64) int8_t codes[64];
  alignas(64) int8_t scales[64];
};
constexpr Q4PairPermutes kQ4Pair = [] {
  Q4PairPermutes t{};
  for (int b = 0; b < 64; ++b) t.codes[b] = int8_t(((b / 16) % 2 ? 20 : 2) + b % 16);
  for (int b = 0; b < 32; ++b) t.scales[b] = int8_t(((b / 8) % 2 ? 18 : 0) + b % 2);
  return t;
}();

// kRawCodes: the codes are the unsigned bytes themselves (q4_0, code = level
// + 8; prep_q8's neg cancels the 8), so no table lookup.
// M inputs at once (a batched decoding step; M = 1: the matvec): each pair
// of a row is loaded and unpacked once for all of them. Y[m * ldy + r]. A
// row's sums for input m are the same operations in the same order whatever
// M and the stream count, so every result is bit for bit the matvec's.
template <int kBits, int kGroup, bool kRawCodes, int M>
RBE_VNNI void rows_q8_t(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8* x,
                        const float* bias, float* Y, int64_t ldy) {
  const std::array<uint8_t, 16> levels = unsigned_levels(L);  // level + 128, in every 128-bit lane below
  const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(levels.data())));
  alignas(64) int8_t ctrl[64], sctrl[32];
  for (int p = 0; p < 64; ++p) ctrl[p] = int8_t(32 * pos_sub(kBits, p) + pos_elem(kBits, p));
  for (int l = 0; l < 16; ++l) {  // f16 scale of lane l's sub-block, from the pair (dA | dB << 16)
    sctrl[2 * l] = int8_t(2 * pos_sub(kBits, 4 * l));
    sctrl[2 * l + 1] = int8_t(2 * pos_sub(kBits, 4 * l) + 1);
  }
  const __m512i bit_ctrl = _mm512_load_si512(ctrl);
  const __m256i scale_ctrl = _mm256_load_si256(reinterpret_cast<const __m256i*>(sctrl));
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  const int64_t groups = L.groups_per_row(), pairs = x[0].pairs, row_bytes = L.row_bytes();
  // The scale vector and the codes (unsigned levels) of pair P of a row.
  constexpr int64_t lo = field_matrix(0, 4), hi = field_matrix(4, 4);  // q4_0's nibbles, low and high
  auto pair = [&](const uint8_t* row, int64_t P, __m512& sv) RBE_VNNI_LAMBDA {
    if constexpr (kRawCodes) {
      static_assert(kBits == 4 && kGroup == 32, "raw codes: q4_0");
      const __mmask64 bytes = 2 * P + 1 < groups ? (uint64_t(1) << 36) - 1 : (uint64_t(1) << 18) - 1;
      const __m512i v = _mm512_maskz_loadu_epi8(bytes, row + 2 * P * gb);
      sv = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi8(_mm512_load_si512(kQ4Pair.scales), v)));
      const __m512i c = _mm512_permutexvar_epi8(_mm512_load_si512(kQ4Pair.codes), v);
      return bit_fields(c, hi, hi, hi, hi, lo, lo, lo, lo);
    }
    const uint8_t *pA, *pB;
    if constexpr (kGroup == 64) {
      const uint8_t* g = row + P * gb;
      pA = g + 2, pB = g + 2 + sb;
      sv = _mm512_set1_ps(load_scale(g));
    } else {
      const uint8_t* gA = row + 2 * P * gb;
      const uint8_t* gB = 2 * P + 1 < groups ? gA + gb : gA;  // a lone last sub-block meets zero x
      pA = gA + 2, pB = gB + 2;
      uint16_t hA, hB;
      std::memcpy(&hA, gA, 2);
      std::memcpy(&hB, gB, 2);
      sv = _mm512_cvtph_ps(_mm256_shuffle_epi8(_mm256_set1_epi32(int(uint32_t(hA) | uint32_t(hB) << 16)), scale_ctrl));
    }
    const __m512i codes = unpack_pair<kBits, kGroup == 64>(pA, pB, bit_ctrl);
    return kBits == 8 ? _mm512_xor_si512(codes, _mm512_set1_epi8(int8_t(0x80))) : _mm512_shuffle_epi8(table, codes);
  };
  // Four interleaved row streams (rows i, h+i, 2h+i, 3h+i of the range), as
  // the dense GEMV does (tensor/kernels/gemv_avx512.cpp): the pairs share the
  // x loads, and each stream is prefetched kAhead bytes ahead into L2. One
  // sequential stream kept too few lines in flight on an Intel Xeon VM: 2.7x
  // slower for q4_0 (docs/performance.md). On the AMD machine the one-stream
  // kernel was tuned on, a software prefetch had bought nothing; the four
  // streams have not been measured there. Several inputs: two streams
  // (their sums fill the registers).
  constexpr int kStreams = M == 1 ? 4 : 2;
  constexpr int64_t kAhead = 1024;
  const int64_t pair_bytes = kGroup == 64 ? gb : 2 * gb;
  // out[s][m]: row s times input m.
  auto row_dots = [&](const uint8_t* const* rows, int n, float (*out)[M]) RBE_VNNI_LAMBDA {
    __m512 acc[kStreams][M][2];
    for (int s = 0; s < n; ++s)
      for (int m = 0; m < M; ++m) acc[s][m][0] = acc[s][m][1] = _mm512_setzero_ps();
    // Pair P into accumulator A of each row: even pairs into 0, odd into 1
    // (two chains), unrolled by two so that A is a constant, not a branch.
    auto step = [&](int64_t P, auto A) RBE_VNNI_LAMBDA {
      __m512i xneg[M], xq[M];  // each input's vectors, loaded once for the streams
      __m512 xs[M];
      for (int m = 0; m < M; ++m) {
        xneg[m] = _mm512_load_si512(x[m].neg + P * 16), xq[m] = _mm512_load_si512(x[m].q + P * 64);
        xs[m] = _mm512_load_ps(x[m].xs + P * 16);
      }
      for (int s = 0; s < n; ++s) {
        const char* pf = reinterpret_cast<const char*>(rows[s] + P * pair_bytes) + kAhead;
        _mm_prefetch(pf, _MM_HINT_T1);
        if (pair_bytes > 64) _mm_prefetch(pf + 64, _MM_HINT_T1);
        __m512 sv;
        const __m512i u = pair(rows[s], P, sv);
#pragma GCC unroll 4
        for (int m = 0; m < M; ++m) {
          const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(xneg[m], u, xq[m])), xs[m]);
          acc[s][m][A] = _mm512_fmadd_ps(t, sv, acc[s][m][A]);
        }
      }
    };
    int64_t P = 0;
    for (; P + 1 < pairs; P += 2) {
      step(P, std::integral_constant<int, 0>{});
      step(P + 1, std::integral_constant<int, 1>{});
    }
    if (P < pairs) step(P, std::integral_constant<int, 0>{});
    for (int s = 0; s < n; ++s)
      for (int m = 0; m < M; ++m) out[s][m] = _mm512_reduce_add_ps(_mm512_add_ps(acc[s][m][0], acc[s][m][1]));
  };
  const int64_t h = kernels::stream_rows(r1 - r0, kStreams, row_bytes);
  if (h > 0)
    for (int s = 0; s < kStreams; ++s) {
      const char* q = reinterpret_cast<const char*>(data + (r0 + s * h) * row_bytes);
      for (int64_t b = 0; b < kAhead; b += 64) _mm_prefetch(q + b, _MM_HINT_T1);
    }
  for (int64_t i = 0; i < h; ++i) {
    const uint8_t* rows[kStreams];
    for (int s = 0; s < kStreams; ++s) rows[s] = data + (r0 + s * h + i) * row_bytes;
    float out[kStreams][M];
    row_dots(rows, kStreams, out);
    for (int s = 0; s < kStreams; ++s) {
      const int64_t r = r0 + s * h + i;
      for (int m = 0; m < M; ++m) Y[m * ldy + r] = out[s][m] + (bias ? bias[r] : 0.f);
    }
  }
  for (int64_t r = r0 + kStreams * h; r < r1; ++r) {
    const uint8_t* row = data + r * row_bytes;
    float out[1][M];
    row_dots(&row, 1, out);
    for (int m = 0; m < M; ++m) Y[m * ldy + r] = out[0][m] + (bias ? bias[r] : 0.f);
  }
}

template <int M>
void rows_q8_m(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8* x, const float* bias,
               float* Y, int64_t ldy) {
  const bool g64 = L.group == 64;
  switch (L.bits) {
    case 8: return rows_q8_t<8, 32, false, M>(L, data, r0, r1, x, bias, Y, ldy);
    case 4:
      if (L.kind == Kind::Q4_0) return rows_q8_t<4, 32, true, M>(L, data, r0, r1, x, bias, Y, ldy);
      return g64 ? rows_q8_t<4, 64, false, M>(L, data, r0, r1, x, bias, Y, ldy)
                 : rows_q8_t<4, 32, false, M>(L, data, r0, r1, x, bias, Y, ldy);
    case 3:
      return g64 ? rows_q8_t<3, 64, false, M>(L, data, r0, r1, x, bias, Y, ldy)
                 : rows_q8_t<3, 32, false, M>(L, data, r0, r1, x, bias, Y, ldy);
    default:
      return g64 ? rows_q8_t<2, 64, false, M>(L, data, r0, r1, x, bias, Y, ldy)
                 : rows_q8_t<2, 32, false, M>(L, data, r0, r1, x, bias, Y, ldy);
  }
}

void rows_q8(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8& x, const float* bias,
             float* y) {
  rows_q8_m<1>(L, data, r0, r1, &x, bias, y, 0);
}

void rows_q8_multi(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8* x, int M,
                   const float* bias, float* Y, int64_t ldy) {
  with_inputs(M, [&](auto m) { rows_q8_m<m()>(L, data, r0, r1, x, bias, Y, ldy); });
}
#pragma GCC pop_options

}  // namespace

const FixedKernels kFixedAvx512 = {"avx512", &rows_f32, nullptr, nullptr, nullptr};
const FixedKernels kFixedAvx512Vnni = {"avx512vnni", &rows_f32, &prep_q8, &rows_q8, &rows_q8_multi};

}  // namespace rbe::codec::fixed
