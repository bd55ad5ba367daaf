// Encoders and decoders of the fixed-rate forms q8_0, q4_0 and rbe fixed
// (layouts in fixed_layout.h): round-to-nearest, or GPTQ/LDLQ error feedback
// with a calibration Hessian; rbe fixed rotates rows by a randomized Hadamard
// transform first and picks each group's scale by an MSE search.
#include "codec/fixed_rate.h"

#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "codec/fixed_internal.h"
#include "codec/gptq.h"
#include "codec/hadamard.h"
#include "codec/metrics.h"
#include "io/json_integer.h"

namespace rbe::codec {
namespace {

using fixed::Kind;
using fixed::Layout;

float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

// ---- per-form group quantizers (scale choice + rounding of one value) ----

GroupQuantizer q8_0_quantizer() {
  GroupQuantizer q;
  q.group = fixed::kSub;
  q.scale = [](const float* w, int n) {
    float amax = 0;
    for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(w[i]));
    return f16_round(amax / 127.f);
  };
  q.round = [](float w, float d, float* deq) -> uint8_t {
    const int v = d > 0 ? int(std::clamp(std::nearbyint(w / d), -127.f, 127.f)) : 0;
    *deq = d * float(v);
    return uint8_t(int8_t(v));
  };
  return q;
}

GroupQuantizer q4_0_quantizer() {
  GroupQuantizer q;
  q.group = fixed::kSub;
  q.scale = [](const float* w, int n) {  // the largest-magnitude value maps to level -8
    float m = 0;
    for (int i = 0; i < n; ++i)
      if (std::fabs(w[i]) > std::fabs(m)) m = w[i];
    return f16_round(m / -8.f);
  };
  q.round = [](float w, float d, float* deq) -> uint8_t {
    const int c = d != 0 ? int(std::clamp(std::nearbyint(w / d) + 8.f, 0.f, 15.f)) : 8;
    *deq = d * float(c - 8);
    return uint8_t(c);
  };
  return q;
}

struct Codebook {
  int n = 0;
  float level[16]{}, thresh[15]{};
  explicit Codebook(const Layout& L) : n(1 << L.bits) {
    for (int c = 0; c < n; ++c) level[c] = float(L.levels[size_t(c)]);
    for (int c = 0; c + 1 < n; ++c) thresh[c] = 0.5f * (level[c] + level[c + 1]);
  }
  int nearest(float t) const {  // t in level units; branchless binary search over the thresholds
    int c = 0;
    for (int step = n / 2; step >= 1; step /= 2) c += (t > thresh[c + step - 1]) ? step : 0;
    return c;
  }
  // Squared error of w quantized with scale d: the scale search's inner loop
  // (three quarters of an rbe compression's time before it was vectorized).
  double sq_err(const float* w, int n_w, float d) const {
    const float inv = 1.f / d;
#ifdef __AVX2__
    if (n_w % 8 == 0) return sq_err_avx2(w, n_w, d, inv);
#endif
    double e = 0;
    for (int i = 0; i < n_w; ++i) {
      const float r = std::fma(-d, level[nearest(w[i] * inv)], w[i]);
      e = std::fma(double(r), double(r), e);
    }
    return e;
  }

#ifdef __AVX2__
  // The same, 8 weights at a time: each weight's level is the count of
  // thresholds below it (what nearest's search finds, thresholds ascending),
  // and its error the same single-rounding r = w - d * level as above. Only
  // the order of the double sum differs (two 4-lane sums).
  double sq_err_avx2(const float* w, int n_w, float d, float inv) const {
    const __m256 vinv = _mm256_set1_ps(inv), vd = _mm256_set1_ps(d);
    const __m256 lo = _mm256_loadu_ps(level), hi = _mm256_loadu_ps(level + 8);
    const __m256i seven = _mm256_set1_epi32(7);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    for (int i = 0; i < n_w; i += 8) {
      const __m256 x = _mm256_loadu_ps(w + i);
      const __m256 t = _mm256_mul_ps(x, vinv);
      __m256i c = _mm256_setzero_si256();
      for (int k = 0; k + 1 < n; ++k)  // a true compare is -1: subtracting counts it
        c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(t, _mm256_set1_ps(thresh[k]), _CMP_GT_OQ)));
      __m256 lv = _mm256_permutevar8x32_ps(lo, c);
      if (n > 8)
        lv = _mm256_blendv_ps(lv, _mm256_permutevar8x32_ps(hi, c), _mm256_castsi256_ps(_mm256_cmpgt_epi32(c, seven)));
      const __m256 r = _mm256_fnmadd_ps(vd, lv, x);
      const __m256d r0 = _mm256_cvtps_pd(_mm256_castps256_ps128(r)), r1 = _mm256_cvtps_pd(_mm256_extractf128_ps(r, 1));
      acc0 = _mm256_fmadd_pd(r0, r0, acc0);
      acc1 = _mm256_fmadd_pd(r1, r1, acc1);
    }
    alignas(32) double s[4];
    _mm256_store_pd(s, _mm256_add_pd(acc0, acc1));
    return (s[0] + s[1]) + (s[2] + s[3]);
  }
