#include "codec/tcq.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#ifdef __AVX2__
#include <immintrin.h>
#endif

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

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// From the points k chosen along the trellis path: the symbols, their
// contexts, and the squared error of the reconstruction.
double finish(const float* x, int64_t n, float step, const std::vector<int32_t>& ks, int32_t* sym, uint8_t* ctx) {
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

}  // namespace

int tcq_next_state(int state, int branch) { return (2 * state + branch) & 7; }
int tcq_subset(int state, int branch) { return kSubset[state][branch]; }

RateModel RateModel::gaussian(double sigma_over_step, bool tcq) {
  RateModel rm;
  const double s = std::max(sigma_over_step, 1e-3);
  const int contexts = tcq ? 2 : 1;
  const int32_t K = int32_t(std::min(60000.0, std::ceil(8 * s + 8)));
  for (int c = 0; c < contexts; ++c) {
    // Points k (k ≡ c mod 2 for TCQ, all k for SQ), cells of width 2Δ (TCQ) or Δ.
    const double w = tcq ? 1.0 : 0.5;
    std::vector<double> p;
    const int32_t mlo = tcq ? -(K / 2) - 1 : -K, mhi = tcq ? K / 2 + 1 : K;
    double tot = 0;
    for (int32_t m = mlo; m <= mhi; ++m) {
      const double k = tcq ? 2.0 * m + c : m;
      const double pr = std::max(normal_cdf((k + w) / s) - normal_cdf((k - w) / s), 1e-12);
      p.push_back(pr);
      tot += pr;
    }
    rm.lo[c] = mlo;
    rm.bits[c].resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) rm.bits[c][i] = float(-std::log2(p[i] / tot));
  }
  if (!tcq) rm.lo[1] = rm.lo[0], rm.bits[1] = rm.bits[0];
  rm.escape_bits = 40.f;
  return rm;
}

RateModel RateModel::from_counts(const std::vector<uint64_t> counts[2], const int32_t lo[2], int contexts) {
  RateModel rm;
  for (int c = 0; c < contexts; ++c) {
    // Pad the range by a few symbols with pseudo-counts, so the search may step just outside it.
    const int pad = 4;
    const auto& cnt = counts[c];
    double tot = 0;
    for (uint64_t v : cnt) tot += double(v) + 0.5;
    tot += 2 * pad * 0.5;
    rm.lo[c] = lo[c] - pad;
    rm.bits[c].assign(cnt.size() + 2 * pad, 0.f);
    for (size_t i = 0; i < rm.bits[c].size(); ++i) {
      const int64_t j = int64_t(i) - pad;
      const double v = (j >= 0 && j < int64_t(cnt.size()) ? double(cnt[size_t(j)]) : 0.0) + 0.5;
      rm.bits[c][i] = float(-std::log2(v / tot));
    }
  }
  if (contexts == 1) rm.lo[1] = rm.lo[0], rm.bits[1] = rm.bits[0];
  float mx = 0;
  for (int c = 0; c < 2; ++c)
    for (float b : rm.bits[c]) mx = std::max(mx, b);
  rm.escape_bits = mx + 8.f;
  return rm;
}

