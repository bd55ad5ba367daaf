#pragma once
// Base class of layers: owns named parameters and child modules, so that a
// whole model's parameters can be listed ("h.0.attn.c_attn.weight"), saved,
// loaded and handed to an optimizer.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace rbe::nn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its children, depth first in
  // registration order, with dotted names. The tensors share storage with
  // the module: writing into them changes the model.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;
  // Every descendant module with its dotted name ("h.3.attn.c_attn"), depth
  // first; callers find layers by type (dynamic_cast) to attach packed weights
  // or observers.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;

  // Converts in place, to `dtype` storage, every parameter for which
  // filter(name, tensor) is true (no filter: every matrix, dim >= 2 -- Linear
  // and embedding weights, not norms or biases). The TensorImpl keeps its
  // identity, so every holder (layers, a tied head) sees the new storage; the
  // old storage is freed once nothing else views it. F16 weights are for
  // inference only: ops throw when asked to record a graph through them.
  // Returns how many tensors were converted (shared tensors count once).
  using ParamFilter = std::function<bool(const std::string& name, const Tensor& t)>;
  // What becomes of the values. Convert: they are converted; tensors under
  // 2 MiB share one buffer, and each bigger one gets its own, so that the heap
  // can reuse an original freed as the next is converted. Uninitialised: the
  // originals were never written (a loader's, about to fill them), so nothing
  // is converted or touched; every tensor gets its place in one new buffer,
  // left for the caller to fill. One buffer leaves no tensor's last 2 MiB page
  // part empty (half as much memory again for a 124M f16 model: 363 MB, not 243).
  enum class CastValues { Convert, Uninitialised };
  int64_t cast_parameters(DType dtype, const ParamFilter& filter = {}, CastValues values = CastValues::Convert);

  // Training mode (dropout active) or evaluation mode, recursively.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

 protected:
  // Registers a parameter (requires_grad is set) and returns it.
  Tensor register_parameter(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace rbe::nn
