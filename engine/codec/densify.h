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
// decoded straight into its weight (F16 through an f32 panel of about 4 MiB),
// and its packed form is let go, its pages given back, before the next: the
// peak is about the dense model plus what is still packed, not that plus a
// whole f32 copy of the biggest matrix.
int64_t densify(GPT2Model& model, DType matrices = DType::F32);

}  // namespace rbe::codec