double tcq_quantize_scalar(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                           uint8_t* ctx) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double cost[8], ncost[8];
  std::fill(cost, cost + 8, kInf);
  cost[0] = 0;
  // Survivor storage, reused across calls on a thread (no zeroing needed:
  // every entry read in the traceback was written on the surviving path).
  thread_local std::vector<uint8_t> prev;
  thread_local std::vector<int32_t> kk;
  if (prev.size() < size_t(n) * 8) prev.resize(size_t(n) * 8), kk.resize(size_t(n) * 8);
  const double inv = 1.0 / step;
  for (int64_t i = 0; i < n; ++i) {
    std::fill(ncost, ncost + 8, kInf);
    // In units of Δ, clamped so that indices stay far inside int32 (escapes cover the rest).
    const double xs = std::clamp(double(x[i]) * inv, -kMaxIndex, kMaxIndex);
    // Per subset D_j (independent of the state): the cheaper of its nearest
    // point and that point's neighbour towards zero, by error + λ·bits.
    double jcost[4];
    int32_t jk[4];
    for (int j = 0; j < 4; ++j) {
      const int par = j & 1;
      const int64_t k0 = j + 4 * int64_t(std::floor((xs - j) / 4.0 + 0.5));
      const int64_t k1 = k0 > 0 ? k0 - 4 : k0 + 4;
      const double e0 = (xs - double(k0)) * step, e1 = (xs - double(k1)) * step;
      const double c0 = e0 * e0 + lambda * rm.cost(par, int32_t((k0 - par) / 2));
      double c1 = kInf;
      if (std::abs(k1) <= std::abs(k0)) c1 = e1 * e1 + lambda * rm.cost(par, int32_t((k1 - par) / 2));
      if (c1 < c0) jcost[j] = c1, jk[j] = int32_t(k1);
      else jcost[j] = c0, jk[j] = int32_t(k0);
    }
    for (int s = 0; s < 8; ++s) {
      if (cost[s] == kInf) continue;
      for (int b = 0; b < 2; ++b) {
        const int j = kSubset[s][b];
        const int t = (2 * s + b) & 7;
        const double total = cost[s] + jcost[j];
        if (total < ncost[t]) {
          ncost[t] = total;
          prev[size_t(i) * 8 + size_t(t)] = uint8_t(s);
          kk[size_t(i) * 8 + size_t(t)] = jk[j];
        }
      }
    }
    std::copy(ncost, ncost + 8, cost);
  }
  int best = int(std::min_element(cost, cost + 8) - cost);
  // Trace back, then compute symbols and contexts forward.
  std::vector<int32_t> ks(static_cast<size_t>(n));
  for (int64_t i = n; i-- > 0;) {
    ks[size_t(i)] = kk[size_t(i) * 8 + size_t(best)];
    best = prev[size_t(i) * 8 + size_t(best)];
  }
  return finish(x, n, step, ks, sym, ctx);
}

#ifdef __AVX2__
namespace {

// The four subsets' candidates for one coefficient, all at once (lane j =
// subset D_j), by the same operations as the scalar loop above in the same
// order, so the costs, and the choices, are the same to the bit: (xs - j) / 4
// is exact, so its FMA with + 0.5 rounds as the separate add did; e^2 and
// λ·bits (in float) are rounded apart and then added, as there.
struct SubsetCandidates {
  __m256d cost;  // the cheaper candidate's error + λ·bits
  __m128i k;     // and its point k
};

class SubsetSearch {
 public:
  SubsetSearch(float step, float lambda, const RateModel& rm) : step_(_mm256_set1_pd(double(step))),
                                                                lambda_(_mm_set1_ps(lambda)),
                                                                escape_(_mm_set1_ps(rm.escape_bits)) {
    // Both contexts' tables in one array (context 1's after context 0's),
    // so that one gather reads the four subsets' bits.
    thread_local std::vector<float> both;
    both.assign(rm.bits[0].begin(), rm.bits[0].end());
    both.insert(both.end(), rm.bits[1].begin(), rm.bits[1].end());
    table_ = both.data();
    const int32_t n0 = int32_t(rm.bits[0].size()), n1 = int32_t(rm.bits[1].size());
    // Lane j has context j & 1: index = m - lo[ctx] (in range when 0 <= index < size[ctx]), at offset base[ctx].
    lo_ = _mm_setr_epi32(rm.lo[0], rm.lo[1], rm.lo[0], rm.lo[1]);
    size_ = _mm_setr_epi32(n0, n1, n0, n1);
    base_ = _mm_setr_epi32(0, n0, 0, n0);
  }