#endif
};

GroupQuantizer rbe_quantizer(const Layout& L) {
  auto cb = std::make_shared<Codebook>(L);
  GroupQuantizer q;
  q.group = L.group;
  // MSE search over d = f * max|w| / 127, f in [0.3, 1.25] (a Lloyd-Max codebook
  // spends its outer level on the tail, so the best scale clips the largest
  // values): a coarse pass in steps of 0.05, then steps of 0.0125 around the best.
  q.scale = [cb](const float* w, int n) {
    float amax = 0;
    for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(w[i]));
    if (amax == 0) return 0.f;
    float best_d = f16_round(amax / 127.f), best_f = 1.f;
    double best = INFINITY;
    auto try_f = [&](float f) {
      const float d = f16_round(amax / 127.f * f);
      if (!(d > 0)) return;
      const double e = cb->sq_err(w, n, d);
      if (e < best) best = e, best_d = d, best_f = f;
    };
    // The grid points with one rounding each (std::fma), as the compiler
    // contracted them before: the same scales on any build.
    for (int s = 0; s <= 19; ++s) try_f(std::fma(0.05f, float(s), 0.3f));
    const float f0 = best_f;
    for (int s = -3; s <= 3; ++s)
      if (s != 0) try_f(std::fma(0.0125f, float(s), f0));
    return best_d;
  };
  q.round = [cb](float w, float d, float* deq) -> uint8_t {
    const int c = d > 0 ? cb->nearest(w / d) : cb->nearest(0.f);
    *deq = d * cb->level[c];
    return uint8_t(c);
  };
  return q;
}

GroupQuantizer quantizer_for(const Layout& L) {
  switch (L.kind) {
    case Kind::Q8_0: return q8_0_quantizer();
    case Kind::Q4_0: return q4_0_quantizer();
    default: return rbe_quantizer(L);
  }
}

// Quantizes W's stored basis ([rows, cols]: W itself, or W R^T when R is
// given) into L's bytes. U: GPTQ factor or null. Works in slabs of rows so
// that progress and cancel run on the calling thread; each task rotates its
// own rows, so that no rotated copy of the whole matrix is held (the 124M
// model's wte: 154 MB).
std::vector<uint8_t> quantize(const Layout& L, const float* W, const RandomizedHadamard* R, const float* U,
                              const ProgressFn& progress, const CancelFn& cancel, double p0, double p1,
                              const std::string& what) {
  const GroupQuantizer q = quantizer_for(L);
  const int64_t rows = L.rows, cols = L.cols, G = L.group, groups = L.groups_per_row();
  std::vector<uint8_t> out(size_t(L.total_bytes()));
  const int64_t slab = 256;
  for (int64_t s0 = 0; s0 < rows; s0 += slab) {
    if (cancel && cancel()) throw Cancelled();
    const int64_t s1 = std::min(rows, s0 + slab);
    tbb::parallel_for(tbb::blocked_range<int64_t>(s0, s1, 16), [&](const tbb::blocked_range<int64_t>& rr) {
      const int64_t n = rr.end() - rr.begin();
      std::vector<uint8_t> codes(size_t(n * cols));
      std::vector<float> scales(size_t(n * groups));
      std::vector<float> rotated;
      const float* Wr = W + rr.begin() * cols;  // these rows of the stored basis
      if (R) {
        rotated.assign(Wr, Wr + n * cols);
        for (int64_t r = 0; r < n; ++r) R->forward(rotated.data() + r * cols);
        Wr = rotated.data();
      }
      if (U) {
        gptq_quantize_rows(Wr, cols, U, q, 0, n, codes.data(), scales.data());
      } else {
        for (int64_t r = 0; r < n; ++r)
          for (int64_t g = 0; g < groups; ++g) {
            const float* w = Wr + r * cols + g * G;
            const float d = q.scale(w, int(G));
            scales[size_t(r * groups + g)] = d;
            float deq;
            for (int64_t i = 0; i < G; ++i) codes[size_t(r * cols + g * G + i)] = q.round(w[i], d, &deq);
          }
      }
      for (int64_t r = 0; r < n; ++r) {
        uint8_t* dst = out.data() + (rr.begin() + r) * L.row_bytes();
        for (int64_t g = 0; g < groups; ++g, dst += L.group_bytes()) {
          const uint16_t h = f32_to_f16(scales[size_t(r * groups + g)]);
          std::memcpy(dst, &h, 2);
          for (int s = 0; s < L.subs_per_group(); ++s)
            fixed::pack_sub(codes.data() + r * cols + g * G + s * fixed::kSub, L.bits, dst + 2 + s * L.sub_bytes());
        }
      }
    });
    if (progress) progress(p0 + (p1 - p0) * double(s1) / double(rows), what);
  }
  return out;
}

