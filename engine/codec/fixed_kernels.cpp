// Driver of the fixed-rate fused matvec (kernel choice, x quantization, row
// chunks over oneTBB) and its portable and AVX2 row kernels.
#include "codec/fixed_kernels.h"


#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codec/fixed_internal.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/hadamard.h"
#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/row_chunks.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "codec/fixed_simd.h"
#include "tensor/kernels/hsum_avx2.h"
#define RBE_FIXED_HAVE_AVX2 1
#endif

namespace rbe::codec::fixed {
namespace {

// ---- portable kernel: decode a group to f32, dot with x ----
void rows_generic(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const float* x, const float* bias,
                  float* y) {
  const int S = L.subs_per_group(), sb = L.sub_bytes();
  float lv[256];
  for (int c = 0; c < 256; ++c) lv[c] = float(level_of(L, c & ((1 << L.bits) - 1)));
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* g = data + r * L.row_bytes();
    float acc = 0;
    for (int64_t gi = 0; gi < L.groups_per_row(); ++gi, g += L.group_bytes()) {
      float s = 0;
      for (int k = 0; k < S; ++k) {
        const float* xs = x + gi * L.group + k * kSub;
        for (int i = 0; i < kSub; ++i) s += lv[sub_code(g + 2 + k * sb, L.bits, i)] * xs[i];
      }
      acc += group_scale(g) * s;
    }
    y[r] = acc + (bias ? bias[r] : 0.f);
  }
}

#ifdef RBE_FIXED_HAVE_AVX2
using kernels::hsum256;

// Levels to f32, FMA with x: per sub-block 4 x (8 int8 -> 8 f32), then one FMA by the scale.
template <int kBits, int kSubs>
void rows_avx2_t(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const float* x, const float* bias,
                 float* y) {
  const __m256i table = level_table(L);
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  const int64_t groups = L.groups_per_row();
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* g = data + r * L.row_bytes();
    __m256 acc = _mm256_setzero_ps();
    const float* xs = x;
    for (int64_t gi = 0; gi < groups; ++gi, g += gb) {
      __m256 t = _mm256_setzero_ps();
      for (int k = 0; k < kSubs; ++k, xs += kSub) {
        const __m256i w = sub_levels<kBits>(g + 2 + k * sb, table);
        const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
        t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), _mm256_loadu_ps(xs), t);
        t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), _mm256_loadu_ps(xs + 8), t);
        t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), _mm256_loadu_ps(xs + 16), t);
        t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), _mm256_loadu_ps(xs + 24), t);
      }
      acc = _mm256_fmadd_ps(t, _mm256_set1_ps(load_scale(g)), acc);
    }
    y[r] = hsum256(acc) + (bias ? bias[r] : 0.f);
  }
}

// ---- AVX2 with int8 activations (avx2q8) ----
// x quantized per 32-block as the VNNI kernel does (d = max|x| / 127, round
// to nearest), kept in element order: q (32 int8 per block), xs (d per block).
void prep_q8_avx2(const Layout& L, const float* x, std::vector<uint8_t>& buf, ActQ8& out) {
  const int64_t nsub = L.cols / kSub;
  buf.resize(size_t(nsub * (kSub + 4) + 32));
  uint8_t* base = buf.data() + ((32 - reinterpret_cast<uintptr_t>(buf.data()) % 32) % 32);
  int8_t* q = reinterpret_cast<int8_t*>(base);
  float* xs = reinterpret_cast<float*>(base + nsub * kSub);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < nsub; ++b) {
    const float* xb = x + b * kSub;
    __m256 v[4], m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[i], v[i], _CMP_UNORD_Q));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    xs[b] = act_q8_scale(amax, _mm256_movemask_ps(nan) != 0);
    const __m256 inv = _mm256_set1_ps(act_q8_inv(amax));
    __m256i n[4];
    for (int i = 0; i < 4; ++i) n[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inv));  // nearest, ties to even
    // packs interleave the 128-bit lanes; the permutation puts the 32 values back in order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
    _mm256_store_si256(reinterpret_cast<__m256i*>(q + b * kSub),
                       _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  out = ActQ8{q, nullptr, xs, nsub};
}

