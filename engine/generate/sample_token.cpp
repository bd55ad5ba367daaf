// Picking the next token from a row of logits (generate.h's sample_token).
//
// The probabilities of the whole vocabulary come from one pass of 8-lane
// exponentials (exp_poly.h: about 1 ulp in float, summed in double); the
// draw over it skips blocks by their sums; and nucleus sampling puts in
// order only the most likely tokens it may keep, a growing prefix, instead
// of sorting all 50257 of GPT-2's. Against the plain version before
// (double exponentials, every candidate sorted), per token of the 124M
// model (4.6 ms in f16): temperature only 398 -> 77 us, top-p 0.9
// 11.5 ms -> 0.29 ms (docs/performance.md, "Sampling the next token").
#include "generate/generate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nn/exp_poly.h"
#include "tensor/kernels/argmax.h"

namespace rbe {

namespace {

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

int32_t argmax(const float* x, int64_t n) { return int32_t(kernels::argmax_f32(x, n)); }

// CTRL-style: each token seen before has its logit divided by the penalty when
// positive, multiplied when negative (once per token, however often it occurred).
void apply_repetition_penalty(float* logits, int64_t vocab, float penalty, const std::vector<int32_t>& history) {
  std::vector<int32_t> seen(history);
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (int32_t t : seen) {
    if (t < 0 || t >= vocab) continue;
    float& l = logits[t];
    l = l > 0.f ? l / penalty : l * penalty;
  }
}

// Candidates' order where one is needed, logit descending and index
// ascending, as one 64-bit key per token sorted descending: the logit's bits
// made monotonic above, the index's complement below. Keys compared in one
// array, not logits looked up through the tokens' indices.
inline uint64_t order_key(float logit, int32_t token) {
  uint32_t b;
  const float l = logit + 0.f;  // -0 and +0 alike, as they compare
  std::memcpy(&b, &l, sizeof b);
  b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return (uint64_t(b) << 32) | uint32_t(~uint32_t(token));
}
inline int32_t key_token(uint64_t key) { return int32_t(~uint32_t(key)); }

// keys[0, k) = the k largest of keys[0, n), in order.
void select_top_k(uint64_t* keys, size_t n, size_t k) {
  std::partial_sort(keys, keys + k, keys + n, std::greater<uint64_t>());
}

// The largest of keys[ordered, n) put in order behind keys[0, ordered), up to m.
void order_next(uint64_t* keys, size_t n, size_t ordered, size_t m) {
  if (m < n) std::nth_element(keys + ordered, keys + m, keys + n, std::greater<uint64_t>());
  std::sort(keys + ordered, keys + m, std::greater<uint64_t>());
}

bool has_nan(const float* x, int64_t n) {
  v8i nan = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f v;
    std::memcpy(&v, x + i, sizeof v);
    nan |= v != v;
  }
  bool any = false;
  for (int j = 0; j < 8; ++j) any |= nan[j] != 0;
  for (; i < n; ++i) any |= x[i] != x[i];
  return any;
}

// exp((x - mx) * inv_t) in 8 lanes, in float; exponents under -87 (past
// float's normal range, where exp_poly gives ~1e-38 instead of 0) give
// exactly 0, so that a -inf logit is never drawn.
inline v8f exp_lanes(v8f x, float mx, float inv_t) {
  const v8f a = (x - mx) * inv_t;
  const v8f e = nn::detail::exp_cephes<v8f, v8i>(a);
  return a < -87.f ? v8f{} : e;
}

// p[i] = exp((x[i] - mx) * inv_t) over [0, n); returns their sum in double.
double exp_scaled(const float* x, int64_t n, float mx, float inv_t, float* p) {
  v8d acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f v;
    std::memcpy(&v, x + i, sizeof v);
    const v8f e = exp_lanes(v, mx, inv_t);
    std::memcpy(p + i, &e, sizeof e);
    acc += __builtin_convertvector(e, v8d);
  }
  double sum = 0;
  if (i < n) {  // the tail through a vector padded with the maximum, its extra lanes dropped
    v8f v = v8f{} + mx;
    std::memcpy(&v, x + i, size_t(n - i) * sizeof(float));
    const v8f e = exp_lanes(v, mx, inv_t);
    std::memcpy(p + i, &e, size_t(n - i) * sizeof(float));
    for (int64_t j = 0; j < n - i; ++j) sum += double(e[j]);
  }
  for (int j = 0; j < 8; ++j) sum += acc[j];
  return sum;
}