// Decodes rows [r0, r1) of the stored basis into out (parallel over rows).
void decode_stored(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, float* out) {
  tbb::parallel_for(tbb::blocked_range<int64_t>(r0, r1, 64), [&](const tbb::blocked_range<int64_t>& rr) {
    for (int64_t r = rr.begin(); r < rr.end(); ++r) fixed::decode_row_stored(L, data, r, out + (r - r0) * L.cols);
  });
}

// H' = R H R^T (H symmetric): rotate rows, transpose, rotate rows.
std::vector<float> rotate_hessian(const RandomizedHadamard& R, const float* H) {
  const int64_t n = R.size();
  std::vector<float> A(H, H + n * n), B(size_t(n * n));
  R.forward_rows(A.data(), n);  // H R^T
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) B[size_t(j * n + i)] = A[size_t(i * n + j)];  // R H
  R.forward_rows(B.data(), n);  // R H R^T
  return B;
}

// The rbe fixed rates on offer, ascending: (bits, group) -> b + 16 / G.
std::vector<std::pair<int, int>> rbe_rates(int64_t cols) {
  std::vector<std::pair<int, int>> v;
  for (int b : {2, 3, 4})
    for (int G : {64, 32})
      if (cols % G == 0) v.emplace_back(b, G);
  return v;
}
double rate_of(std::pair<int, int> bg) { return bg.first + 16.0 / bg.second; }

nlohmann::json params_of(const Layout& L, uint64_t seed, int64_t rotation_block, bool gptq) {
  nlohmann::json p = {{"group", L.group}, {"bits", L.bits}, {"sub_block", fixed::kSub}, {"gptq", gptq}};
  if (L.kind == Kind::Rbe) {
    p["seed"] = seed;
    p["rotation"] = "hadamard";
    p["rotation_block"] = rotation_block;
    p["levels"] = std::vector<int>(L.levels.begin(), L.levels.begin() + (1 << L.bits));
    p["scale_search"] = "mse";
  }
  return p;
}