// Each int32 lane: the sum of four products of unsigned bytes u and signed
// bytes s (VPMADDUBSW pairs them into int16, VPMADDWD the pairs into int32;
// callers keep a pair under 32768).
inline __m256i sum4_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// acc + (lanes as f32) * scale.
inline __m256 fma_lanes(__m256i p, float scale, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(scale), acc);
}

// acc + (w . xv) * scale for one sub-block: its 32 levels w (aw = |w|) and
// 32 bytes of quantized x. VPMADDUBSW takes unsigned x signed bytes, so
// |level| goes in unsigned and the level's sign moves onto q (|level| <= 128,
// |q| <= 127: a pair sums to at most 32512, no saturation).
inline __m256 fma_sub_q8(__m256i w, __m256i aw, __m256i xv, float scale, __m256 acc) {
  return fma_lanes(sum4_u8s8(aw, _mm256_sign_epi8(xv, w)), scale, acc);
}

// The same for q4_0, whose level is code - 8: code . q - 8 . sum(q), both
// by VPMADDUBSW with the unsigned operand 0-15 or 8 (a pair at most
// 2 * 15 * 127, no saturation), so the levels' table lookup and both sign
// steps go. Each int32 lane sums the same four products as fma_sub_q8's, so
// the results are bit for bit the same. corr = 8 . sum(q) in each lane of
// the sub-block (q4_corr), once for all the rows that share it. On the Zen 3
// VM a token's q4_0 products took about 5% less time on one thread
// (docs/performance.md, "AVX2 int8 kernel: q4_0 without the sign steps").
inline __m256i q4_corr(__m256i xv) { return sum4_u8s8(_mm256_set1_epi8(8), xv); }
inline __m256 fma_sub_q4(__m256i codes, __m256i xv, __m256i corr, float scale, __m256 acc) {
  return fma_lanes(_mm256_sub_epi32(sum4_u8s8(codes, xv), corr), scale, acc);
}

// M inputs at once (M = 1: the matvec), each sub-block's codes unpacked and
// |level| taken once (fma_sub_q8). Sub-blocks go in
// pairs, each into its own accumulators, so that consecutive sub-blocks' FMAs
// do not wait on each other. The pair is spelled out: with the accumulator
// picked by the sub-block's parity at run time, GCC kept the accumulators on
// the stack, a store and a reload per sub-block (docs/performance.md, "AVX2
// int8 kernel: accumulators in registers, and a prefetch"). With this much
// arithmetic per byte, few of a row's lines are in flight from the loads
// alone, so the rows are prefetched kAhead bytes ahead (rows are contiguous:
// the prefetch runs on into the next).
constexpr int64_t kAhead = 2048;
template <int kBits, int kSubs, int M>
void rows_q8_multi_avx2_t(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8* a,
                          const float* bias, float* Y, int64_t ldy) {
  static_assert(kSubs == 1 || kSubs == 2, "a pair of sub-blocks is one group or two");
  const __m256i table = level_table(L);
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  const int64_t nsub = L.groups_per_row() * kSubs;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = data + r * L.row_bytes();
    __m256 acc0[M], acc1[M];
    for (int m = 0; m < M; ++m) acc0[m] = acc1[m] = _mm256_setzero_ps();
    // Sub-block b (sub-block k of group g, scale dw) into acc.
    auto sub = [&](const uint8_t* g, float dw, int64_t b, int k, __m256* acc) __attribute__((always_inline)) {
      const __m256i w = sub_levels<kBits>(g + 2 + k * sb, table), aw = _mm256_sign_epi8(w, w);
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) {
        const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(a[m].q + b * kSub));
        acc[m] = fma_sub_q8(w, aw, xv, dw * a[m].xs[b], acc[m]);
      }
    };
    int64_t b = 0;
    for (; b + 2 <= nsub; b += 2) {  // sub-blocks b and b + 1: one group's two (kSubs = 2) or two groups
      const uint8_t* g0 = row + (b / kSubs) * gb;
      const uint8_t* g1 = kSubs == 2 ? g0 : g0 + gb;
      _mm_prefetch(reinterpret_cast<const char*>(g0 + kAhead), _MM_HINT_T0);
      const float d0 = load_scale(g0), d1 = kSubs == 2 ? d0 : load_scale(g1);
      sub(g0, d0, b, 0, acc0);
      sub(g1, d1, b + 1, kSubs - 1, acc1);
    }
    if (b < nsub) {  // kSubs = 1 and an odd count
      const uint8_t* g = row + b * gb;
      sub(g, load_scale(g), b, 0, acc0);
    }
    for (int m = 0; m < M; ++m) Y[m * ldy + r] = hsum256(_mm256_add_ps(acc0[m], acc1[m])) + (bias ? bias[r] : 0.f);
  }
}

