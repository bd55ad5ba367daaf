#include "generate/generate.h"

#include <algorithm>
#include <cmath>
#include <map>
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
  BatchTokenCallback cb;
  if (on_token) cb = [&](size_t, int32_t tok) { return on_token(tok); };
  return std::move(generate_batch(model, {prompt}, params, cb, cancel)[0]);
}

namespace {

// One group of prompts with the same length P, run as one batch.
void generate_group(GPT2Model& model, const std::vector<std::vector<int32_t>>& prompts, const std::vector<size_t>& seqs,
                    int64_t P, const SamplingParams& params, const BatchTokenCallback& on_token,
                    const std::atomic<bool>* cancel, std::vector<std::vector<int32_t>>& out) {
  const int64_t ctx = model.config().n_positions, V = model.config().vocab_size;
  const int64_t B = int64_t(seqs.size());
  std::vector<std::vector<int32_t>> history(seqs.size());
  std::vector<int32_t> ids;
  ids.reserve(size_t(B * P));
  for (size_t b = 0; b < seqs.size(); ++b) {
    const auto& p = prompts[seqs[b]];
    history[b].assign(p.end() - P, p.end());  // the most recent tokens that fit the context
    ids.insert(ids.end(), history[b].begin(), history[b].end());
  }
  nn::KVCache cache = model.make_cache(B, std::min<int64_t>(ctx, P + params.max_tokens));
  std::vector<Rng> rng;
  for (size_t s : seqs) rng.emplace_back(params.seed + s);
  std::vector<char> active(seqs.size(), 1);
  for (size_t s : seqs) out[s].reserve(size_t(std::min<int64_t>(params.max_tokens, ctx)));

  Tensor logits = model.forward_cached(Tensor::from_vector(ids, {B, P}), cache);  // [B, P, V]
  std::vector<float> rows(size_t(B * V));
  for (int64_t b = 0; b < B; ++b)
    std::copy_n(logits.data<float>() + (b * P + P - 1) * V, V, rows.begin() + b * V);
  for (int i = 0; i < params.max_tokens; ++i) {
    if (cancel && cancel->load()) break;
    for (size_t b = 0; b < seqs.size(); ++b) {
      if (!active[b]) continue;
      const int32_t tok = sample_token(rows.data() + int64_t(b) * V, V, params, rng[b], history[b]);
      out[seqs[b]].push_back(tok);
      history[b].push_back(tok);
      if (on_token && !on_token(seqs[b], tok)) active[b] = 0;
    }
    if (i + 1 == params.max_tokens || cache.length >= cache.max_length) break;  // done, or context full
    if (std::find(active.begin(), active.end(), 1) == active.end()) break;
    if (cancel && cancel->load()) break;
    std::vector<int32_t> next(seqs.size());
    for (size_t b = 0; b < seqs.size(); ++b) next[b] = history[b].back();  // stopped rows: computed, ignored
    logits = model.forward_cached(Tensor::from_vector(next, {B, 1}), cache);  // [B, 1, V]
    std::copy_n(logits.data<float>(), B * V, rows.begin());
  }
}

}  // namespace

std::vector<std::vector<int32_t>> generate_batch(GPT2Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingParams& params, const BatchTokenCallback& on_token,
                                                 const std::atomic<bool>* cancel) {
  NoGradGuard no_grad;
  std::vector<std::vector<int32_t>> out(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i)
    if (prompts[i].empty())
      throw ShapeError("generate: prompt " + std::to_string(i) + " is empty (it needs at least one token)");
  if (params.max_tokens <= 0) return out;
  const int64_t ctx = model.config().n_positions;
  std::map<int64_t, std::vector<size_t>> groups;  // truncated prompt length -> prompt indices
  for (size_t i = 0; i < prompts.size(); ++i) groups[std::min<int64_t>(int64_t(prompts[i].size()), ctx)].push_back(i);
  for (auto& [P, seqs] : groups) {
    if (cancel && cancel->load()) break;
    generate_group(model, prompts, seqs, P, params, on_token, cancel, out);
  }
  return out;
}

}  // namespace rbe
