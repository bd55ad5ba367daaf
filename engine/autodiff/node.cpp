#include "autodiff/node.h"

#include <unordered_map>
#include <unordered_set>

#include "tensor/ops.h"

namespace rbe {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn fn) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<LambdaNode>(name, std::move(fn));
  node->inputs = std::move(inputs);
  // Outputs that are views share storage with their input; give the output
  // its own TensorImpl so that setting grad_fn does not touch the input.
  if (out.grad_fn() || out.requires_grad()) out = out.detach();
  out.set_grad_fn(std::move(node));
  return out;
}

// Adds g into slot. The first gradient is taken over without a copy only when
// nothing else can see its buffer; otherwise a later += would change another
// tensor (an op may return the same gradient for two inputs).
static void accumulate(Tensor& slot, Tensor&& g) {
  if (slot.defined()) {
    ops::add_(slot, g);
    return;
  }
  bool sole_owner = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1;
  slot = sole_owner && g.is_contiguous() ? std::move(g) : g.clone();
}

void backward(const Tensor& root, const Tensor& grad_output) {
  if (!root.defined()) throw std::logic_error("backward: undefined tensor");
  if (!root.requires_grad()) throw std::logic_error("backward: tensor does not require grad (no graph was recorded)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    if (root.numel() != 1) throw ShapeError("backward: root of shape " + shape_str(root.shape()) + " is not a scalar; pass grad_output");
    seed = Tensor::ones(root.shape());
  } else if (seed.shape() != root.shape()) {
    throw ShapeError("backward: grad_output " + shape_str(seed.shape()) + " does not match " + shape_str(root.shape()));
  }
  if (root.is_leaf()) {
    Tensor g = root.grad();
    accumulate(g, seed.clone());
    root.set_grad(g);
    return;
  }

  // Topological order by iterative DFS (graphs can be deep).
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack;
  stack.push_back({root.grad_fn().get(), 0});
  seen.insert(root.grad_fn().get());
  while (!stack.empty()) {
    auto& [node, i] = stack.back();
    if (i < node->inputs.size()) {
      const Tensor& in = node->inputs[i++];
      if (in.defined() && in.grad_fn() && !seen.count(in.grad_fn().get())) {
        seen.insert(in.grad_fn().get());
        stack.push_back({in.grad_fn().get(), 0});
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }

  // Keep every node alive until the pass ends, whatever release() drops.
  std::vector<std::shared_ptr<Node>> keep;
  keep.reserve(order.size());
  std::unordered_map<Node*, Tensor> grads;
  grads[root.grad_fn().get()] = seed;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = *it;
    auto found = grads.find(node);
    if (found == grads.end()) { node->release(); continue; }
    Tensor g = std::move(found->second);
    grads.erase(found);
    std::vector<Tensor> in_grads = node->backward(g);
    if (in_grads.size() != node->inputs.size())
      throw std::logic_error("backward: node " + node->name() + " returned " + std::to_string(in_grads.size()) +
                             " gradients for " + std::to_string(node->inputs.size()) + " inputs");
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Tensor& in = node->inputs[i];
      Tensor gi = std::move(in_grads[i]);
      if (!gi.defined() || !in.defined() || !in.requires_grad()) continue;
      if (gi.shape() != in.shape())
        throw std::logic_error("backward: node " + node->name() + " gave gradient " + shape_str(gi.shape()) +
                               " for input " + std::to_string(i) + " of shape " + shape_str(in.shape()));
      if (in.grad_fn()) {
        keep.push_back(in.grad_fn());
        accumulate(grads[in.grad_fn().get()], std::move(gi));
      } else {
        Tensor slot = in.grad();
        accumulate(slot, std::move(gi));
        in.set_grad(slot);
      }
    }
    node->release();
  }
}

Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = fn(inputs);
  }
  if (!grad_enabled()) return out;
  // Parameters captured by fn count too: record whenever grad mode is on and
  // the caller asked for it through any input, or fn's parameters need it.
  std::vector<Tensor> saved = inputs;
  CheckpointFn f = fn;
  auto node = std::make_shared<LambdaNode>("checkpoint", [saved, f](const Tensor& g) {
    GradModeGuard grad_on(true);  // recompute with recording, whatever the caller's mode
    std::vector<Tensor> leaves;
    leaves.reserve(saved.size());
    for (const Tensor& t : saved) {
      Tensor leaf = t.detach();
      if (t.requires_grad()) leaf.set_requires_grad(true);
      leaves.push_back(leaf);
    }
    Tensor recomputed = f(leaves);  // recorded: grad mode is on inside backward
    if (recomputed.requires_grad()) backward(recomputed, g);
    std::vector<Tensor> grads;
    grads.reserve(leaves.size());
    for (const Tensor& l : leaves) grads.push_back(l.requires_grad() ? l.grad() : Tensor());
    return grads;
  });
  node->inputs = inputs;
  out = out.detach();
  out.set_grad_fn(std::move(node));
  return out;
}

}  // namespace rbe