void rows_q8_multi_avx2(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8* a, int M,
                        const float* bias, float* Y, int64_t ldy) {
  with_layout(L, [&](auto bits, auto subs) {
    with_inputs(M, [&](auto m) {
      rows_q8_multi_avx2_t<decltype(bits)::value, decltype(subs)::value, m()>(L, data, r0, r1, a, bias, Y, ldy);
    });
  });
}

// One input, four rows at a time: each sub-block's 32 x bytes and x scale
// are loaded once for the four rows. Each row's sums are the matvec's above
// (sub-blocks in pairs, each into its own accumulator, the same order), so
// its result is bit for bit rows_q8_multi_avx2's with M = 1.
template <int kBits, int kSubs, bool kQ4 = false>
void rows_q8_x4_avx2_t(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8& a,
                       const float* bias, float* y) {
  static_assert(!kQ4 || (kBits == 4 && kSubs == 1), "q4_0: 4-bit codes, one sub-block per group");
  static_assert(kSubs == 1 || kSubs == 2, "a pair of sub-blocks is one group or two");
  constexpr int R = 4;
  const __m256i table = level_table(L);
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  const int64_t nsub = L.groups_per_row() * kSubs, rb = L.row_bytes();
  int64_t r = r0;
  for (; r + R <= r1; r += R) {
    const uint8_t* row = data + r * rb;
    __m256 acc0[R], acc1[R];
    for (int i = 0; i < R; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
    // Sub-block b (sub-block k of its group, at offset go in the row) of the R rows into acc.
    auto sub = [&](int64_t b, int64_t go, int k, __m256* acc) __attribute__((always_inline)) {
      const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.q + b * kSub));
      const float xs = a.xs[b];
      [[maybe_unused]] __m256i corr;
      if constexpr (kQ4) corr = q4_corr(xv);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) {
        const uint8_t* g = row + i * rb + go;
        if constexpr (kQ4) {
          acc[i] = fma_sub_q4(unpack_codes<4>(g + 2), xv, corr, load_scale(g) * xs, acc[i]);
        } else {
          const __m256i w = sub_levels<kBits>(g + 2 + k * sb, table);
          acc[i] = fma_sub_q8(w, _mm256_sign_epi8(w, w), xv, load_scale(g) * xs, acc[i]);
        }
      }
    };
    int64_t b = 0;
    for (; b + 2 <= nsub; b += 2) {
      const int64_t go0 = (b / kSubs) * gb, go1 = kSubs == 2 ? go0 : go0 + gb;
      for (int i = 0; i < R; ++i)  // each row kAhead ahead, as the matvec does: the four cover the bytes ahead
        _mm_prefetch(reinterpret_cast<const char*>(row + i * rb + go0 + kAhead), _MM_HINT_T0);
      sub(b, go0, 0, acc0);
      sub(b + 1, go1, kSubs - 1, acc1);
    }
    if (b < nsub) sub(b, b * gb, 0, acc0);  // kSubs = 1 and an odd count
    for (int i = 0; i < R; ++i) y[r + i] = hsum256(_mm256_add_ps(acc0[i], acc1[i])) + (bias ? bias[r + i] : 0.f);
  }
  if (r < r1) rows_q8_multi_avx2_t<kBits, kSubs, 1>(L, data, r, r1, &a, bias, y, 0);
}

