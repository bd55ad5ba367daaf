#include "codec/densify.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "nn/layers.h"
#include "tensor/big_alloc.h"

namespace rbe::codec {

namespace {

// f16 targets are decoded through an f32 panel of about 4 MiB: big enough
// for the decoders' own parallel split, small next to the matrix.
constexpr int64_t kPanelFloats = int64_t(1) << 20;

template <class Layer>
bool densify_layer(Layer& l) {
  if (!l.packed()) return false;
  std::shared_ptr<const nn::PackedMatrix> p = l.packed();
  const int64_t rows = p->rows(), cols = p->cols();
  // Writing through the parameter handle keeps every holder (a tied head) in step.
  Tensor dst = l.weight;
  if ((dst.dtype() != DType::F32 && dst.dtype() != DType::F16) || !dst.is_contiguous() || dst.numel() != rows * cols)
    throw std::runtime_error("densify: the layer's dense weight is not an f32 or f16 " + shape_str({rows, cols}) +
                             " tensor");
  if (dst.dtype() == DType::F32) {
    p->decode_rows(0, rows, dst.data<float>());
  } else {
    const int64_t panel_rows = std::min(rows, std::max<int64_t>(1, kPanelFloats / std::max<int64_t>(cols, 1)));
    std::vector<float> panel(size_t(panel_rows * cols));
    uint16_t* out = dst.data<uint16_t>();
    for (int64_t r = 0; r < rows; r += panel_rows) {
      const int64_t n = std::min(panel_rows, rows - r);
      p->decode_rows(r, r + n, panel.data());
      f32_to_f16_n(panel.data(), out + r * cols, n * cols);
    }
  }
  p.reset();
  l.set_packed(nullptr);
  trim_freed_heap();  // the packed form's pages go back before the next layer's are written
  return true;
}

}  // namespace

int64_t densify(GPT2Model& model, DType matrices) {
  if (matrices != DType::F32 && matrices != DType::F16)
    throw std::invalid_argument(std::string("densify: matrices must be F32 or F16, not ") + dtype_name(matrices));
  const std::unordered_set<std::string> packed = model.packed_weight_names();
  // The packed layers' dense weights were never written: give them their
  // dtype without converting anything, then decode into them.
  if (matrices != DType::F32 && !packed.empty())
    model.cast_parameters(
        matrices, [&](const std::string& name, const Tensor&) { return packed.count(name) > 0; },
        nn::Module::CastValues::Uninitialised);
  int64_t n = 0;
  for (auto& [name, m] : model.named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(m.get())) n += densify_layer(*lin);
    else if (auto* emb = dynamic_cast<nn::Embedding*>(m.get())) n += densify_layer(*emb);
  }
  return n;
}

}  // namespace rbe::codec
