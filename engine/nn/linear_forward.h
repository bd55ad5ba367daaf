#pragma once
// The forward product of a linear layer on raw buffers, with the kernel picked
// by the row count: the GEMV for one row, the multi-row GEMV for a few, the
// GEMM (AMX tiles where the CPU has them) beyond. F::linear runs it on
// tensors; the dense packed forms (codec/dense_packed.h) run it on their own
// f16 / f32 storage, so that they take the same kernels as a dense layer.
#include <cstdint>

namespace rbe::nn {
class PackedMatrix;
}

namespace rbe::nn::F {

// out[N, OC] = inp[N, IC] @ weight[OC, IC]^T + bias[OC] (bias may be null).
// `graph`: the step records a graph (training), and then takes the SGEMM
// the backward runs too.
void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N, int64_t IC,
                    int64_t OC, bool graph);

// The same with f16 weights, converted on the fly (inference only).
void linear_forward_f16(float* out, const float* inp, const uint16_t* weight, const float* bias, int64_t N,
                        int64_t IC, int64_t OC);

// The same with packed weights (the codec's forms): the packed GEMV for one
// row, the packed GEMM for more (inference only).
void linear_forward_packed(float* out, const float* inp, const PackedMatrix& weight, const float* bias, int64_t N);

}  // namespace rbe::nn::F
