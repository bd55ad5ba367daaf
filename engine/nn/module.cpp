#include "nn/module.h"

#include <unordered_set>

#include "tensor/big_alloc.h"
#include "tensor/ops.h"

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

int64_t Module::cast_parameters(DType dtype, const ParamFilter& filter, CastValues values) {
  std::unordered_set<TensorImpl*> seen;
  std::vector<Tensor> todo;
  for (auto& [name, t] : named_parameters()) {
    if (!seen.insert(t.impl()).second) continue;
    if (filter ? !filter(name, t) : t.dim() < 2) continue;
    if (t.dtype() == dtype) continue;
    todo.push_back(t);
  }
  // Converted tensors under 2 MiB share one buffer (Tensor::empty_group): a
  // token streams them all, and on 2 MiB pages the small ones (the 124M
  // model's 768x768 f16 projections) read as fast as the big ones, which get
  // such pages on their own. Grouping the big ones too would raise the peak
  // memory when the values are converted: their f32 originals, freed to the
  // heap, could not be reused. Unwritten originals cost no memory.
  const bool convert = values == CastValues::Convert;
  auto grouped = [&](const Tensor& t) {
    return !convert || size_t(t.numel()) * dtype_size(dtype) < kHugePageBytes;
  };
  std::vector<Shape> group_shapes;
  for (const Tensor& t : todo)
    if (grouped(t)) group_shapes.push_back(t.shape());
  std::vector<Tensor> group = Tensor::empty_group(group_shapes, dtype);
  size_t next = 0;
  for (const Tensor& t : todo) {
    Tensor c;
    if (grouped(t)) {
      c = group[next++];
      if (convert) ops::copy_(c, t.detach());  // into its place: no temporary copy
    } else {
      c = t.detach().to(dtype).contiguous();
    }
    TensorImpl* impl = t.impl();
    impl->storage = c.storage();
    impl->strides = c.strides();
    impl->offset = c.offset();
    impl->dtype = dtype;
    impl->grad = Tensor();  // a gradient of the old dtype no longer fits
  }
  return int64_t(todo.size());
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
