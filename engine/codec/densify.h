#pragma once
// Turns a model running from compressed weights back into a dense one: every
// packed Linear / Embedding weight is decoded into its dense tensor and the
// packed form detached (for writers that need dense weights: HF, GGUF).
#include <cstdint>

#include "models/gpt2.h"
#include "tensor/dtype.h"

namespace rbe::codec {

// Returns how many layers were decoded. The dense weights become `matrices`
// (F32 or F16: the f32 decode rounded as cast_matrices rounds). Each layer is
// decoded a few rows at a time straight into its weight, and its packed form
// is let go before the next, so the peak is the dense model, not the dense
// model plus a whole f32 copy of the biggest matrix.
int64_t densify(GPT2Model& model, DType matrices = DType::F32);

}  // namespace rbe::codec