// The matvec: four rows at a time where the codes are unpacked from 2-4
// bits (q4_0's by fma_sub_q4); q8_0's (a 32-byte load each) read slower
// that way on the Zen 3 VM (docs/performance.md, "AVX2 int8 kernel: four
// rows at a time").
void rows_q8_avx2(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8& a, const float* bias,
                  float* y) {
  if (L.kind == Kind::Q4_0) return rows_q8_x4_avx2_t<4, 1, true>(L, data, r0, r1, a, bias, y);
  with_layout(L, [&](auto bits, auto subs) {
    if constexpr (bits() < 8) rows_q8_x4_avx2_t<bits(), subs()>(L, data, r0, r1, a, bias, y);
    else rows_q8_multi_avx2_t<bits(), subs(), 1>(L, data, r0, r1, &a, bias, y, 0);
  });
}

// Row decode (a run of groups): per sub-block 4 x (8 int8 levels -> 8 f32) times the scale.
template <int kBits, int kSubs>
void decode_groups_avx2_t(const Layout& L, const uint8_t* data, int64_t r, int64_t g0, int64_t g1, float* out) {
  const __m256i table = level_table(L);
  const int sb = L.sub_bytes(), gb = L.group_bytes();
  const uint8_t* g = data + r * L.row_bytes() + g0 * gb;
  for (int64_t gi = g0; gi < g1; ++gi, g += gb) {
    const __m256 d = _mm256_set1_ps(load_scale(g));
    for (int k = 0; k < kSubs; ++k, out += kSub) {
      const __m256i w = sub_levels<kBits>(g + 2 + k * sb, table);
      const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
      _mm256_storeu_ps(out, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
      _mm256_storeu_ps(out + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
      _mm256_storeu_ps(out + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
      _mm256_storeu_ps(out + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
    }
  }
}

void decode_groups_avx2(const Layout& L, const uint8_t* data, int64_t r, int64_t g0, int64_t g1, float* out) {
  with_layout(L, [&](auto bits, auto subs) { decode_groups_avx2_t<bits(), subs()>(L, data, r, g0, g1, out); });
}

void rows_avx2(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const float* x, const float* bias,
               float* y) {
  with_layout(L, [&](auto bits, auto subs) { rows_avx2_t<bits(), subs()>(L, data, r0, r1, x, bias, y); });
}
#endif

// The kernels here also convert f16 (F16C / AVX-512 vcvtph2ps).
bool cpu_has_avx512() { return kernels::cpu_has_avx512() && kernels::cpu_has_f16c(); }
bool cpu_has_avx2() { return kernels::cpu_has_avx2() && kernels::cpu_has_f16c(); }

const FixedKernels& select_kernels() {
  if (const char* env = std::getenv("RBE_FIXED_KERNEL"))
    if (const FixedKernels* k = find_kernels(env)) return *k;
  for (const char* name : {"avx512vnni", "avx512", "avx2q8", "avx2"})
    if (const FixedKernels* k = find_kernels(name)) return *k;
  return kFixedGeneric;
}
[[maybe_unused]] const FixedKernels& g_startup_choice = active_kernels();

// Pieces down to 16 KiB of packed bytes; below 24 KiB on the calling thread.
template <class Fn>
void run_rows(int64_t N, int64_t row_bytes, Fn&& rows) {
  kernels::parallel_row_chunks(N, row_bytes, kernels::RowChunking{24 << 10, 16 << 10}, rows);
}

}  // namespace

#ifdef RBE_FIXED_HAVE_AVX2
const FixedKernels kFixedAvx2 = {"avx2", &rows_avx2, nullptr, nullptr, nullptr};
const FixedKernels kFixedAvx2Q8 = {"avx2q8", &rows_avx2, &prep_q8_avx2, &rows_q8_avx2, &rows_q8_multi_avx2};
#else
const FixedKernels kFixedAvx2 = {"generic", &rows_generic, nullptr, nullptr, nullptr};
const FixedKernels kFixedAvx2Q8 = {"generic", &rows_generic, nullptr, nullptr, nullptr};
#endif
const FixedKernels kFixedGeneric = {"generic", &rows_generic, nullptr, nullptr, nullptr};

void decode_groups_stored(const Layout& L, const uint8_t* data, int64_t r, int64_t g0, int64_t g1, float* out) {
#ifdef RBE_FIXED_HAVE_AVX2
  static const bool avx2 = cpu_has_avx2();
  if (avx2) return decode_groups_avx2(L, data, r, g0, g1, out);
#endif
  decode_groups_scalar(L, data, r, g0, g1, out);
}

const FixedKernels* find_kernels(const char* name) {
  if (std::strcmp(name, "avx512vnni") == 0)
    return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bitalg") &&
                   __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("gfni")
               ? &kFixedAvx512Vnni
               : nullptr;
  if (std::strcmp(name, "avx512") == 0) return cpu_has_avx512() ? &kFixedAvx512 : nullptr;
#ifdef RBE_FIXED_HAVE_AVX2
  if (std::strcmp(name, "avx2") == 0) return cpu_has_avx2() ? &kFixedAvx2 : nullptr;
  if (std::strcmp(name, "avx2q8") == 0) return cpu_has_avx2() ? &kFixedAvx2Q8 : nullptr;
#endif
  if (std::strcmp(name, "generic") == 0) return &kFixedGeneric;
  return nullptr;
}

const FixedKernels& active_kernels() {
  static const FixedKernels& k = select_kernels();
  return k;
}

void gemv(const FixedKernels& ks, const Layout& L, const uint8_t* data, const float* x, const float* bias, float* y) {
  if (ks.q8) {
    std::vector<uint8_t> buf;  // per call, not thread_local: a nested TBB task may run another gemv here
    ActQ8 a{};
    ks.prep(L, x, buf, a);
    run_rows(L.rows, L.row_bytes(), [&](int64_t r0, int64_t r1) { ks.q8(L, data, r0, r1, a, bias, y); });
  } else {
    run_rows(L.rows, L.row_bytes(), [&](int64_t r0, int64_t r1) { ks.f32(L, data, r0, r1, x, bias, y); });
  }
}

void gemv_rows(const FixedKernels& ks, const Layout& L, const uint8_t* data, int64_t N, const float* X,
               const float* bias, float* Y) {
  const int64_t R = L.rows, K = L.cols;
  if (!ks.q8_multi) {
    for (int64_t n = 0; n < N; ++n) gemv(ks, L, data, X + n * K, bias, Y + n * R);
    return;
  }
  for (int64_t n0 = 0; n0 < N; n0 += kMultiRowsQ8) {
    const int M = int(std::min<int64_t>(kMultiRowsQ8, N - n0));
    std::vector<uint8_t> bufs[kMultiRowsQ8];  // per call: a nested TBB task may run another product here
    ActQ8 a[kMultiRowsQ8]{};
    for (int m = 0; m < M; ++m) ks.prep(L, X + (n0 + m) * K, bufs[m], a[m]);
    float* Yg = Y + n0 * R;
    run_rows(R, L.row_bytes(), [&](int64_t r0, int64_t r1) { ks.q8_multi(L, data, r0, r1, a, M, bias, Yg, R); });
  }
}

}  // namespace rbe::codec::fixed

namespace rbe::codec {

const char* fixed_kernel_name() { return fixed::active_kernels().name; }

std::vector<std::string> fixed_kernel_names() {
  std::vector<std::string> v;
  for (const char* n : {"avx512vnni", "avx512", "avx2q8", "avx2", "generic"})
    if (fixed::find_kernels(n)) v.emplace_back(n);
  return v;
}

bool fixed_kernel_quantizes_x(const std::string& name) {
  const fixed::FixedKernels* k = fixed::find_kernels(name.c_str());
  return k && k->q8;
}

bool fixed_gemv_with_kernel(const char* name, const EncodedTensor& e, const float* x, const float* bias, float* y) {
  const fixed::FixedKernels* ks = fixed::find_kernels(name);
  if (!ks) return false;
  const fixed::Layout L = fixed::layout_of(e);
  if (L.kind == fixed::Kind::Rbe) {
    std::vector<float> xr(x, x + L.cols);
    RandomizedHadamard(L.cols, fixed::rotation_seed(e)).forward(xr.data());
    fixed::gemv(*ks, L, e.data, xr.data(), bias, y);
  } else {
    fixed::gemv(*ks, L, e.data, x, bias, y);
  }
  return true;
}

}  // namespace rbe::codec
