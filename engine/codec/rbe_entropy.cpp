// The entropy form's encoder: per block a generator record (optional), a
// transform-domain residual, ECTCQ (or ECSQ) and rANS; rate control by grade
// (per block step) or by a bits/weight budget (one global step, found by
// bisection); with min_block_size, a quadtree split search per tile. Payload
// layout: rbe_entropy_format.h and docs/format.md.
#include "codec/rbe_entropy.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "codec/metrics.h"
#include "codec/proxy_bits.h"
#include "codec/rbe_entropy_format.h"
#include "codec/records.h"
#include "codec/tcq.h"
#include "codec/transforms.h"
#include "tensor/dtype.h"

namespace rbe::codec {

namespace {

using Clock = std::chrono::steady_clock;

// λ = κ Δ² for the RD search (tuned on Gaussian data: the trellis' union
// codebook spacing is 2Δ, hence the larger κ).
constexpr double kKappaTcq = 0.35, kKappaSq = 0.1;
constexpr int kRecordBits = 80;  // u64 record + f16 amplitude

// Thread-safe progress and cancellation between blocks.
class Progress {
 public:
  Progress(const ProgressFn& fn, const CancelFn& cancel) : fn_(fn), cancel_(cancel) {}
  void stage(double lo, double hi, int64_t total) {
    lo_ = lo, hi_ = hi, total_ = std::max<int64_t>(1, total), done_ = 0;
    report(lo);
  }
  void tick() {
    check();
    const int64_t d = ++done_;
    if (fn_ && (d * 50 / total_ != (d - 1) * 50 / total_ || d == total_)) report(lo_ + (hi_ - lo_) * double(d) / double(total_));
  }
  void check() const {
    if (cancel_ && cancel_()) throw Cancelled();
  }
  void report(double f) {
    if (!fn_) return;
    std::lock_guard<std::mutex> lock(mu_);
    f = std::min(1.0, f);
    if (f < last_) return;  // ticks from several threads may arrive out of order
    last_ = f;
    fn_(f, "rbe entropy");
  }

 private:
  const ProgressFn& fn_;
  const CancelFn& cancel_;
  std::mutex mu_;
  double lo_ = 0, hi_ = 1, last_ = 0;
  int64_t total_ = 1;
  std::atomic<int64_t> done_{0};
};

// Runs f(block) over [0, n) in parallel; polls cancel before each block and,
// when `tick`, advances the current progress stage after it.
template <class F>
void for_blocks(int64_t n, Progress* pr, F&& f, bool tick = true) {
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t b = r.begin(); b < r.end(); ++b) {
      if (pr) pr->check();
      f(b);
      if (pr && tick) pr->tick();
    }
  });
}

struct Block {
  int64_t r0 = 0, c0 = 0;
  int rb = 0, cb = 0;
  uint64_t key = 0;           // rotation key (leaf_key)
  // The weights are read from the matrix when needed (block_weights), not
  // kept: a copy per block was 4 bytes a weight of the whole tensor.
  std::vector<float> coeffs;  // transform of the (rotated) residual
  Transform t = Transform::DCT;
  bool has_rec = false;
  DecodedParams rec;
  uint16_t amp = 0;    // f16 amplitude
  double energy = 0;   // sum of squares of the weights
  double coeff_rms = 0;
  // Rate control results.
  float step = 1.f;
  std::vector<int32_t> sym;
  std::vector<uint8_t> ctx;
  bool zero = false;
  int64_t n() const { return int64_t(rb) * cb; }
};

// The generator search: a few cheap records; returns the best by energy removed.
std::vector<DecodedParams> record_candidates() {
  std::vector<DecodedParams> v;
  DecodedParams p;
  p.basis = 0;
  v.push_back(p);
  for (int rot : {0, 4}) {
    p = DecodedParams{};
    p.basis = 6, p.rotation = rot;
    v.push_back(p);
    for (int basis : {1, 2})
      for (float r : {0.25f, 0.6f}) {
        p = DecodedParams{};
        p.basis = basis, p.rotation = rot, p.r = r;
        v.push_back(p);
      }
  }
  return v;
}

// The candidates generated for one block shape, and each one's energy: the
// same for every block of that shape, so made once per shape and thread
// (twelve generate_block calls a block were about a tenth of an encode).
// Kept for blocks up to 128 x 128 (11 candidates: 704 KiB) and a few shapes
// at a time (edge blocks and quadtree leaves add shapes).
struct CandidateBlocks {
  std::vector<std::vector<float>> g;
  std::vector<double> gg;
};
constexpr int64_t kMaxCachedCandidateWeights = 128 * 128;

const CandidateBlocks& candidate_blocks(const std::vector<DecodedParams>& cands, int rb, int cb) {
  constexpr size_t kMaxShapes = 16;
  thread_local std::map<std::pair<int, int>, CandidateBlocks> by_shape;
  auto it = by_shape.find({rb, cb});
  if (it == by_shape.end()) {
    if (by_shape.size() >= kMaxShapes) by_shape.clear();
    it = by_shape.emplace(std::pair{rb, cb}, CandidateBlocks{}).first;
    const int64_t n = int64_t(rb) * cb;
    for (const DecodedParams& p : cands) {
      std::vector<float> g(static_cast<size_t>(n));
      generate_block(p, rb, cb, g.data());
      double gg = 0;
      for (int64_t i = 0; i < n; ++i) gg += double(g[size_t(i)]) * g[size_t(i)];
      it->second.g.push_back(std::move(g));
      it->second.gg.push_back(gg);
    }
  }
  return it->second;
}

