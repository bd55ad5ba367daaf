#pragma once
// The CUDA side of codec/fixed_decode_gpu.h, kept free of the codec's other
// headers so that nvcc compiles only what it needs.
#include <cstdint>
#include <string>

#include "codec/fixed_layout.h"

namespace rbe::codec::gpu {

// True when this build has CUDA and a device is present; `why` (optional)
// says which is missing.
bool available(std::string* why = nullptr);

// Rows [0, L.rows) of a fixed-rate payload (host memory) decoded on the GPU
// into out[rows * cols] (host memory), stored basis. Throws std::runtime_error
// when !available() or on a CUDA error.
void decode_fixed_stored(const fixed::Layout& L, const uint8_t* data, float* out);

}  // namespace rbe::codec::gpu