// Draws token key_token(keys[k]) for k < n with probability p[token] /
// (their sum), summed and scanned in this order; u in [0, 1).
int32_t draw(const float* p, const uint64_t* keys, size_t n, double u) {
  double total = 0;
  for (size_t k = 0; k < n; ++k) total += double(p[key_token(keys[k])]);
  double left = u * total;
  int32_t last = key_token(keys[0]);  // the last with a probability, should rounding leave some of u over
  for (size_t k = 0; k < n; ++k) {
    const int32_t t = key_token(keys[k]);
    if (p[t] == 0.f) continue;
    left -= double(p[t]);
    if (left < 0) return t;
    last = t;
  }
  return last;
}

// The same over the whole vocabulary in index order, total its sum: blocks
// of 64 skipped by their sums first (a scan one token at a time is a chain
// of dependent adds: 50257 of them took most of the time).
int32_t draw_all(const float* p, int64_t n, double total, double u) {
  constexpr int64_t kBlock = 64;
  double left = u * total;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    v8d acc = {};
    for (int64_t j = 0; j < kBlock; j += 8) {
      v8f v;
      std::memcpy(&v, p + i + j, sizeof v);
      acc += __builtin_convertvector(v, v8d);
    }
    double s = 0;
    for (int j = 0; j < 8; ++j) s += acc[j];
    if (left - s < 0) break;
    left -= s;
  }
  for (; i < n; ++i) {
    if (p[i] == 0.f) continue;
    left -= double(p[i]);
    if (left < 0) return int32_t(i);
  }
  for (i = n - 1; i > 0 && p[i] == 0.f; --i) {}  // rounding left some of u over: the last with a probability
  return int32_t(i);
}

}  // namespace

int32_t sample_token(float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
                     const std::vector<int32_t>& history) {
  if (!logits || vocab <= 0) throw ShapeError("sample_token: empty logits (vocab " + std::to_string(vocab) + ")");
  if (!(params.repetition_penalty > 0.f))
    throw ShapeError("sample_token: repetition_penalty must be > 0, got " + std::to_string(params.repetition_penalty));
  if (params.repetition_penalty != 1.f) apply_repetition_penalty(logits, vocab, params.repetition_penalty, history);
  if (params.temperature <= 0.f || params.top_k == 1) return argmax(logits, vocab);

  const size_t V = size_t(vocab);
  const float inv_t = 1.f / params.temperature;
  const bool use_top_k = params.top_k > 0 && params.top_k < vocab;
  const bool use_top_p = params.top_p > 0.f && params.top_p < 1.f;
  // Buffers kept per thread: two fresh vocabulary-sized vectors a token
  // went back to the system and were page-faulted in again each time.
  thread_local std::vector<float> p;  // the candidates' probabilities, unnormalised
  thread_local std::vector<uint64_t> keys;  // the candidates, as order_key
  p.resize(V);
  double total = 0;
  if (!use_top_k) {
    total = exp_scaled(logits, vocab, logits[argmax(logits, vocab)], inv_t, p.data());
    // NaN or inf logits make the sum NaN: the greedy pick, which skips NaNs.
    if (!(total > 0.0) || !std::isfinite(total)) return argmax(logits, vocab);
    if (!use_top_p) return draw_all(p.data(), vocab, total, rng.uniform());  // the whole vocabulary
  }
  // NaN logits (a broken model) have no order to sort by: the greedy pick.
  // Without top-k they already made the sum NaN above.
  if (use_top_k && has_nan(logits, vocab)) return argmax(logits, vocab);

  keys.resize(V);
  for (size_t t = 0; t < V; ++t) keys[t] = order_key(logits[t], int32_t(t));
  size_t n = V, ordered = 0;  // candidates keys[0, n), of which keys[0, ordered) in order and ahead of the rest
  if (use_top_k) {  // the k most likely
    n = ordered = size_t(params.top_k);
    select_top_k(keys.data(), V, n);
    const float mx = logits[key_token(keys[0])];
    for (size_t k = 0; k < n; ++k) {
      const int32_t t = key_token(keys[k]);
      p[size_t(t)] = exp_lanes(v8f{} + logits[t], mx, inv_t)[0];
      total += double(p[size_t(t)]);
    }
    if (!(total > 0.0) || !std::isfinite(total)) return argmax(logits, vocab);  // inf logits: fall back
  }

  size_t keep = n;
  if (use_top_p) {  // the smallest prefix, in probability order, whose mass reaches top_p
    double cum = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i == ordered) {  // put the next most likely in order: a prefix 4 times longer, from 256
        const size_t m = std::min(n, std::max<size_t>(256, 4 * ordered));
        order_next(keys.data(), n, ordered, m);
        ordered = m;
      }
      cum += double(p[size_t(key_token(keys[i]))]) / total;
      if (cum >= double(params.top_p)) {
        keep = i + 1;
        break;
      }
    }
  }
  return draw(p.data(), keys.data(), keep, rng.uniform());
}

}  // namespace rbe
