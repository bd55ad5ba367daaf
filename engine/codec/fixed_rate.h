#pragma once
// Fixed-rate forms that the fused decode x matvec kernels run from:
//   "q8_0"  blocks of 32 weights along a row: f16 scale + 32 int8   (8.5 bpw)
//   "q4_0"  blocks of 32 weights along a row: f16 scale + 32 nibbles (4.5 bpw)
//   "rbe" fixed: RBELinear's records (layout in docs/format.md), at the bits
//           per weight asked (settings.bpw / grade), run by the fused kernel.
// With a calibration Hessian H = X^T X [cols, cols], encoders round with
// error feedback (GPTQ/LDLQ) instead of to nearest.
#include "codec/codec.h"

namespace rbe::codec {

EncodedTensor encode_fixed(const Tensor& W, const CodecSettings& s, const ProgressFn& progress,
                           const CancelFn& cancel, const Tensor& hessian);
void decode_fixed_rows(const EncodedTensor& e, int64_t r0, int64_t r1, float* out);
std::shared_ptr<nn::PackedMatrix> make_packed_fixed(std::shared_ptr<const EncodedTensor> e);

}  // namespace rbe::codec
