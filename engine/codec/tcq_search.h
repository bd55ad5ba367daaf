#pragma once
// The pieces of the TCQ search that tcq.cpp (the scalar loop, the AVX2
// search) and tcq_avx512.cpp (two coefficients per AVX-512 register) share:
// the trellis tables, the trace back, the AVX2 subset search and the trellis
// step. Internal linkage throughout: the two files are built for different
// instruction sets, and an inline function with external linkage could come
// from either. Both files are built with -ffp-contract=off: the vector
// searches make the scalar loop's choices only when nothing is contracted
// differently (their one FMA is written out, where the product is exact).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "codec/scratch.h"
#include "codec/tcq.h"

namespace rbe::codec {
namespace {

// Ungerboeck's 8-state trellis for four subsets: from state s, branch b goes
// to (2s + b) mod 8 through subset kSubset[s][b]. Branches leaving (and
// entering) a state use D0/D2 or D1/D3 only.
constexpr int kSubset[8][2] = {{0, 2}, {1, 3}, {2, 0}, {3, 1}, {2, 0}, {3, 1}, {0, 2}, {1, 3}};

constexpr double kMaxIndex = double(1 << 30);

inline int mod4(int64_t k) { return int(((k % 4) + 4) % 4); }

// Branch of state s that uses subset j (j has the state's parity).
inline int branch_for(int s, int j) { return kSubset[s][0] == j ? 0 : 1; }

// From the points k chosen along the trellis path: the symbols, their
// contexts, and the squared error of the reconstruction.
inline double finish(const float* x, int64_t n, float step, const std::vector<int32_t>& ks, int32_t* sym,
                     uint8_t* ctx) {
  double dist = 0;
  int s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = ks[size_t(i)];
    const int par = s & 1;
    sym[i] = int32_t((k - par) / 2);
    ctx[i] = uint8_t(par);
    const double e = double(x[i]) - double(float(double(k) * step));
    dist += e * e;
    s = (2 * s + branch_for(s, mod4(k))) & 7;
  }
  return dist;
}

#ifdef __AVX2__

// The four subsets' candidates for one coefficient: lane j = subset D_j.
struct SubsetCandidates {
  __m256d cost;  // the cheaper candidate's error + λ·bits
  __m128i k;     // and its point k
};

// Both contexts' bit tables in one array (context 1's after context 0's), so
// that one gather reads the four subsets' bits; per lane j (context j & 1)
// the index is m - lo[ctx], in range when 0 <= index < size[ctx], at offset
// base[ctx]. The array is a buffer of the thread, reused across calls: one
// BitTables in use per thread at a time.
struct BitTables {
  const float* table;
  __m128i lo, size, base;  // lanes (ctx 0, ctx 1, ctx 0, ctx 1)

  explicit BitTables(const RateModel& rm) {
    thread_local std::vector<float> both;
    both.assign(rm.bits[0].begin(), rm.bits[0].end());
    both.insert(both.end(), rm.bits[1].begin(), rm.bits[1].end());
    table = both.data();
    const int32_t n0 = int32_t(rm.bits[0].size()), n1 = int32_t(rm.bits[1].size());
    lo = _mm_setr_epi32(rm.lo[0], rm.lo[1], rm.lo[0], rm.lo[1]);
    size = _mm_setr_epi32(n0, n1, n0, n1);
    base = _mm_setr_epi32(0, n0, 0, n0);
  }
};

// By the same operations as the scalar loop in the same order, so the
// costs, and the choices, are the same to the bit: (xs - j) / 4 is exact, so
// its FMA with + 0.5 rounds as the separate add did; e^2 and λ·bits (in
// float) are rounded apart and then added, as there. The symbols come in
// integers straight from the floor f: k0 = 4f + j gives m0 = (k0 - (j & 1)) / 2
// = 2f + (j >> 1), and k1 = k0 -+ 4 gives m1 = m0 -+ 2 (the same integers the
// scalar loop divides out, without a conversion on the way to the gathers).
class SubsetSearch {
 public:
  SubsetSearch(float step, float lambda, const RateModel& rm)
      : step_(_mm256_set1_pd(double(step))), lambda_(_mm_set1_ps(lambda)), escape_(_mm_set1_ps(rm.escape_bits)),
        t_(rm) {}

