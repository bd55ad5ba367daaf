#include "nn/module.h"

#include <unordered_set>

namespace rbe::nn {


std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, t] : params_) out.emplace_back(name, t);
  for (const auto& [name, child] : children_)
    for (auto& [sub, t] : child->named_parameters()) out.emplace_back(name + "." + sub, t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(name + "." + sub, m);
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

int64_t Module::cast_parameters(DType dtype, const ParamFilter& filter) {
  std::unordered_set<TensorImpl*> done;
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) {
    if (!done.insert(t.impl()).second) continue;
    if (filter ? !filter(name, t) : t.dim() < 2) continue;
    if (t.dtype() == dtype) continue;
    Tensor c = t.detach().to(dtype).contiguous();
    TensorImpl* impl = t.impl();
    impl->storage = c.storage();
    impl->strides = c.strides();
    impl->offset = c.offset();
    impl->dtype = dtype;
    impl->grad = Tensor();  // a gradient of the old dtype no longer fits
    ++n;
  }
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

}  // namespace rbe::nn