// Each candidate's energy gg and the block's projection on it, bg: from the
// cache for small blocks (all candidates in one pass over the block, their
// sums side by side, each still over the weights in order), else generated
// one at a time. The same sums either way.
void project_on_candidates(const Block& b, const float* orig, const std::vector<DecodedParams>& cands,
                           std::vector<double>& gg, std::vector<double>& bg) {
  gg.assign(cands.size(), 0.0);
  bg.assign(cands.size(), 0.0);
  if (b.n() > kMaxCachedCandidateWeights) {
    std::vector<float> g(static_cast<size_t>(b.n()));
    for (size_t k = 0; k < cands.size(); ++k) {
      generate_block(cands[k], b.rb, b.cb, g.data());
      for (int64_t i = 0; i < b.n(); ++i)
        gg[k] += double(g[size_t(i)]) * g[size_t(i)], bg[k] += double(orig[i]) * g[size_t(i)];
    }
    return;
  }
  const CandidateBlocks& c = candidate_blocks(cands, b.rb, b.cb);
  constexpr size_t kCands = 11;
  if (cands.size() != kCands) throw std::logic_error("fit_record: candidate count");
  std::array<double, kCands> sums{};
  std::array<const float*, kCands> gs;
  for (size_t k = 0; k < kCands; ++k) gs[k] = c.g[k].data();
  for (int64_t i = 0; i < b.n(); ++i) {
    const double o = double(orig[i]);
    for (size_t k = 0; k < kCands; ++k) sums[k] += o * gs[k][i];
  }
  std::copy(c.gg.begin(), c.gg.end(), gg.begin());
  std::copy(sums.begin(), sums.end(), bg.begin());
}

// Residual after the best record (amplitude f16-rounded, generated exactly as the decoder does).
bool fit_record(const Block& b, const float* orig, DecodedParams& rec, uint16_t& amp, std::vector<float>& residual) {
  static const std::vector<DecodedParams> cands = record_candidates();
  std::vector<double> ggs, bgs;
  project_on_candidates(b, orig, cands, ggs, bgs);
  double best_gain = 0;
  bool found = false;
  for (size_t k = 0; k < cands.size(); ++k) {
    const double gg = ggs[k], bg = bgs[k];
    if (gg <= 0) continue;
    const double gain = bg * bg / gg;
    if (gain > best_gain) {
      best_gain = gain, found = true;
      rec = cands[k];
      rec.amplitude = float(bg / gg);
    }
  }
  if (!found) return false;
  amp = f32_to_f16(rec.amplitude);
  rec.amplitude = f16_to_f32(amp);
  if (!std::isfinite(rec.amplitude) || rec.amplitude == 0.f) return false;
  std::vector<float> g(static_cast<size_t>(b.n()));
  generate_block(rec, b.rb, b.cb, g.data());
  residual.resize(size_t(b.n()));
  for (int64_t i = 0; i < b.n(); ++i) residual[size_t(i)] = orig[i] - g[size_t(i)];
  return true;
}

// Rotation (optional) and the transform with the fewest estimated bits.
void to_coefficients(const std::vector<float>& spatial, const Block& b, bool rotate, uint64_t seed, Transform want,
                     double step0, std::vector<float>& best, Transform& best_t, double& best_bits) {
  std::vector<float> base = spatial;
  if (rotate) rotate_block(base.data(), b.rb, b.cb, seed, b.key, false);
  best_bits = INFINITY;
  for (Transform t : {Transform::DCT, Transform::Haar, Transform::CDF97}) {
    if (want != Transform::Adaptive && t != want) continue;
    std::vector<float> c = base;
    forward_transform(t, c.data(), b.rb, b.cb);
    const double bits = proxy_bits(c.data(), c.size(), step0);
    if (bits < best_bits) best_bits = bits, best = std::move(c), best_t = t;
  }
}

double quantize(Block& b, float step, const RateModel& rm, bool tcq) {
  b.sym.resize(size_t(b.n()));
  b.ctx.resize(size_t(b.n()));
  const float lambda = float((tcq ? kKappaTcq : kKappaSq) * double(step) * step);
  return tcq ? tcq_quantize(b.coeffs.data(), b.n(), step, lambda, rm, b.sym.data(), b.ctx.data())
             : sq_quantize(b.coeffs.data(), b.n(), step, lambda, rm, b.sym.data(), b.ctx.data());
}

RateModel prior_model(const Block& b, float step, bool tcq) {
  return RateModel::gaussian(std::max(b.coeff_rms, 1e-30) / step, tcq);
}

// Symbol counts per context over the given blocks (zero blocks excluded).
struct Counts {
  int32_t lo[2] = {0, 0};
  std::vector<uint64_t> c[2];
  bool any[2] = {false, false};
};