// meta and per-tile stats against the real decode, one band of `tile` rows at
// a time (no second full-size copy of the matrix).
void fill_stats(EncodedTensor& e, const float* W, int tile) {
  const int64_t rows = e.rows, cols = e.cols, n = rows * cols;
  CompressionMetadata& m = e.meta;
  m.block_size = tile;
  m.weights = n;
  m.bytes = e.size;
  m.bits_per_weight = 8.0 * double(e.size) / double(n);
  m.coefficient_count = n;
  e.blocks.clear();
  std::vector<float> band(size_t(std::min<int64_t>(tile, rows) * cols));
  double se = 0, sw = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += tile) {
    const int64_t br = std::min<int64_t>(tile, rows - r0);
    decode_fixed_rows(e, r0, r0 + br, band.data());
    for (int64_t c0 = 0; c0 < cols; c0 += tile) {
      const int64_t bc = std::min<int64_t>(tile, cols - c0);
      double te = 0, tw = 0;
      for (int64_t r = 0; r < br; ++r) {
        te += sum_sq_diff(W + (r0 + r) * cols + c0, band.data() + r * cols + c0, bc);
        tw += sum_sq(W + (r0 + r) * cols + c0, bc);
      }
      se += te, sw += tw;
      BlockStats s;
      s.row0 = int32_t(r0), s.col0 = int32_t(c0), s.rows = int32_t(br), s.cols = int32_t(bc);
      s.rmse = float(std::sqrt(te / double(br * bc)));
      s.rel_rmse = tw > 0 ? float(std::sqrt(te / tw)) : (te > 0 ? INFINITY : 0.f);
      s.grade = grade_for(s.rel_rmse);
      s.bits = float(m.bits_per_weight * double(br * bc));
      e.blocks.push_back(s);
    }
  }
  m.rmse = std::sqrt(se / double(n));
  m.rel_rmse = sw > 0 ? std::sqrt(se / sw) : (se > 0 ? INFINITY : 0.0);
  m.snr_db = se > 0 ? 10.0 * std::log10(sw / se) : INFINITY;
}

}  // namespace

namespace fixed {

Layout layout_of(const EncodedTensor& e) {
  if (e.rows <= 0 || e.cols <= 0) throw std::runtime_error(e.codec + ": bad shape");
  Layout L;
  if (e.codec == "q8_0") {
    L = q8_0_layout(e.rows, e.cols);
  } else if (e.codec == "q4_0") {
    L = q4_0_layout(e.rows, e.cols);
  } else if (e.codec == "rbe" && e.storage == Storage::Fixed) {
    using E = std::runtime_error;
    const int bits = json_integer_or<int, E>(e.params, "bits", 0, "rbe fixed: bits");
    const int group = json_integer_or<int, E>(e.params, "group", 0, "rbe fixed: group");
    L = rbe_layout(e.rows, e.cols, bits, group);
    if (e.params.contains("levels")) {
      const nlohmann::json& levels = e.params["levels"];
      if (!levels.is_array()) throw E("rbe fixed: levels must be an array");
      std::vector<int> lv;
      for (const auto& v : levels) lv.push_back(json_integer<int, E>(v, "rbe fixed: a level"));
      if (lv.size() != size_t(1 << bits) || !std::equal(lv.begin(), lv.end(), L.levels.begin()))
        throw std::runtime_error("rbe fixed: unsupported codebook in the tensor's params");
    }
  } else {
    throw std::runtime_error("not a fixed-rate form: codec '" + e.codec + "'");
  }
  if (e.size != L.total_bytes() || (!e.data && e.size > 0))
    throw std::runtime_error(L.name() + ": payload is " + std::to_string(e.size) + " bytes, expected " +
                             std::to_string(L.total_bytes()) + " for [" + std::to_string(e.rows) + ", " +
                             std::to_string(e.cols) + "]");
  return L;
}

uint64_t rotation_seed(const EncodedTensor& e) {
  return json_integer_or<uint64_t, std::runtime_error>(e.params, "seed", 0, "rbe fixed: seed");
}

}  // namespace fixed

