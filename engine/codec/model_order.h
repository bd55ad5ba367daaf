#pragma once
// The tensors of a CompressedModel in the model's parameter order
// (GPT2Model::named_parameters), encoded and raw interleaved as in the model.
#include <string>
#include <vector>

#include "codec/model_codec.h"

namespace rbe::codec {

// Parameter names of a GPT-2 with this configuration, in order (cheap: built
// from a one-wide model of the same depth and head tying).
std::vector<std::string> parameter_names(const ModelConfig& c);

struct TensorEntry {
  std::string name;
  const EncodedTensor* encoded = nullptr;  // exactly one of encoded / raw is set
  const Tensor* raw = nullptr;
};

// Every tensor of cm once, in model order; tensors the configuration does not
// name come last. Throws std::runtime_error on a name given twice.
std::vector<TensorEntry> ordered_entries(const CompressedModel& cm);

}  // namespace rbe::codec
