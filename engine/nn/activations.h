#pragma once
// Activation modules (no parameters) over nn/functional.h.
#include <cstdint>
#include <string>

#include "nn/functional.h"
#include "nn/module.h"

namespace rbe::nn {

// approximate: "none" (exact erf) or "tanh" (GPT-2's gelu_new).
class GELU : public Module {
 public:
  explicit GELU(const std::string& approximate = "none");
  Tensor forward(const Tensor& x) const { return F::activation(x, act_); }

 private:
  F::Activation act_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) const { return F::relu(x); }
};

class Swish : public Module {  // a.k.a. SiLU: x * sigmoid(x)
 public:
  Tensor forward(const Tensor& x) const { return F::silu(x); }
};

class Mish : public Module {  // x * tanh(softplus(x))
 public:
  Tensor forward(const Tensor& x) const { return F::mish(x); }
};

class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& x) const { return F::softmax(x, dim); }
  int64_t dim;
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& x) const { return F::log_softmax(x, dim); }
  int64_t dim;
};

}  // namespace rbe::nn