// The symbols' range per context, then their counts, each in parallel over
// the blocks (integer counts: the same whatever the split).
Counts count_symbols(const std::vector<Block>& blocks, const std::vector<int64_t>& which) {
  using Range = tbb::blocked_range<size_t>;
  struct MinMax {
    int32_t mn[2] = {INT32_MAX, INT32_MAX}, mx[2] = {INT32_MIN, INT32_MIN};
  };
  const MinMax r = tbb::parallel_reduce(
      Range(0, which.size(), 8), MinMax{},
      [&](const Range& rg, MinMax m) {
        // In four scalars, not m.mn[ctx]: indexed by the context, every
        // symbol waited on the last one's store.
        int32_t mn0 = m.mn[0], mx0 = m.mx[0], mn1 = m.mn[1], mx1 = m.mx[1];
        for (size_t k = rg.begin(); k < rg.end(); ++k) {
          const Block& b = blocks[size_t(which[k])];
          if (b.zero) continue;
          const int32_t* sym = b.sym.data();
          const uint8_t* ctx = b.ctx.data();
          for (size_t i = 0; i < b.sym.size(); ++i) {
            // Selected by masks, not branches: the contexts alternate unpredictably.
            const int32_t e = escape_symbol(sym[i]), one = -int32_t(ctx[i] != 0);
            mn0 = std::min(mn0, (e & ~one) | (INT32_MAX & one)), mx0 = std::max(mx0, (e & ~one) | (INT32_MIN & one));
            mn1 = std::min(mn1, (e & one) | (INT32_MAX & ~one)), mx1 = std::max(mx1, (e & one) | (INT32_MIN & ~one));
          }
        }
        m.mn[0] = mn0, m.mx[0] = mx0, m.mn[1] = mn1, m.mx[1] = mx1;
        return m;
      },
      [](MinMax a, const MinMax& b) {
        for (int c = 0; c < 2; ++c) a.mn[c] = std::min(a.mn[c], b.mn[c]), a.mx[c] = std::max(a.mx[c], b.mx[c]);
        return a;
      });
  Counts out;
  for (int c = 0; c < 2; ++c) {
    out.any[c] = r.mn[c] <= r.mx[c];
    out.lo[c] = out.any[c] ? r.mn[c] : 0;
    out.c[c].assign(out.any[c] ? size_t(int64_t(r.mx[c]) - r.mn[c] + 1) : 1, 0);
  }
  // One histogram per thread, not a copy per sub-range: a context's table
  // runs to 2 kEscape + 1 entries when symbols reach the escapes.
  using Hist = std::array<std::vector<uint64_t>, 2>;
  tbb::enumerable_thread_specific<Hist> local(
      [&] { return Hist{std::vector<uint64_t>(out.c[0].size(), 0), std::vector<uint64_t>(out.c[1].size(), 0)}; });
  tbb::parallel_for(Range(0, which.size(), 8), [&](const Range& rg) {
    Hist& acc = local.local();
    for (size_t k = rg.begin(); k < rg.end(); ++k) {
      const Block& b = blocks[size_t(which[k])];
      if (b.zero) continue;
      for (size_t i = 0; i < b.sym.size(); ++i) ++acc[b.ctx[i]][size_t(escape_symbol(b.sym[i]) - out.lo[b.ctx[i]])];
    }
  });
  for (const Hist& part : local)
    for (int c = 0; c < 2; ++c)
      for (size_t i = 0; i < out.c[c].size(); ++i) out.c[c][i] += part[size_t(c)][i];
  for (int c = 0; c < 2; ++c)
    if (!out.any[c]) out.c[c][0] = 1;  // a placeholder so the table exists
  return out;
}

// Symbols at ±kEscape among the counted ones (each costs 32 more bits).
uint64_t escaped(const Counts& cnt) {
  uint64_t n = 0;
  for (int c = 0; c < 2; ++c) {
    if (!cnt.any[c]) continue;
    for (int32_t e : {-kEscape, kEscape}) {
      const int64_t i = int64_t(e) - cnt.lo[c];
      if (i >= 0 && i < int64_t(cnt.c[c].size())) n += cnt.c[c][size_t(i)];
    }
  }
  return n;
}

bool all_zero(const Block& b) {
  for (size_t i = 0; i < b.sym.size(); ++i)
    if (b.sym[i] != 0 || b.ctx[i] != 0) return false;
  return true;
}

