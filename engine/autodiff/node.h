#pragma once
// Reverse-mode autodiff: every differentiable op that runs while gradients are
// enabled, on inputs of which at least one requires a gradient, records a Node
// on its output. backward() walks the nodes in reverse topological order.
//
// Ownership: an output tensor owns its Node; a Node owns its input tensors
// (and so their Nodes). Nodes never hold their own output, so there are no
// cycles; a backward pass releases every Node it ran (the graph is freed).
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace rbe {

struct Node {
  virtual ~Node() = default;
  // Gradients with respect to each input, given the gradient of the output.
  // Returns one entry per input (an undefined Tensor where there is none),
  // each with exactly the shape of that input.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  virtual std::string name() const = 0;
  // Drops saved tensors after the backward pass.
  virtual void release() { inputs.clear(); }

  std::vector<Tensor> inputs;
};

// A node whose backward is a lambda. The lambda may capture the inputs and
// other saved tensors by value, but never the output with its history:
// capture out.detach() instead, or the graph would own itself.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct LambdaNode : Node {
  LambdaNode(std::string n, BackwardFn f) : name_(std::move(n)), fn_(std::move(f)) {}
  std::vector<Tensor> backward(const Tensor& g) override { return fn_(g); }
  std::string name() const override { return name_; }
  void release() override { inputs.clear(); fn_ = nullptr; }

 private:
  std::string name_;
  BackwardFn fn_;
};

// ---- gradient mode ----
bool grad_enabled();
void set_grad_enabled(bool on);  // for this thread

// Disables recording in a scope (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Sets the gradient mode in a scope.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : prev_(grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

// True when an op on these inputs must be recorded.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a LambdaNode to out when needs_grad(inputs); returns out.
// Use:  return record("mul", out, {a, b}, [a, b](const Tensor& g) { ... });
Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward);

// ---- backward ----
// Accumulates d(root)/d(leaf) into leaf.grad() for every leaf that requires a
// gradient. root must be a scalar unless grad_output (same shape) is given.
// The graph below root is released afterwards.
void backward(const Tensor& root, const Tensor& grad_output = Tensor());

// Gradient checkpointing: runs fn(inputs) without recording its inside, and
// recomputes it (with recording) during backward. Parameters that fn uses
// (captured, not passed) receive their gradients as usual.
using CheckpointFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;
Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs);

}  // namespace rbe
