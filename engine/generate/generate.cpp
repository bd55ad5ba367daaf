#include "generate/generate.h"

#include <algorithm>
#include <numeric>

#include "autodiff/node.h"

namespace rbe {

std::vector<int32_t> generate(GPT2Model& model, const std::vector<int32_t>& prompt, const SamplingParams& params,
                              const TokenCallback& on_token, const std::atomic<bool>* cancel) {
  BatchTokenCallback cb;
  if (on_token) cb = [&](size_t, int32_t tok) { return on_token(tok); };
  return std::move(generate_batch(model, {prompt}, params, cb, cancel)[0]);
}

std::vector<std::vector<int32_t>> generate_batch(GPT2Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingParams& params, const BatchTokenCallback& on_token,
                                                 const std::atomic<bool>* cancel) {
  NoGradGuard no_grad;
  std::vector<std::vector<int32_t>> out(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i)
    if (prompts[i].empty())
      throw ShapeError("generate: prompt " + std::to_string(i) + " is empty (it needs at least one token)");
  if (params.max_tokens <= 0 || prompts.empty()) return out;
  const int64_t ctx = model.config().n_positions, V = model.config().vocab_size;
  const size_t B = prompts.size();

  // Each prompt keeps its most recent tokens that fit the context and is
  // left-padded to the longest; the pads (copies of its first token) sit
  // before cache.row_start[b] and are never attended to.
  std::vector<std::vector<int32_t>> history(B);
  int64_t P = 0;
  for (size_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    history[b].assign(p.end() - std::min<int64_t>(int64_t(p.size()), ctx), p.end());
    P = std::max<int64_t>(P, int64_t(history[b].size()));
  }
  nn::KVCache cache = model.make_cache(int64_t(B), std::min<int64_t>(ctx, P + params.max_tokens));
  std::vector<int32_t> ids;
  ids.reserve(B * size_t(P));
  for (size_t b = 0; b < B; ++b) {
    const int64_t pad = P - int64_t(history[b].size());
    cache.row_start[b] = pad;
    ids.insert(ids.end(), size_t(pad), history[b].front());
    ids.insert(ids.end(), history[b].begin(), history[b].end());
  }
  std::vector<Rng> rng;
  for (size_t b = 0; b < B; ++b) rng.emplace_back(params.seed + b);
  for (auto& o : out) o.reserve(size_t(std::min<int64_t>(params.max_tokens, ctx)));
  std::vector<size_t> seq(B);  // cache row -> prompt index; rows leave when their prompt stops
  std::iota(seq.begin(), seq.end(), size_t(0));

  Tensor logits = model.forward_cached(Tensor::from_vector(ids, {int64_t(B), P}), cache, /*last=*/1);  // [B, 1, V]
  for (int i = 0; i < params.max_tokens; ++i) {
    if (cancel && cancel->load()) break;
    std::vector<int64_t> going;  // cache rows whose prompt goes on
    for (size_t r = 0; r < seq.size(); ++r) {
      const size_t b = seq[r];
      const int32_t tok = sample_token(logits.data<float>() + int64_t(r) * V, V, params, rng[b], history[b]);
      out[b].push_back(tok);
      history[b].push_back(tok);
      // A row also stops when its own tokens fill n_positions, as alone (the
      // padding of the others does not count against it).
      if ((!on_token || on_token(b, tok)) && cache.row_length(int64_t(r)) < ctx) going.push_back(int64_t(r));
    }
    if (i + 1 == params.max_tokens || going.empty()) break;
    if (cancel && cancel->load()) break;
    if (going.size() < seq.size()) {  // stopped rows leave the batch (smaller products; batch 1 runs the gemv)
      cache.keep_rows(going);
      std::vector<size_t> kept;
      for (int64_t r : going) kept.push_back(seq[size_t(r)]);
      seq = std::move(kept);
    }
    if (cache.length >= cache.max_length) {
      // The cache (= the context) is full, but every row still going has
      // fewer tokens than that: drop the padding they all share.
      cache.drop_front(*std::min_element(cache.row_start.begin(), cache.row_start.end()));  // >= 1
    }
    std::vector<int32_t> next;
    for (size_t b : seq) next.push_back(history[b].back());
    logits = model.forward_cached(Tensor::from_vector(next, {int64_t(next.size()), 1}), cache);  // [rows, 1, V]
  }
  return out;
}

}  // namespace rbe