  SubsetCandidates operator()(double xs) const {
    const __m256d j = _mm256_setr_pd(0, 1, 2, 3), par = _mm256_setr_pd(0, 1, 0, 1), four = _mm256_set1_pd(4);
    const __m256d x = _mm256_set1_pd(xs);
    const __m256d f = _mm256_floor_pd(_mm256_fmadd_pd(_mm256_sub_pd(x, j), _mm256_set1_pd(0.25), _mm256_set1_pd(0.5)));
    const __m256d k0 = _mm256_fmadd_pd(four, f, j);  // exact: integers far below 2^53
    const __m256d up = _mm256_cmp_pd(k0, _mm256_setzero_pd(), _CMP_GT_OQ);
    const __m256d k1 = _mm256_blendv_pd(_mm256_add_pd(k0, four), _mm256_sub_pd(k0, four), up);
    const __m256d c0 = cost(x, k0, par), c1 = cost(x, k1, par);
    // k1 (towards zero) only when |k1| <= |k0|, and only when strictly cheaper.
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d inward = _mm256_cmp_pd(_mm256_andnot_pd(sign, k1), _mm256_andnot_pd(sign, k0), _CMP_LE_OQ);
    const __m256d take1 = _mm256_and_pd(inward, _mm256_cmp_pd(c1, c0, _CMP_LT_OQ));
    return {_mm256_blendv_pd(c0, c1, take1), _mm256_cvtpd_epi32(_mm256_blendv_pd(k0, k1, take1))};
  }

 private:
  // (xs - k)·Δ squared, plus λ times the bits of symbol (k - ctx) / 2.
  __m256d cost(__m256d x, __m256d k, __m256d par) const {
    const __m256d e = _mm256_mul_pd(_mm256_sub_pd(x, k), step_);
    const __m128i m = _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_sub_pd(k, par), _mm256_set1_pd(0.5)));
    const __m128i i = _mm_sub_epi32(m, lo_);
    const __m128i in = _mm_and_si128(_mm_cmpgt_epi32(i, _mm_set1_epi32(-1)), _mm_cmpgt_epi32(size_, i));
    const __m128 bits = _mm_mask_i32gather_ps(escape_, table_, _mm_add_epi32(i, base_), _mm_castsi128_ps(in), 4);
    return _mm256_add_pd(_mm256_mul_pd(e, e), _mm256_cvtps_pd(_mm_mul_ps(lambda_, bits)));
  }

  __m256d step_;
  __m128 lambda_, escape_;
  const float* table_;
  __m128i lo_, size_, base_;
};

}  // namespace