  SubsetCandidates operator()(double xs) const {
    const __m256d j = _mm256_setr_pd(0, 1, 2, 3), four = _mm256_set1_pd(4);
    const __m256d x = _mm256_set1_pd(xs);
    const __m256d f = _mm256_floor_pd(_mm256_fmadd_pd(_mm256_sub_pd(x, j), _mm256_set1_pd(0.25), _mm256_set1_pd(0.5)));
    const __m256d k0 = _mm256_fmadd_pd(four, f, j);  // exact: integers far below 2^53
    const __m256d up = _mm256_cmp_pd(k0, _mm256_setzero_pd(), _CMP_GT_OQ);
    const __m256d k1 = _mm256_blendv_pd(_mm256_add_pd(k0, four), _mm256_sub_pd(k0, four), up);
    const __m128i fi = _mm256_cvtpd_epi32(f);
    const __m128i m0 = _mm_add_epi32(_mm_add_epi32(fi, fi), _mm_setr_epi32(0, 0, 1, 1));
    // up's lanes are all ones (-1) or 0: m1 = m0 + 2 - 4 (up) or m0 + 2.
    const __m128i up32 = _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(_mm256_castpd_si256(up), _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
    const __m128i m1 = _mm_add_epi32(m0, _mm_add_epi32(_mm_set1_epi32(2), _mm_slli_epi32(up32, 2)));
    const __m256d c0 = cost(x, k0, m0), c1 = cost(x, k1, m1);
    // k1 (towards zero) only when |k1| <= |k0|, and only when strictly cheaper.
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d inward = _mm256_cmp_pd(_mm256_andnot_pd(sign, k1), _mm256_andnot_pd(sign, k0), _CMP_LE_OQ);
    const __m256d take1 = _mm256_and_pd(inward, _mm256_cmp_pd(c1, c0, _CMP_LT_OQ));
    return {_mm256_blendv_pd(c0, c1, take1), _mm256_cvtpd_epi32(_mm256_blendv_pd(k0, k1, take1))};
  }

 private:
  // (xs - k)·Δ squared, plus λ times the bits of symbol m = (k - ctx) / 2.
  __m256d cost(__m256d x, __m256d k, __m128i m) const {
    const __m256d e = _mm256_mul_pd(_mm256_sub_pd(x, k), step_);
    const __m128i i = _mm_sub_epi32(m, t_.lo);
    const __m128i in = _mm_and_si128(_mm_cmpgt_epi32(i, _mm_set1_epi32(-1)), _mm_cmpgt_epi32(t_.size, i));
    const __m128 bits = _mm_mask_i32gather_ps(escape_, t_.table, _mm_add_epi32(i, t_.base), _mm_castsi128_ps(in), 4);
    return _mm256_add_pd(_mm256_mul_pd(e, e), _mm256_cvtps_pd(_mm_mul_ps(lambda_, bits)));
  }

  __m256d step_;
  __m128 lambda_, escape_;
  BitTables t_;
};

// The trellis over one block: each coefficient's subset candidates in, the
// predecessor of every state kept; then the trace back. States 0-3 and 4-7
// in two registers. Entering t: from s1 = t/2 by subset j1(t), from
// s2 = s1 + 4 by j2(t): j1 = (0 2 1 3 | 2 0 3 1) and j2 = (2 0 3 1 | 0 2 1 3)
// (kSubset, branch t & 1).
class Trellis {
 public:
  // The survivors: a thread's buffers, kept between calls for blocks up to
  // 64 Ki coefficients; a larger block's own (24 bytes a coefficient).
  explicit Trellis(int64_t n) {
    constexpr size_t kKeep = size_t(1) << 16;
    prev_ = scratch(kept_prev_, own_prev_, size_t(n) * 8, kKeep * 8);
    kj_ = scratch(kept_kj_, own_kj_, size_t(n) * 4, kKeep * 4);
  }