// Two passes at one step over `which`: a Gaussian prior per block, then the
// pooled empirical model of the first pass. Returns the estimated payload bits
// of those blocks (entropy + per-block headers) and the serialised table bytes.
double trial(std::vector<Block>& blocks, const std::vector<int64_t>& which, float step, bool tcq, Progress* pr,
             int64_t* table_bytes) {
  tbb::parallel_for(tbb::blocked_range<size_t>(0, which.size(), 1), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t k = r.begin(); k < r.end(); ++k) {
      if (pr) pr->check();
      Block& b = blocks[size_t(which[k])];
      b.step = step;
      quantize(b, step, prior_model(b, step, tcq), tcq);
      b.zero = all_zero(b);
    }
  });
  Counts cnt = count_symbols(blocks, which);
  const RateModel rm = RateModel::from_counts(cnt.c, cnt.lo, tcq ? 2 : 1);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, which.size(), 1), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t k = r.begin(); k < r.end(); ++k) {
      if (pr) pr->check();
      Block& b = blocks[size_t(which[k])];
      quantize(b, step, rm, tcq);
      b.zero = all_zero(b);
    }
  });
  cnt = count_symbols(blocks, which);
  double bits = 0;
  for (int c = 0; c < (tcq ? 2 : 1); ++c)
    if (cnt.any[c]) bits += entropy_bits(cnt.c[c]);
  for (int64_t k : which) {
    const Block& b = blocks[size_t(k)];
    bits += 8.0 * (b.zero ? 7 : 11) + (b.has_rec ? kRecordBits : 0);
  }
  bits += 32.0 * double(escaped(cnt));  // integers all along: the same sum in any order
  if (table_bytes) {
    std::vector<uint8_t> tmp;
    for (int c = 0; c < (tcq ? 2 : 1); ++c) FreqTable::from_counts(cnt.lo[c], cnt.c[c]).serialize(tmp);
    *table_bytes = int64_t(tmp.size()) + 1;
  }
  return bits;
}

// Block b's weights, row-major [rb, cb], copied out of the matrix w (cols wide).
std::vector<float> block_weights(const Block& b, const float* w, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(b.n()));
  for (int i = 0; i < b.rb; ++i)
    std::copy(w + (b.r0 + i) * cols + b.c0, w + (b.r0 + i) * cols + b.c0 + b.cb, out.data() + int64_t(i) * b.cb);
  return out;
}

// Grade mode: the largest step whose reconstruction meets the bound, per block
// (w, cols wide: the matrix).
void fit_grade_step(Block& b, const float* w, int64_t cols, double bound, bool tcq, bool rotate, uint64_t seed) {
  if (b.energy == 0) {
    b.step = 1.f;
    b.sym.assign(size_t(b.n()), 0);
    b.ctx.assign(size_t(b.n()), 0);
    b.zero = true;
    return;
  }
  const double emax = bound * bound * b.energy * (1 - 1e-9);
  double step = std::max(bound * std::sqrt(12.0 * b.energy / double(b.n())), 1e-30);
  std::vector<float> deq(size_t(b.n())), rec(size_t(b.n()));
  const std::vector<float> orig = block_weights(b, w, cols);
  auto spatial_error = [&]() {
    if (tcq) tcq_dequantize(b.sym.data(), b.n(), b.step, deq.data());
    else sq_dequantize(b.sym.data(), b.n(), b.step, deq.data());
    reconstruct_block(deq.data(), b.rb, b.cb, b.t, rotate, seed, b.key, b.has_rec ? &b.rec : nullptr, rec.data());
    return sum_sq_diff(orig.data(), rec.data(), b.n());
  };
  // Newton steps on log Δ (error ∝ Δ²), then back off until the real decode meets the bound.
  for (int it = 0; it < 4; ++it) {
    b.step = float(step);
    const double d = quantize(b, b.step, prior_model(b, b.step, tcq), tcq);
    if (d <= 0) { step *= 4; continue; }
    step *= std::clamp(std::sqrt(emax / d), 0.25, 4.0) * 0.995;
  }
  for (int it = 0; it < 60; ++it) {
    b.step = float(step);
    quantize(b, b.step, prior_model(b, b.step, tcq), tcq);
    const double e = spatial_error();
    if (e <= emax) break;
    step *= std::clamp(0.98 * std::sqrt(emax / e), 0.5, 0.98);
  }
  b.zero = all_zero(b);
}

void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}

// Serialises every block, the split flags (quadtree payloads) and the directory into the payload.
std::vector<uint8_t> assemble(std::vector<Block>& blocks, bool tcq, Progress* pr, const std::vector<uint8_t>* split) {
  std::vector<int64_t> all(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) all[i] = int64_t(i);
  const Counts cnt = count_symbols(blocks, all);
  std::vector<FreqTable> tables;
  for (int c = 0; c < (tcq ? 2 : 1); ++c) tables.push_back(FreqTable::from_counts(cnt.lo[c], cnt.c[c]));
  const RansEncodeTables enc(tables);
  std::vector<std::vector<uint8_t>> body(blocks.size());
  for_blocks(int64_t(blocks.size()), pr, [&](int64_t k) {
    const Block& b = blocks[size_t(k)];
    auto& out = body[size_t(k)];
    out.push_back(uint8_t(uint8_t(b.t) | (b.has_rec ? kFlagRecord : 0) | (b.zero ? kFlagZero : 0)));
    put_bytes(out, &b.step, 4);
    if (b.has_rec) {
      const Packed128 pk = Packed128::from_params(b.rec);
      put_bytes(out, &pk.hi, 8);
      put_bytes(out, &b.amp, 2);
    }
    if (!b.zero) enc.encode_append(b.ctx.data(), b.sym.data(), b.sym.size(), out);
  }, /*tick=*/false);
  std::vector<uint8_t> payload;
  payload.push_back(uint8_t(tables.size()));
  for (const auto& t : tables) t.serialize(payload);
  if (split) {
    put_varint(payload, split->size());
    payload.insert(payload.end(), split->begin(), split->end());
  }
  put_varint(payload, blocks.size());
  for (const auto& b : body) put_varint(payload, b.size());
  for (const auto& b : body) payload.insert(payload.end(), b.begin(), b.end());
  return payload;
}