double tcq_quantize(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                    uint8_t* ctx) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const SubsetSearch search(step, lambda, rm);
  // Per coefficient: the predecessor of each state, and the four subsets' points.
  thread_local std::vector<uint8_t> prev;
  thread_local std::vector<int32_t> kj;
  if (prev.size() < size_t(n) * 8) prev.resize(size_t(n) * 8), kj.resize(size_t(n) * 4);
  // Predecessor bytes for a comparison mask: states t = 0..3 come from t/2
  // or t/2 + 4 (bit t of the mask), states 4..7 the same plus 2.
  static const auto kPrevLo = [] {
    std::array<uint32_t, 16> lut{};
    for (int m = 0; m < 16; ++m)
      for (int t = 0; t < 4; ++t) lut[size_t(m)] |= uint32_t((t >> 1) + 4 * ((m >> t) & 1)) << (8 * t);
    return lut;
  }();
  // States 0-3 and 4-7. Entering t: from s1 = t/2 by subset j1(t), from s2 = s1 + 4 by j2(t):
  // j1 = (0 2 1 3 | 2 0 3 1) and j2 = (2 0 3 1 | 0 2 1 3) (kSubset, branch t & 1).
  __m256d lo = _mm256_setr_pd(0, kInf, kInf, kInf), hi = _mm256_set1_pd(kInf);
  const double inv = 1.0 / step;
  for (int64_t i = 0; i < n; ++i) {
    const double xs = std::clamp(double(x[i]) * inv, -kMaxIndex, kMaxIndex);
    const SubsetCandidates c = search(xs);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&kj[size_t(i) * 4]), c.k);
    const __m256d p = _mm256_permute4x64_pd(c.cost, 0xD8);  // jcost[0 2 1 3]
    const __m256d q = _mm256_permute4x64_pd(c.cost, 0x72);  // jcost[2 0 3 1]
    const __m256d a_lo = _mm256_add_pd(_mm256_permute4x64_pd(lo, 0x50), p);  // cost[0 0 1 1] + j1
    const __m256d b_lo = _mm256_add_pd(_mm256_permute4x64_pd(hi, 0x50), q);  // cost[4 4 5 5] + j2
    const __m256d a_hi = _mm256_add_pd(_mm256_permute4x64_pd(lo, 0xFA), q);  // cost[2 2 3 3] + j1
    const __m256d b_hi = _mm256_add_pd(_mm256_permute4x64_pd(hi, 0xFA), p);  // cost[6 6 7 7] + j2
    // The second predecessor only when strictly cheaper, as the scalar loop tries them in order.
    const __m256d second_lo = _mm256_cmp_pd(b_lo, a_lo, _CMP_LT_OQ), second_hi = _mm256_cmp_pd(b_hi, a_hi, _CMP_LT_OQ);
    lo = _mm256_blendv_pd(a_lo, b_lo, second_lo);
    hi = _mm256_blendv_pd(a_hi, b_hi, second_hi);
    const uint32_t pl = kPrevLo[size_t(_mm256_movemask_pd(second_lo))];
    const uint32_t ph = kPrevLo[size_t(_mm256_movemask_pd(second_hi))] + 0x02020202u;
    std::memcpy(&prev[size_t(i) * 8], &pl, 4);
    std::memcpy(&prev[size_t(i) * 8 + 4], &ph, 4);
  }
  double cost[8];
  _mm256_storeu_pd(cost, lo);
  _mm256_storeu_pd(cost + 4, hi);
  int best = int(std::min_element(cost, cost + 8) - cost);
  // Trace back (the subset from s into t is kSubset[s][t & 1]), then symbols and contexts forward.
  std::vector<int32_t> ks(static_cast<size_t>(n));
  for (int64_t i = n; i-- > 0;) {
    const int s = prev[size_t(i) * 8 + size_t(best)];
    ks[size_t(i)] = kj[size_t(i) * 4 + size_t(kSubset[s][best & 1])];
    best = s;
  }
  return finish(x, n, step, ks, sym, ctx);
}
#else
double tcq_quantize(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                    uint8_t* ctx) {
  return tcq_quantize_scalar(x, n, step, lambda, rm, sym, ctx);
}
#endif

double sq_quantize(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                   uint8_t* ctx) {
  const double inv = 1.0 / step;
  double dist = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double xs = std::clamp(double(x[i]) * inv, -kMaxIndex, kMaxIndex);
    const int64_t f = int64_t(std::floor(xs)), c = f + 1;
    const double ef = (xs - double(f)) * step, ec = (xs - double(c)) * step;
    const double jf = ef * ef + lambda * rm.cost(0, int32_t(f)), jc = ec * ec + lambda * rm.cost(0, int32_t(c));
    const int64_t k = jf <= jc ? f : c;
    sym[i] = int32_t(k);
    ctx[i] = 0;
    const double e = double(x[i]) - double(float(double(k) * step));
    dist += e * e;
  }
  return dist;
}

float TcqTracker::next(int32_t m, float step) {
  const int par = state_ & 1;
  const int64_t k = 2 * int64_t(m) + par;
  state_ = (2 * state_ + branch_for(state_, mod4(k))) & 7;
  return float(double(k) * step);
}

void tcq_dequantize(const int32_t* sym, int64_t n, float step, float* out) {
  TcqTracker t;
  for (int64_t i = 0; i < n; ++i) out[i] = t.next(sym[i], step);
}

void sq_dequantize(const int32_t* sym, int64_t n, float step, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(double(sym[i]) * step);
}

}  // namespace rbe::codec
