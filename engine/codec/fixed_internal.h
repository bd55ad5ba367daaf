#pragma once
// Internal to the fixed-rate forms: the layout an EncodedTensor describes.
#include <cstdint>

#include "codec/codec.h"
#include "codec/fixed_layout.h"

namespace rbe::codec::fixed {

// Checks e's codec, params and payload size; throws std::runtime_error with
// a clear message when they do not describe a valid fixed-rate tensor.
Layout layout_of(const EncodedTensor& e);
// The rotation seed of an rbe fixed tensor (params "seed").
uint64_t rotation_seed(const EncodedTensor& e);

}  // namespace rbe::codec::fixed