  void step(int64_t i, const SubsetCandidates& c) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&kj_[size_t(i) * 4]), c.k);
    const __m256d p = _mm256_permute4x64_pd(c.cost, 0xD8);                   // jcost[0 2 1 3]
    const __m256d q = _mm256_permute4x64_pd(c.cost, 0x72);                   // jcost[2 0 3 1]
    const __m256d a_lo = _mm256_add_pd(_mm256_permute4x64_pd(lo_, 0x50), p);  // cost[0 0 1 1] + j1
    const __m256d b_lo = _mm256_add_pd(_mm256_permute4x64_pd(hi_, 0x50), q);  // cost[4 4 5 5] + j2
    const __m256d a_hi = _mm256_add_pd(_mm256_permute4x64_pd(lo_, 0xFA), q);  // cost[2 2 3 3] + j1
    const __m256d b_hi = _mm256_add_pd(_mm256_permute4x64_pd(hi_, 0xFA), p);  // cost[6 6 7 7] + j2
    // The second predecessor only when strictly cheaper, as the scalar loop tries them in order.
    const __m256d second_lo = _mm256_cmp_pd(b_lo, a_lo, _CMP_LT_OQ), second_hi = _mm256_cmp_pd(b_hi, a_hi, _CMP_LT_OQ);
    lo_ = _mm256_blendv_pd(a_lo, b_lo, second_lo);
    hi_ = _mm256_blendv_pd(a_hi, b_hi, second_hi);
    const uint32_t pl = kPrevLo[size_t(_mm256_movemask_pd(second_lo))];
    const uint32_t ph = kPrevLo[size_t(_mm256_movemask_pd(second_hi))] + 0x02020202u;
    std::memcpy(&prev_[size_t(i) * 8], &pl, 4);
    std::memcpy(&prev_[size_t(i) * 8 + 4], &ph, 4);
  }

  // Trace back from the cheapest end state (the subset from s into t is
  // kSubset[s][t & 1]), then symbols, contexts and the error forward.
  double finish(const float* x, int64_t n, float step, int32_t* sym, uint8_t* ctx) const {
    double cost[8];
    _mm256_storeu_pd(cost, lo_);
    _mm256_storeu_pd(cost + 4, hi_);
    int best = int(std::min_element(cost, cost + 8) - cost);
    std::vector<int32_t> ks(static_cast<size_t>(n));
    for (int64_t i = n; i-- > 0;) {
      const int s = prev_[size_t(i) * 8 + size_t(best)];
      ks[size_t(i)] = kj_[size_t(i) * 4 + size_t(kSubset[s][best & 1])];
      best = s;
    }
    return rbe::codec::finish(x, n, step, ks, sym, ctx);
  }

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  // Predecessor bytes for a comparison mask: states t = 0..3 come from t/2
  // or t/2 + 4 (bit t of the mask), states 4..7 the same plus 2.
  static constexpr std::array<uint32_t, 16> kPrevLo = [] {
    std::array<uint32_t, 16> lut{};
    for (int m = 0; m < 16; ++m)
      for (int t = 0; t < 4; ++t) lut[size_t(m)] |= uint32_t((t >> 1) + 4 * ((m >> t) & 1)) << (8 * t);
    return lut;
  }();
  // Per coefficient: the predecessor of each state, and the four subsets' points.
  static thread_local inline std::vector<uint8_t> kept_prev_;
  static thread_local inline std::vector<int32_t> kept_kj_;
  std::vector<uint8_t> own_prev_;
  std::vector<int32_t> own_kj_;
  uint8_t* prev_;
  int32_t* kj_;
  __m256d lo_ = _mm256_setr_pd(0, kInf, kInf, kInf), hi_ = _mm256_set1_pd(kInf);
};

#endif  // __AVX2__

}  // namespace

// tcq_avx512.cpp: two coefficients' subsets per AVX-512 register (only where
// the CPU has them; tcq_kernel() checks).
double tcq_quantize_avx512(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                           uint8_t* ctx);

}  // namespace rbe::codec
