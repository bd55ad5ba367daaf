#include "codec/densify.h"

#include <algorithm>
#include <stdexcept>

#include "nn/layers.h"

namespace rbe::codec {

namespace {

template <class Layer>
bool densify_layer(Layer& l) {
  if (!l.packed()) return false;
  const nn::PackedMatrix& p = *l.packed();
  Tensor w = Tensor::empty({p.rows(), p.cols()});
  p.decode_rows(0, p.rows(), w.data<float>());
  // Writing through the parameter handle keeps every holder (a tied head) in step.
  Tensor dst = l.weight;
  if (dst.dtype() != DType::F32 || !dst.is_contiguous() || dst.numel() != w.numel())
    throw std::runtime_error("densify: the layer's dense weight is not an f32 " + shape_str(w.shape()) + " tensor");
  std::copy(w.data<float>(), w.data<float>() + w.numel(), dst.data<float>());
  l.set_packed(nullptr);
  return true;
}

}  // namespace

int64_t densify(GPT2Model& model) {
  int64_t n = 0;
  for (auto& [name, m] : model.named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(m.get())) n += densify_layer(*lin);
    else if (auto* emb = dynamic_cast<nn::Embedding*>(m.get())) n += densify_layer(*emb);
  }
  return n;
}

}  // namespace rbe::codec
