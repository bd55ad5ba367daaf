#pragma once
// Loss of a model on held-out tokens, without recording a graph.
#include <cstdint>
#include <functional>
#include <vector>

#include "models/gpt2.h"

namespace rbe {

struct EvalResult {
  int64_t tokens = 0;     // predictions counted (HuggingFace windows: HF's token count)
  double loss = 0;        // mean cross-entropy (nats per token)
  double perplexity = 0;  // exp(loss)
};

// Which predictions the sliding windows score, and how they are averaged.
enum class EvalWindows {
  // Every prediction tokens[1..n) exactly once, each with weight 1.
  Once,
  // The example code of HuggingFace's "Perplexity of fixed-length models",
  // to the digit: window k holds inputs [k*stride, min(k*stride + ctx, n)) and
  // scores the tokens after the previous window's end that have an input
  // before them in the window; the loop stops at the window that reaches n,
  // and each window's mean loss is weighted by its label count minus one
  // (HF's num_loss_tokens), which is also what `tokens` counts. Windows that
  // weigh nothing are skipped (HF's code would take the mean of no labels).
  HuggingFace,
};

// Scores every next-token prediction tokens[1..n) exactly once (the default
// windows; EvalWindows::HuggingFace: as HF's example does, above). The first
// window holds min(ctx, n-1) inputs and scores them all; each later window
// moves its end by stride (<= ctx) and scores only the new predictions, using
// up to ctx tokens of context (stride == ctx: non-overlapping windows; smaller
// strides give each prediction more context, like HF's sliding-window
// perplexity). Windows run batch at a time, each batch as one prompt pass
// through a KV cache of the model's cache dtype (GPT2Model::make_cache), with
// logits for the scored positions only; max_windows > 0 stops early.
// progress, when set, is called after each batch with the predictions scored
// so far and the number the run will score.
EvalResult evaluate_tokens(GPT2Model& model, const std::vector<int32_t>& tokens, int64_t ctx, int64_t stride,
                           int64_t batch, int64_t max_windows = 0,
                           const std::function<void(int64_t scored, int64_t total)>& progress = nullptr,
                           EvalWindows rule = EvalWindows::Once);

// Mean validation loss over at most max_batches batches of non-overlapping
// windows from the start of tokens (deterministic: no sampling).
float evaluate(GPT2Model& model, const std::vector<int32_t>& tokens, int64_t batch, int64_t ctx,
               int64_t max_batches);

}  // namespace rbe
