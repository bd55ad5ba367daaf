#include "train/evaluate.h"

#include <algorithm>
#include <cmath>

#include <tbb/parallel_for.h>

#include "autodiff/node.h"
#include "nn/kernel_util.h"

namespace rbe {

namespace {

struct Window {
  int64_t start;    // first input token
  int64_t len;      // inputs tokens[start, start+len), targets shifted by one
  int64_t score;    // the last `score` predictions are computed
  int64_t counted;  // how many tokens they count for (their mean weighs counted / score)
};

std::vector<Window> make_windows(int64_t n, int64_t ctx, int64_t stride) {
  std::vector<Window> w;
  const int64_t preds = n - 1;
  int64_t done = 0;  // predictions scored so far (targets 1..done)
  while (done < preds) {
    int64_t end = done == 0 ? std::min(ctx, preds) : std::min(done + stride, preds);
    int64_t len = std::min(ctx, end);
    w.push_back({end - len, len, end - done, end - done});
    done = end;
  }
  return w;
}

// HF's loop: for begin in range(0, n, stride), inputs [begin, end), labels the
// last end - prev_end inputs, stop once end == n. Its last input predicts
// nothing it scores, so our window stops one input earlier (same logits).
std::vector<Window> make_hf_windows(int64_t n, int64_t ctx, int64_t stride) {
  std::vector<Window> w;
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < n; begin += stride) {
    const int64_t end = std::min(begin + ctx, n);
    const int64_t labels = end - prev_end;           // HF's trg_len
    const int64_t len = end - begin - 1;              // inputs that predict a label
    const int64_t score = std::min(labels, len);      // tokens [end - score, end)
    if (score > 0 && labels > 1) w.push_back({begin, len, score, labels - 1});  // HF's num_loss_tokens
    prev_end = end;
    if (end == n) break;
  }
  return w;
}

// -log softmax(row)[target], the log-sum-exp in double.
double row_loss(const float* l, int64_t vocab, int32_t target) {
  const float mx = nn::detail::max_f32(l, vocab);
  return std::log(nn::detail::exp_shift_sum_f64(l, vocab, mx)) + double(mx) - double(l[target]);
}

struct ScoredRow {
  int64_t row;     // in the batch's logits
  int32_t target;  // the token it predicts
  double weight;   // its window's counted / score
};

// Weighted sum of the rows' losses. logits: [rows, vocab].
double scored_loss(const float* logits, int64_t vocab, const std::vector<ScoredRow>& rows) {
  std::vector<double> loss(rows.size());
  tbb::parallel_for(size_t(0), rows.size(),
                    [&](size_t i) { loss[i] = row_loss(logits + rows[i].row * vocab, vocab, rows[i].target); });
  double total = 0;
  for (size_t i = 0; i < rows.size(); ++i) total += rows[i].weight * loss[i];  // fixed order: deterministic
  return total;
}

}  // namespace

EvalResult evaluate_tokens(GPT2Model& model, const std::vector<int32_t>& tokens, int64_t ctx, int64_t stride,
                           int64_t batch, int64_t max_windows,
                           const std::function<void(int64_t scored, int64_t total)>& progress, EvalWindows rule) {
  const int64_t n = int64_t(tokens.size());
  if (n < 2) throw ShapeError("evaluate: need at least 2 tokens, got " + std::to_string(n));
  if (ctx <= 0 || ctx > model.config().n_positions)
    throw ShapeError("evaluate: context " + std::to_string(ctx) + " must be in [1, " +
                     std::to_string(model.config().n_positions) + "]");
  if (stride <= 0 || stride > ctx)
    throw ShapeError("evaluate: stride " + std::to_string(stride) + " must be in [1, ctx = " + std::to_string(ctx) + "]");
  if (batch <= 0) throw ShapeError("evaluate: batch must be positive");
  if (rule == EvalWindows::HuggingFace && ctx < 2)
    throw ShapeError("evaluate: HuggingFace's windows need ctx >= 2 (a window of one token scores nothing)");

  std::vector<Window> windows =
      rule == EvalWindows::HuggingFace ? make_hf_windows(n, ctx, stride) : make_windows(n, ctx, stride);
  if (max_windows > 0 && int64_t(windows.size()) > max_windows) windows.resize(size_t(max_windows));
  int64_t to_score = 0;
  for (const Window& w : windows) to_score += w.score;

  // Each batch is one prompt pass through the KV cache (the prompt kernels),
  // with logits for the scored tail only: at stride ctx/2 that halves the
  // head, a third of GPT-2 124M's work per token.
  NoGradGuard no_grad;
  struct ModeRestore {  // also when a forward pass or progress throws
    GPT2Model& m;
    bool training;
    ~ModeRestore() { m.train(training); }
  } restore{model, model.is_training()};
  model.eval();
  const int64_t vocab = model.config().vocab_size;
  nn::KVCache cache;
  double total = 0;
  int64_t scored = 0, count = 0;
  for (size_t i = 0; i < windows.size();) {
    // A batch of consecutive windows of equal length.
    size_t j = i + 1;
    while (j < windows.size() && int64_t(j - i) < batch && windows[j].len == windows[i].len) ++j;
    const int64_t B = int64_t(j - i), T = windows[i].len;
    int64_t keep = 0;  // logits for the last `keep` positions of every window
    for (size_t w = i; w < j; ++w) keep = std::max(keep, windows[w].score);
    Tensor ids = Tensor::empty({B, T}, DType::I32);
    int32_t* ip = ids.data<int32_t>();
    std::vector<ScoredRow> rows;  // rows in [B*keep]
    for (int64_t b = 0; b < B; ++b) {
      const Window& w = windows[i + size_t(b)];
      std::copy(tokens.begin() + w.start, tokens.begin() + w.start + T, ip + b * T);
      // Exactly 1 for the default windows (counted == score), so they sum as before.
      const double weight = double(w.counted) / double(w.score);
      for (int64_t t = T - w.score; t < T; ++t)
        rows.push_back({b * keep + t - (T - keep), tokens[size_t(w.start + t + 1)], weight});
      count += w.counted;
    }
    if (cache.batch == B && cache.max_length == T) cache.reset();
    else cache = model.make_cache(B, T);
    Tensor logits = model.forward_cached(ids, cache, keep).contiguous();  // [B, keep, vocab]
    if (logits.dtype() != DType::F32) logits = logits.to(DType::F32);
    total += scored_loss(logits.data<float>(), vocab, rows);
    scored += int64_t(rows.size());
    if (progress) progress(scored, to_score);
    i = j;
  }
  EvalResult r;
  r.tokens = count;
  r.loss = count ? total / double(count) : 0.0;
  r.perplexity = std::exp(r.loss);
  return r;
}

float evaluate(GPT2Model& model, const std::vector<int32_t>& tokens, int64_t batch, int64_t ctx,
               int64_t max_batches) {
  int64_t c = std::min<int64_t>(ctx, int64_t(tokens.size()) - 1);
  return float(evaluate_tokens(model, tokens, std::max<int64_t>(c, 1), std::max<int64_t>(c, 1), batch,
                               max_batches > 0 ? max_batches * batch : 0)
                   .loss);
}

}  // namespace rbe