EncodedTensor encode_fixed(const Tensor& W_in, const CodecSettings& s, const ProgressFn& progress,
                           const CancelFn& cancel, const Tensor& hessian) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!W_in.defined() || W_in.dim() != 2) throw std::invalid_argument(s.codec + ": weight must be a 2-D tensor");
  const Tensor Wt = W_in.to(DType::F32).contiguous();
  const int64_t rows = Wt.size(0), cols = Wt.size(1);
  const bool is_rbe = s.codec == "rbe";
  if (!is_rbe && s.codec != "q8_0" && s.codec != "q4_0")
    throw std::invalid_argument("encode_fixed: codec '" + s.codec + "' is not a fixed-rate form");
  if (is_rbe && s.storage != Storage::Fixed) throw std::invalid_argument("encode_fixed: rbe storage must be fixed");
  if (cols % fixed::kSub != 0)
    throw std::invalid_argument(s.codec + ": the row length " + std::to_string(cols) +
                                " is not a multiple of 32 (blocks of 32 weights along each row)");
  Tensor H;
  if (hessian.defined()) {
    H = hessian.to(DType::F32).contiguous();
    if (H.dim() != 2 || H.size(0) != cols || H.size(1) != cols)
      throw std::invalid_argument(s.codec + ": Hessian must be [" + std::to_string(cols) + ", " +
                                  std::to_string(cols) + "]");
  }
  const float* W = Wt.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(W[i]))
      throw std::invalid_argument(s.codec + ": the weight has a non-finite value at [" + std::to_string(i / cols) +
                                  ", " + std::to_string(i % cols) + "]");
  std::unique_ptr<RandomizedHadamard> R;  // rbe: the stored basis is W R^T (q8_0 / q4_0 store W itself)
  if (is_rbe) R = std::make_unique<RandomizedHadamard>(cols, s.seed);
  std::vector<float> U;
  if (H.defined()) {
    if (R) U = gptq_inverse_cholesky(rotate_hessian(*R, H.data<float>()).data(), cols);
    else U = gptq_inverse_cholesky(H.data<float>(), cols);
  }
  const float* Up = U.empty() ? nullptr : U.data();
  const std::string what = s.codec;

  // Candidate layouts: one, or (rbe with a grade) every rate in ascending order.
  std::vector<Layout> cands;
  if (!is_rbe) {
    cands.push_back(s.codec == "q8_0" ? fixed::q8_0_layout(rows, cols) : fixed::q4_0_layout(rows, cols));
  } else {
    const auto rates = rbe_rates(cols);
    if (s.grade) {
      for (auto bg : rates) cands.push_back(fixed::rbe_layout(rows, cols, bg.first, bg.second));
    } else if (s.bpw) {
      const std::pair<int, int>* pick = nullptr;
      for (const auto& bg : rates)
        if (rate_of(bg) <= *s.bpw + 1e-9) pick = &bg;
      if (!pick)
        throw std::invalid_argument("rbe fixed: " + std::to_string(*s.bpw) + " bits/weight is below the lowest rate (" +
                                    std::to_string(rate_of(rates.front())) + ")");
      cands.push_back(fixed::rbe_layout(rows, cols, pick->first, pick->second));
    } else {
      const int G = (s.block_size == 32 || cols % 64 != 0) ? 32 : 64;
      cands.push_back(fixed::rbe_layout(rows, cols, 4, G));
    }
  }

  // With a grade: the smallest rate at which every block (tile of the
  // original matrix, measured on the real decode) meets the bound; the highest
  // rate when none does.
  EncodedTensor e;
  for (size_t i = 0; i < cands.size(); ++i) {
    const double p0 = double(i) / double(cands.size()), p1 = double(i + 1) / double(cands.size());
    e = EncodedTensor{};
    e.codec = s.codec;
    e.storage = Storage::Fixed;
    e.rows = rows, e.cols = cols;
    e.params = params_of(cands[i], s.seed, R ? R->block() : 0, Up != nullptr);
    e.set_owned(quantize(cands[i], W, R.get(), Up, progress, cancel, p0, p1, what));
    fill_stats(e, W, std::clamp(s.block_size, 8, 1024));  // meta against the real decode
    if (i + 1 == cands.size()) break;
    const double bound = grade_bound(*s.grade);
    if (std::all_of(e.blocks.begin(), e.blocks.end(), [&](const BlockStats& b) { return b.rel_rmse <= bound; })) break;
  }
  e.meta.encode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (progress) progress(1.0, what);
  return e;
}

void decode_fixed_rows(const EncodedTensor& e, int64_t r0, int64_t r1, float* out) {
  const Layout L = fixed::layout_of(e);
  if (r0 < 0 || r1 > e.rows || r0 > r1)
    throw std::out_of_range(L.name() + ": rows [" + std::to_string(r0) + ", " + std::to_string(r1) +
                            ") out of range for " + std::to_string(e.rows) + " rows");
  decode_stored(L, e.data, r0, r1, out);
  if (L.kind == Kind::Rbe) {
    const RandomizedHadamard R(e.cols, fixed::rotation_seed(e));
    R.inverse_rows(out, r1 - r0);
  }
}

}  // namespace rbe::codec