const char* generator_name(RbeEntropyOptions::Generator g) {
  switch (g) {
    case RbeEntropyOptions::Generator::Off: return "off";
    case RbeEntropyOptions::Generator::Force: return "force";
    default: return "auto";
  }
}

// What every block of one tensor shares.
struct Context {
  const float* w = nullptr;
  int64_t rows = 0, cols = 0;
  int B = 64, min_size = 64;  // tile edge, smallest leaf edge
  bool tcq = true, rotate = true, by_bpw = false;
  uint64_t seed = 0;
  Transform transform = Transform::Adaptive;
  RbeEntropyOptions::Generator generator = RbeEntropyOptions::Generator::Auto;
  double bpw = 0, rms = 0, bound = 0;
};

// Block geometry -> weights, generator record (when it pays), rotation, transform.
void prepare_block(Block& b, const Context& cx) {
  const std::vector<float> orig = block_weights(b, cx.w, cx.cols);
  b.energy = sum_sq(orig.data(), b.n());
  const double brms = std::sqrt(b.energy / double(b.n()));
  const double step0 = std::max(1e-30, cx.by_bpw ? cx.rms * 4.13 * std::exp2(-cx.bpw) : cx.bound * std::sqrt(12.0) * brms);
  double bits_plain;
  to_coefficients(orig, b, cx.rotate, cx.seed, cx.transform, step0, b.coeffs, b.t, bits_plain);
  if (cx.generator != RbeEntropyOptions::Generator::Off && b.energy > 0) {
    DecodedParams rec;
    uint16_t amp;
    std::vector<float> resid, coeffs;
    Transform t;
    double bits_rec;
    if (fit_record(b, orig.data(), rec, amp, resid)) {
      to_coefficients(resid, b, cx.rotate, cx.seed, cx.transform, step0, coeffs, t, bits_rec);
      if (cx.generator == RbeEntropyOptions::Generator::Force || bits_rec + kRecordBits < bits_plain) {
        b.has_rec = true, b.rec = rec, b.amp = amp, b.coeffs = std::move(coeffs), b.t = t;
      }
    }
  }
  b.coeff_rms = std::sqrt(sum_sq(b.coeffs.data(), b.n()) / double(b.n()));
}

// Bits/weight budget: one Δ for every block (equal slope), found by secant /
// bisection steps on a sample of blocks, then full passes that raise Δ until
// the real payload fits. Progress over [p0, p1). Returns the payload; *step_out = Δ.
std::vector<uint8_t> rate_control_bpw(std::vector<Block>& blocks, const Context& cx, const std::vector<uint8_t>* split,
                                      Progress& pr, double p0, double p1, float* step_out) {
  const bool tcq = cx.tcq;
  const int64_t rows = cx.rows, cols = cx.cols, nblocks = int64_t(blocks.size());
  const double budget_bits = cx.bpw * double(rows * cols);
  // Bisection on log Δ over a sample of blocks (every k-th, about 256K weights).
  const int64_t per = std::max<int64_t>(1, (rows * cols) / std::max<int64_t>(1, int64_t(1) << 18));
  std::vector<int64_t> sample, all;
  for (int64_t k = 0; k < nblocks; ++k) {
    all.push_back(k);
    if (k % per == 0) sample.push_back(k);
  }
  int64_t sample_weights = 0;
  for (int64_t k : sample) sample_weights += blocks[size_t(k)].n();
  const double scale = double(rows * cols) / double(sample_weights);
  double maxc = 0;
  for (const Block& b : blocks)
    for (float v : b.coeffs) maxc = std::max(maxc, double(std::fabs(v)));
  auto estimate = [&](double step, const std::vector<int64_t>& which, double sc) {
    int64_t tb = 0;
    const double bits = trial(blocks, which, float(step), tcq, &pr, &tb);
    return bits * sc + 8.0 * double(tb + (split ? int64_t(split->size()) + 2 : 0));
  };
  // Rate falls by about one bit per weight per doubling of Δ: start from the
  // Gaussian high-rate estimate, then secant steps on log Δ inside a bracket
  // [lo: over budget, hi: within budget], bisecting when a step leaves it.
  double lo = 0, hi = 0, r_lo = 0, r_hi = 0;
  double step = std::max(cx.rms, 1e-30) * 4.13 * std::exp2(-cx.bpw) * (tcq ? 0.5 : 1.0);
  const double mid = p0 + 0.4 * (p1 - p0);
  pr.stage(p0, mid, 16);
  for (int it = 0; it < 16; ++it) {
    const double r = estimate(step, sample, scale);
    pr.tick();
    if (r <= budget_bits) {
      if (hi == 0 || step < hi) hi = step, r_hi = r;
      if (r >= budget_bits * 0.997) break;  // close enough below the budget
    } else if (lo == 0 || step > lo) {
      lo = step, r_lo = r;
    }
    double next;
    if (lo > 0 && hi > 0) {
      if (hi / lo < 1.0005) break;
      // Secant on (log Δ, bits), aiming just under the budget.
      const double target = budget_bits * 0.999;
      const double t = (std::log(r_lo) - std::log(target)) / (std::log(r_lo) - std::log(r_hi));
      next = std::exp(std::log(lo) + std::clamp(t, 0.1, 0.9) * (std::log(hi) - std::log(lo)));
    } else {
      next = step * std::exp2((r - budget_bits * 0.999) / double(rows * cols));
      if (hi == 0 && step >= std::max(maxc, 1e-30) * 4) break;  // all zero and still over
    }
    step = next;
  }
  if (hi == 0) hi = step;
  // Full passes; raise Δ while the real payload is over budget. Near the
  // budget at a low rate the payload's bytes move in steps, and the rate's
  // slope asks for raises too small to cross one: after the first raise,
  // each raises Δ by at least 1%, 2%, 4%, ... (doubling), so Δ reaches the
  // all-zero step (4 x the largest coefficient) within about a dozen more
  // passes. Only a payload over budget there cannot meet it. (With the slope
  // alone and eight attempts, a 41 x 35 matrix at 2 bits/weight stopped 2
  // bits over: tests/test_codec_rbe_entropy.cpp.)
  step = hi;
  pr.stage(mid, p1, 8);
  std::vector<uint8_t> payload;
  const double all_zero = std::max(maxc, 1e-30) * 4;
  for (int attempt = 0;; ++attempt) {
    trial(blocks, all, float(step), tcq, &pr, nullptr);
    payload = assemble(blocks, tcq, &pr, split);
    const double bits = 8.0 * double(payload.size());
    if (attempt < 8) pr.tick();
    else pr.check();
    if (bits <= budget_bits) break;
    if (step >= all_zero)
      throw std::runtime_error("rbe entropy: cannot meet " + std::to_string(cx.bpw) + " bits/weight (smallest reached: " +
                               std::to_string(bits / double(rows * cols)) + ")");
    const double slope = std::exp2((bits - budget_bits) / double(rows * cols)) * 1.002;
    const double least = attempt == 0 ? 1.0 : 1.0 + 0.01 * std::exp2(std::min(attempt - 1, 20));
    step = std::min(all_zero, step * std::max(slope, least));
  }
  *step_out = float(step);
  return payload;
}

