#pragma once
// A tokenized text split into training (first 90%) and validation (last 10%)
// tokens, with random batches of windows drawn from a seeded Rng.
#include <cstdint>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace rbe {

struct Batch {
  Tensor inputs;   // [B, T] I32: tokens[s .. s+T)
  Tensor targets;  // [B, T] I32: tokens[s+1 .. s+T]
};

class TextDataset {
 public:
  explicit TextDataset(std::vector<int32_t> tokens);

  // Number of leading tokens that are training data: n - floor(n / 10) (the
  // validation part is the last floor(n / 10)).
  static size_t split_point(size_t n) { return n - n / 10; }

  const std::vector<int32_t>& train_tokens() const { return train_; }
  const std::vector<int32_t>& val_tokens() const { return val_; }

  // B windows of T+1 tokens at uniformly random starts in the training split.
  // Throws ShapeError when the split is shorter than T+1 tokens.
  Batch sample_train(int64_t batch, int64_t ctx, Rng& rng) const { return sample(train_, batch, ctx, rng); }
  static Batch sample(const std::vector<int32_t>& tokens, int64_t batch, int64_t ctx, Rng& rng);

 private:
  std::vector<int32_t> train_, val_;
};

}  // namespace rbe
