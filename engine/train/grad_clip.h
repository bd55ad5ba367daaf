#pragma once
// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).
#include <vector>

#include "tensor/tensor.h"

namespace rbe {

// L2 norm of all gradients together (parameters without a gradient count as 0).
double grad_global_norm(const std::vector<Tensor>& params);

// Scales every gradient by max_norm / norm when the global norm exceeds
// max_norm (max_norm <= 0 disables clipping). Returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace rbe