// Records plus nonzero residual symbols, for the metadata.
int64_t coefficients_kept(const std::vector<Block>& blocks) {
  int64_t kept = 0;
  for (const Block& b : blocks) {
    kept += b.has_rec ? 1 : 0;
    if (!b.zero)
      for (int32_t v : b.sym) kept += v != 0;
  }
  return kept;
}

// ---- quadtree search (min_block_size < block_size) ----

// Estimated payload bits of a quantized block under the pooled model.
double leaf_bits(const Block& b, const RateModel& rm) {
  double bits = 8.0 * (b.zero ? 7 : 11) + (b.has_rec ? kRecordBits : 0);
  if (!b.zero)
    for (size_t i = 0; i < b.sym.size(); ++i) bits += rm.cost(b.ctx[i], b.sym[i]);
  return bits;
}

// How a tile (or a node of it) is best coded: its leaves in pre-order, the
// split flags of the subtree in pre-order, and the cost.
struct Subtree {
  double cost = 0;
  std::vector<Block> leaves;
  std::vector<bool> flags;
};

// The cost model of one search: bits at the grade (each leaf fitted to it),
// or D + λ·bits at the bits/weight slope λ = κΔ².
struct SearchModel {
  const Context* cx = nullptr;
  RateModel rm;      // pooled over the unsplit tiles
  float step = 0;    // bits/weight: the tiles' Δ
  double lambda = 0;
  // Quantizes b (unless `fitted`: grade mode's tiles already are) and returns its cost.
  double leaf_cost(Block& b, bool fitted) const {
    if (!cx->by_bpw) {
      if (!fitted) fit_grade_step(b, cx->w, cx->cols, cx->bound, cx->tcq, cx->rotate, cx->seed);
      return leaf_bits(b, rm);
    }
    b.step = step;
    const double d = quantize(b, step, rm, cx->tcq);
    b.zero = all_zero(b);
    return d + lambda * leaf_bits(b, rm);
  }
  double flag_cost() const { return cx->by_bpw ? lambda : 1.0; }
};

