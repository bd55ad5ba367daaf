#include "train/text_dataset.h"

#include <algorithm>

namespace rbe {

TextDataset::TextDataset(std::vector<int32_t> tokens) {
  size_t n_train = split_point(tokens.size());
  val_.assign(tokens.begin() + n_train, tokens.end());
  tokens.resize(n_train);
  train_ = std::move(tokens);
}

Batch TextDataset::sample(const std::vector<int32_t>& tokens, int64_t batch, int64_t ctx, Rng& rng) {
  if (batch <= 0 || ctx <= 0)
    throw ShapeError("TextDataset::sample: batch (" + std::to_string(batch) + ") and ctx (" + std::to_string(ctx) +
                     ") must be positive");
  if (int64_t(tokens.size()) < ctx + 1)
    throw ShapeError("TextDataset::sample: " + std::to_string(tokens.size()) +
                     " tokens are too few for windows of ctx + 1 = " + std::to_string(ctx + 1));
  Tensor x = Tensor::empty({batch, ctx}, DType::I32), y = Tensor::empty({batch, ctx}, DType::I32);
  int32_t* xp = x.data<int32_t>();
  int32_t* yp = y.data<int32_t>();
  const uint64_t starts = tokens.size() - size_t(ctx);  // valid starts: [0, n - ctx - 1]
  for (int64_t b = 0; b < batch; ++b) {
    const int32_t* src = tokens.data() + rng.below(starts);
    std::copy(src, src + ctx, xp + b * ctx);
    std::copy(src + 1, src + ctx + 1, yp + b * ctx);
  }
  return {x, y};
}

}  // namespace rbe
