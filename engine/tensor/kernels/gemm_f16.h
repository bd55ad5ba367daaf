#pragma once
// Matrix-matrix product with an f16 weight operand, for prompt processing and
// batched inference with f16 weights: C[M, N] = A[M, K] * W[N, K]^T + beta * C.
// W: raw IEEE half bits, row-major, ldw >= K. beta == 0: C is overwritten.
// Where the machine has AMX bf16 tiles, on them (gemm_f16w_tiles in
// gemm_split.h, from 9 rows); else W is
// converted a block of rows at a time into a per-task f32 buffer and fed to
// sgemm, tasks over the blocks in parallel with oneTBB.
#include <cstdint>

namespace rbe::kernels {

void gemm_f16w(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
               float beta, float* C, int64_t ldc);

// The same product for few rows of A (all of A in one packed block): the
// SGEMM's column tasks, each converting and packing its own weight panels
// (gemm.cpp). Returns false, doing nothing, when the shape is not for it.
bool gemm_f16w_columns(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
                       float beta, float* C, int64_t ldc);

// The SGEMM path alone: W converted to f32, exact products (a reference for
// the tiles, and what runs without them).
void gemm_f16w_converted(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W,
                         int64_t ldw, float beta, float* C, int64_t ldc);

// Which path gemm_f16w takes for M rows and depth K: "amx-bf16x3" or "sgemm".
const char* gemm_f16w_kernel_name(int64_t M, int64_t K);

}  // namespace rbe::kernels