// Best coding of node b (edge S, depth d in tile `tile`): as one leaf, or split
// into its four (clipped) halves, each coded best; recursive.
Subtree search(Block&& b, int S, int depth, int64_t tile, bool fitted, const SearchModel& sm, Progress& pr) {
  pr.check();
  const Context& cx = *sm.cx;
  const bool can_split = S > cx.min_size;
  Subtree leaf;
  leaf.cost = sm.leaf_cost(b, fitted) + (can_split ? sm.flag_cost() : 0.0);
  if (can_split) leaf.flags.push_back(false);
  if (!can_split) {
    leaf.leaves.push_back(std::move(b));
    return leaf;
  }
  Subtree split;
  split.cost = sm.flag_cost();
  split.flags.push_back(true);
  const int h = S / 2;
  for (int dr : {0, h})
    for (int dc : {0, h}) {
      if (b.r0 + dr >= cx.rows || b.c0 + dc >= cx.cols) continue;
      Block c;
      c.r0 = b.r0 + dr, c.c0 = b.c0 + dc;
      c.rb = int(std::min<int64_t>(h, cx.rows - c.r0)), c.cb = int(std::min<int64_t>(h, cx.cols - c.c0));
      c.key = leaf_key(tile, depth + 1, c.r0, c.c0);
      prepare_block(c, cx);
      Subtree sub = search(std::move(c), h, depth + 1, tile, false, sm, pr);
      split.cost += sub.cost;
      for (Block& x : sub.leaves) split.leaves.push_back(std::move(x));
      split.flags.insert(split.flags.end(), sub.flags.begin(), sub.flags.end());
    }
  if (split.cost < leaf.cost) return split;
  leaf.leaves.push_back(std::move(b));
  return leaf;
}

}  // namespace

void check_min_block_size(int block_size, int min_block_size) {
  const int B = block_size, m = min_block_size;
  if (m == 0 || m == B) return;
  auto pow2 = [](int v) { return v > 0 && (v & (v - 1)) == 0; };
  if (!pow2(m) || m < 8)
    throw std::invalid_argument("min_block_size must be 0 (no splitting) or a power of two >= 8, got " + std::to_string(m));
  if (m > B)
    throw std::invalid_argument("min_block_size " + std::to_string(m) + " is larger than block_size " + std::to_string(B));
  if (B % m != 0 || !pow2(B / m))
    throw std::invalid_argument("min_block_size " + std::to_string(m) + " must be block_size " + std::to_string(B) +
                                " halved one or more times (block_size / min_block_size a power of two)");
}

EncodedTensor encode_rbe_entropy(const Tensor& W, const CodecSettings& s, const ProgressFn& progress,
                                 const CancelFn& cancel) {
  return encode_rbe_entropy(W, s, progress, cancel, RbeEntropyOptions{});
}

