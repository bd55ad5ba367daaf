#pragma once
// AdamW (Loshchilov & Hutter): Adam with weight decay applied to the weights
// directly (decoupled), as torch.optim.AdamW. Matrices decay; 1-d parameters
// (biases, LayerNorm weights) and scalars do not.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace rbe {

struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.01f;
};

class AdamW {
 public:
  // params: the model's named parameters (F32, contiguous; shared with the model).
  AdamW(std::vector<std::pair<std::string, Tensor>> params, AdamWOptions options = {});

  // One update from the current gradients (parameters without a gradient are
  // skipped). Runs without recording a graph.
  void step();
  // Drops every gradient (the next backward pass starts from zero).
  void zero_grad();

  void set_lr(float lr) { options_.lr = lr; }
  const AdamWOptions& options() const { return options_; }
  int64_t step_count() const { return t_; }
  bool decays(size_t i) const { return params_[i].second.dim() >= 2; }

  // State for checkpoints: "m.<name>" and "v.<name>" per parameter, plus the step count.
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  // Restores the state; throws std::runtime_error naming a missing or mis-shaped tensor.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t step_count);

 private:
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<Tensor> m_, v_;  // first and second moments, same shapes as params
  AdamWOptions options_;
  int64_t t_ = 0;
};

}  // namespace rbe
