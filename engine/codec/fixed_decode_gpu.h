#pragma once
// GPU decode of the fixed-rate forms (q8_0, q4_0, rbe fixed), built when the
// CUDA toolkit is found (engine/codec/cuda/fixed_decode.cu, RBE_HAVE_CUDA).
// One GPU thread per weight: weight = f16 scale * level[code], the same single
// product as decode_row_scalar, so results are bit-identical to the CPU. rbe
// fixed rows come out in their stored (rotated) basis; decode_fixed_gpu then
// applies the inverse rotation on the host, as decode_fixed_rows does.
#include "codec/codec.h"
#include "codec/fixed_decode_gpu_kernel.h"

namespace rbe::codec::gpu {

// Full decode of a fixed-rate EncodedTensor (rotation undone), like
// codec::decode; F32 [rows, cols].
Tensor decode_fixed_gpu(const EncodedTensor& e);

}  // namespace rbe::codec::gpu
