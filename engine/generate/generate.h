#pragma once
// Text generation from a GPT2Model with a KV cache: sampling settings, a
// streaming callback (return false to stop), and cancellation.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/gpt2.h"
#include "tensor/random.h"

namespace rbe {

struct SamplingParams {
  float temperature = 1.0f;         // 0 = greedy (argmax)
  int top_k = 0;                    // 0 = off
  float top_p = 1.0f;               // 1 = off (nucleus sampling)
  float repetition_penalty = 1.0f;  // 1 = off (CTRL-style: divide positive logits, multiply negative)
  int max_tokens = 256;
  uint64_t seed = 0;
};

// Picks the next token from logits[vocab] (modified in place) given the
// tokens so far (for the repetition penalty): temperature, then top-k, then
// top-p; NaN or +inf logits give the greedy pick, a -inf logit is never
// drawn (generate/sample_token.cpp).
int32_t sample_token(float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
                     const std::vector<int32_t>& history);

// Called with each generated token; return false to stop generation.
using TokenCallback = std::function<bool(int32_t token)>;

// Generates up to params.max_tokens tokens after prompt (prompt is truncated
// from the left to fit the context). Stops early when on_token returns false,
// when *cancel becomes true, or when the context is full. Returns the new tokens.
std::vector<int32_t> generate(GPT2Model& model, const std::vector<int32_t>& prompt, const SamplingParams& params,
                              const TokenCallback& on_token = nullptr, const std::atomic<bool>* cancel = nullptr);

// Called with (prompt index, token); return false to stop that sequence only.
using BatchTokenCallback = std::function<bool(size_t seq, int32_t token)>;

// Several prompts at once, as one batch: each prompt (truncated to the
// context from the left) is left-padded to the longest, the padded prompts run
// through one forward pass, then every step decodes one token for all rows.
// Row b's padding is masked out of attention and its positions count from its
// first real token (nn::KVCache::row_start), so result i is what
// generate(model, prompts[i], params') returns, where params'.seed =
// params.seed + i (each row has its own Rng stream, so equal prompts still get
// different samples, and a batch of one equals generate()). "Is" up to float
// rounding: batched products sum in another order than batch-1 ones (about
// 1e-6 relative on the logits), which can only matter where two tokens' logits
// (or a sample and a boundary of the cumulative distribution) are that close.
// A row stops by itself (max_tokens, on_token returning false, or its own
// tokens filling n_positions, as alone: when the batch's cache is full, the
// padding the remaining rows share is dropped to make room) and leaves the
// batch, so the others run as a smaller batch.
std::vector<std::vector<int32_t>> generate_batch(GPT2Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingParams& params,
                                                 const BatchTokenCallback& on_token = nullptr,
                                                 const std::atomic<bool>* cancel = nullptr);

}  // namespace rbe
