#pragma once
// Turns a model running from compressed weights back into a dense one: every
// packed Linear / Embedding weight is decoded into its dense tensor and the
// packed form detached (for writers that need dense weights: HF, GGUF).
#include <cstdint>

#include "models/gpt2.h"

namespace rbe::codec {

// Returns how many layers were decoded.
int64_t densify(GPT2Model& model);

}  // namespace rbe::codec
