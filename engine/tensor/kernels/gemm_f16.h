#pragma once
// Matrix-matrix product with an f16 weight operand, for prompt processing and
// batched inference with f16 weights: C[M, N] = A[M, K] * W[N, K]^T + beta * C.
// W (raw IEEE half bits, row-major, ldw >= K) is converted tile by tile (a
// block of W's rows at a time, into a per-task f32 buffer) and fed to sgemm;
// tasks over the blocks run in parallel with oneTBB. beta == 0: C is overwritten.
#include <cstdint>

namespace rbe::kernels {

void gemm_f16w(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
               float beta, float* C, int64_t ldc);

// The same product for few rows of A (all of A in one packed block): the
// SGEMM's column tasks, each converting and packing its own weight panels
// (gemm.cpp). Returns false, doing nothing, when the shape is not for it.
bool gemm_f16w_columns(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
                       float beta, float* C, int64_t ldc);

// dst[0:n] = f32(src[0:n]) (F16C where available).
void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n);

}  // namespace rbe::kernels