EncodedTensor encode_rbe_entropy(const Tensor& W, const CodecSettings& s, const ProgressFn& progress,
                                 const CancelFn& cancel, const RbeEntropyOptions& opt) {
  const auto t0 = Clock::now();
  if (!W.defined() || W.shape().size() != 2) throw std::invalid_argument("rbe entropy: expected a 2-D tensor");
  const Tensor Wc = W.to(DType::F32).contiguous();
  const int64_t rows = Wc.shape()[0], cols = Wc.shape()[1];
  if (rows <= 0 || cols <= 0) throw std::invalid_argument("rbe entropy: empty tensor");
  if (s.block_size < 4 || s.block_size > 256)
    throw std::invalid_argument("rbe entropy: block_size must be in [4, 256], got " + std::to_string(s.block_size));
  try {
    check_min_block_size(s.block_size, s.min_block_size);
  } catch (const std::invalid_argument& ex) {
    throw std::invalid_argument(std::string("rbe entropy: ") + ex.what());
  }
  if (s.bpw && !(*s.bpw > 0 && std::isfinite(*s.bpw)))
    throw std::invalid_argument("rbe entropy: bits per weight must be > 0");
  const float* w = Wc.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i])) throw std::invalid_argument("rbe entropy: the tensor has a non-finite value at " + std::to_string(i));

  Context cx;
  cx.w = w, cx.rows = rows, cx.cols = cols;
  cx.B = s.block_size;
  cx.min_size = s.min_block_size > 0 ? s.min_block_size : s.block_size;
  cx.tcq = opt.tcq, cx.rotate = opt.rotate, cx.seed = s.seed, cx.transform = s.transform, cx.generator = opt.generator;
  cx.by_bpw = s.bpw.has_value();
  cx.bpw = s.bpw.value_or(0.0);
  cx.rms = std::sqrt(sum_sq(w, rows * cols) / double(rows * cols));
  cx.bound = grade_bound(s.grade.value_or(QualityGrade::A));
  const int B = cx.B;
  bool quadtree = cx.min_size < B;  // cleared when no tile splits: then the plain form is stored
  const int64_t nbr = (rows + B - 1) / B, nbc = (cols + B - 1) / B, ntiles = nbr * nbc;
  Progress pr(progress, cancel);
  // Progress: [0, a) tiles prepared, [a, b) their rate control, [b, c) the
  // quadtree search and the leaves' rate control, [c, 1) measurement.
  const double pa = quadtree ? 0.15 : 0.3, pb = quadtree ? 0.4 : 0.8, pc = 0.8;

  // 1. Tiles: record, rotation, transform.
  std::vector<Block> blocks(static_cast<size_t>(ntiles));
  pr.stage(0.0, pa, ntiles);
  for_blocks(ntiles, &pr, [&](int64_t k) {
    Block& b = blocks[size_t(k)];
    b.r0 = (k / nbc) * B, b.c0 = (k % nbc) * B;
    b.rb = int(std::min<int64_t>(B, rows - b.r0)), b.cb = int(std::min<int64_t>(B, cols - b.c0));
    b.key = leaf_key(k, 0, b.r0, b.c0);
    prepare_block(b, cx);
  });

  // 2. Rate control and quantization of the tiles.
  std::vector<uint8_t> payload;
  float step = 0;
  if (!cx.by_bpw) {
    pr.stage(pa, pb, ntiles);
    for_blocks(ntiles, &pr, [&](int64_t k) {
      fit_grade_step(blocks[size_t(k)], cx.w, cx.cols, cx.bound, cx.tcq, cx.rotate, cx.seed);
    });
    payload = assemble(blocks, cx.tcq, nullptr, nullptr);
  } else {
    payload = rate_control_bpw(blocks, cx, nullptr, pr, pa, pb, &step);
  }

  int64_t kept = coefficients_kept(blocks);

  // 3. Quadtree: per tile the split with the least cost, measured with the
  // tiles' pooled symbol statistics; then the leaves' own rate control. When
  // no tile splits, the tiles' payload above stands (format_version 1).
  if (quadtree) {
    SearchModel sm;
    sm.cx = &cx;
    std::vector<int64_t> all(blocks.size());
    for (size_t i = 0; i < blocks.size(); ++i) all[i] = int64_t(i);
    const Counts cnt = count_symbols(blocks, all);
    sm.rm = RateModel::from_counts(cnt.c, cnt.lo, cx.tcq ? 2 : 1);
    sm.step = step;
    sm.lambda = (cx.tcq ? kKappaTcq : kKappaSq) * double(step) * step;
    std::vector<Subtree> trees(static_cast<size_t>(ntiles));
    const double pm = cx.by_bpw ? pb + 0.6 * (pc - pb) : pc;
    pr.stage(pb, pm, ntiles);
    for_blocks(ntiles, &pr, [&](int64_t k) { trees[size_t(k)] = search(std::move(blocks[size_t(k)]), B, 0, k, !cx.by_bpw, sm, pr); });
    blocks.clear();
    SplitBitWriter flags;
    quadtree = false;
    for (Subtree& t : trees) {
      for (Block& b : t.leaves) blocks.push_back(std::move(b));
      for (bool f : t.flags) flags.put(f), quadtree |= f;
      t = Subtree{};
    }
    if (quadtree) {
      if (!cx.by_bpw) payload = assemble(blocks, cx.tcq, nullptr, &flags.bytes());
      else payload = rate_control_bpw(blocks, cx, &flags.bytes(), pr, pm, pc, &step);
      kept = coefficients_kept(blocks);
    }
  }
  const int64_t nblocks = int64_t(blocks.size());
  // The payload holds them now: the blocks' coefficients and symbols (9
  // bytes a weight) go before the decode below takes 4 of its own.
  for (Block& b : blocks) b.coeffs = {}, b.sym = {}, b.ctx = {};

  // 4. Measure against the real decode.
  EncodedTensor e;
  e.codec = "rbe";
  e.storage = Storage::Entropy;
  e.rows = rows, e.cols = cols;
  e.params = {{"format_version", quadtree ? 2 : 1},
              {"block_size", B},
              {"transform", transform_name(s.transform)},
              {"seed", s.seed},
              {"rotate", cx.rotate},
              {"generator", generator_name(opt.generator)},
              {"quantizer", cx.tcq ? "tcq" : "sq"}};
  if (quadtree) e.params["min_block_size"] = cx.min_size;
  e.set_owned(std::move(payload));
  pr.stage(pc, 1.0, nblocks);
  const RbeEntropyView view(e);
  std::vector<float> dec(static_cast<size_t>(rows * cols));
  decode_rbe_entropy(e, dec.data());
  e.blocks.resize(size_t(nblocks));
  const double side_per_weight = 8.0 * double(view.side_bytes()) / double(rows * cols);
  for_blocks(nblocks, &pr, [&](int64_t k) {
    const Block& b = blocks[size_t(k)];
    double e2 = 0;
    for (int i = 0; i < b.rb; ++i)
      e2 += sum_sq_diff(w + (b.r0 + i) * cols + b.c0, dec.data() + (b.r0 + i) * cols + b.c0, b.cb);
    BlockStats& st = e.blocks[size_t(k)];
    st.row0 = int32_t(b.r0), st.col0 = int32_t(b.c0), st.rows = b.rb, st.cols = b.cb;
    st.rmse = float(std::sqrt(e2 / double(b.n())));
    const double rel = b.energy > 0 ? std::sqrt(e2 / b.energy) : (e2 > 0 ? INFINITY : 0.0);
    st.rel_rmse = float(rel);
    st.grade = grade_for(rel);
    st.bits = float(8.0 * double(view.block_bytes(k)) + side_per_weight * double(b.n()));
  });
  CompressionMetadata& m = e.meta;
  m.block_size = B;
  m.weights = rows * cols;
  m.bytes = e.size;
  m.bits_per_weight = 8.0 * double(e.size) / double(m.weights);
  m.rmse = rmse(w, dec.data(), m.weights);
  m.rel_rmse = rel_rmse(w, dec.data(), m.weights);
  m.snr_db = snr_db(w, dec.data(), m.weights);
  m.coefficient_count = kept;
  m.encode_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  pr.report(1.0);
  return e;
}

}  // namespace rbe::codec
