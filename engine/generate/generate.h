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
// tokens so far (for the repetition penalty).
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

// Several prompts at once; result i belongs to prompts[i] and is what
// generate(model, prompts[i], params') would return, where params'.seed =
// params.seed + i (so equal prompts still get different samples, and a batch
// of one equals generate()). Prompts of equal length (after truncation to the
// context) share one KV cache and run as one batch, so every row sees exactly
// the positions it would see alone; different lengths run one group after
// another. A sequence that stops early stays in its group's batch (its row is
// computed and ignored) until the whole group is done.
std::vector<std::vector<int32_t>> generate_batch(GPT2Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingParams& params,
                                                 const BatchTokenCallback& on_token = nullptr,
                                                 const std::atomic<bool>* cancel = nullptr);

}  // namespace rbe
