#include "codec/tcq.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "codec/tcq_search.h"
#include "tensor/kernels/cpu_features.h"

namespace rbe::codec {

namespace {

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

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

double tcq_quantize_avx2(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                         uint8_t* ctx) {
  const SubsetSearch search(step, lambda, rm);
  Trellis trellis(n);
  const double inv = 1.0 / step;
  for (int64_t i = 0; i < n; ++i) trellis.step(i, search(std::clamp(double(x[i]) * inv, -kMaxIndex, kMaxIndex)));
  return trellis.finish(x, n, step, sym, ctx);
}

}  // namespace
#endif

TcqFn tcq_kernel(const char* name) {
  if (std::strcmp(name, "scalar") == 0) return &tcq_quantize_scalar;
#ifdef __AVX2__
  if (std::strcmp(name, "avx2") == 0) return kernels::cpu_has_avx2() ? &tcq_quantize_avx2 : nullptr;
  if (std::strcmp(name, "avx512") == 0) return kernels::cpu_has_avx512() ? &tcq_quantize_avx512 : nullptr;
#endif
  return nullptr;
}

double tcq_quantize(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                    uint8_t* ctx) {
  static const TcqFn best = [] {
    for (const char* name : {"avx512", "avx2"})
      if (const TcqFn f = tcq_kernel(name)) return f;
    return TcqFn(&tcq_quantize_scalar);
  }();
  return best(x, n, step, lambda, rm, sym, ctx);
}

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

void tcq_dequantize(const int32_t* sym, int64_t n, float step, float* out) {
  TcqTracker t;
  for (int64_t i = 0; i < n; ++i) out[i] = t.next(sym[i], step);
}

void sq_dequantize(const int32_t* sym, int64_t n, float step, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(double(sym[i]) * step);
}

}  // namespace rbe::codec
