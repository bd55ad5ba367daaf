#include "generate/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autodiff/node.h"

namespace rbe {

namespace {

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return int32_t(best);
}

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

}  // namespace

int32_t sample_token(float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
                     const std::vector<int32_t>& history) {
  if (!logits || vocab <= 0) throw ShapeError("sample_token: empty logits (vocab " + std::to_string(vocab) + ")");
  if (!(params.repetition_penalty > 0.f))
    throw ShapeError("sample_token: repetition_penalty must be > 0, got " + std::to_string(params.repetition_penalty));
  if (params.repetition_penalty != 1.f) apply_repetition_penalty(logits, vocab, params.repetition_penalty, history);
  if (params.temperature <= 0.f || params.top_k == 1) return argmax(logits, vocab);

  // Candidates ordered by (logit desc, index asc) where an order is needed.
  auto by_logit = [logits](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  std::vector<int32_t> cand(static_cast<size_t>(vocab));
  std::iota(cand.begin(), cand.end(), 0);
  const bool use_top_p = params.top_p > 0.f && params.top_p < 1.f;
  if (params.top_k > 0 && params.top_k < vocab) {
    std::partial_sort(cand.begin(), cand.begin() + params.top_k, cand.end(), by_logit);
    cand.resize(size_t(params.top_k));
  } else if (use_top_p) {
    std::sort(cand.begin(), cand.end(), by_logit);
  }

  // Softmax over the candidates at the given temperature.
  float mx = -INFINITY;
  for (int32_t i : cand) mx = std::max(mx, logits[i]);
  std::vector<double> prob(cand.size());
  double total = 0;
  const double inv_t = 1.0 / double(params.temperature);
  for (size_t i = 0; i < cand.size(); ++i) {
    prob[i] = std::exp((double(logits[cand[i]]) - double(mx)) * inv_t);
    total += prob[i];
  }
  size_t keep = cand.size();
  if (use_top_p) {  // smallest prefix (in probability order) whose mass reaches top_p
    double cum = 0;
    for (size_t i = 0; i < cand.size(); ++i) {
      cum += prob[i] / total;
      if (cum >= double(params.top_p)) { keep = i + 1; break; }
    }
    total = 0;
    for (size_t i = 0; i < keep; ++i) total += prob[i];
  }
  if (!(total > 0.0) || !std::isfinite(total)) return argmax(logits, vocab);  // NaN/inf logits: fall back
  double u = rng.uniform() * total;
  for (size_t i = 0; i < keep; ++i) {
    u -= prob[i];
    if (u < 0) return cand[i];
  }
  return cand[keep - 1];
}

std::vector<int32_t> generate(GPT2Model& model, const std::vector<int32_t>& prompt, const SamplingParams& params,
                              const TokenCallback& on_token, const std::atomic<bool>* cancel) {
  NoGradGuard no_grad;
  std::vector<int32_t> out;
  if (prompt.empty()) throw ShapeError("generate: the prompt is empty (it needs at least one token)");
  if (params.max_tokens <= 0) return out;
  const int64_t ctx = model.config().n_positions, V = model.config().vocab_size;
  // Keep the most recent tokens that fit the context.
  const int64_t P = std::min<int64_t>(int64_t(prompt.size()), ctx);
  std::vector<int32_t> history(prompt.end() - P, prompt.end());
  nn::KVCache cache = model.make_cache(1, std::min<int64_t>(ctx, P + params.max_tokens));
  Rng rng(params.seed);

  Tensor logits = model.forward_cached(Tensor::from_vector(history, {1, P}), cache);  // [1, P, V]
  std::vector<float> row(logits.data<float>() + (P - 1) * V, logits.data<float>() + P * V);
  out.reserve(size_t(params.max_tokens));
  for (int i = 0; i < params.max_tokens; ++i) {
    if (cancel && cancel->load()) break;
    const int32_t tok = sample_token(row.data(), V, params, rng, history);
    out.push_back(tok);
    history.push_back(tok);
    if (on_token && !on_token(tok)) break;
    if (i + 1 == params.max_tokens || cache.length >= cache.max_length) break;  // done, or context full
    if (cancel && cancel->load()) break;
    logits = model.forward_cached(Tensor::from_vector(std::vector<int32_t>{tok}, {1, 1}), cache);  // [1, 1, V]
    std::copy(logits.data<float>(), logits.data<float>() + V, row.begin());
  }
  return out;
}

}  // namespace rbe
