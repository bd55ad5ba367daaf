#pragma once
// C[M, N] = A[M, K] W[N, K]^T + beta C on AMX bf16 tiles, with both operands
// split into bf16 parts (gemm_split_amx.cpp): x = x_0 + x_1 + ..., each part
// bf16 of what the parts before it miss. TDPBF16PS multiplies bf16 pairs
// exactly and sums in f32, so the products of the parts, minus the smallest
// ones, give the product to the precision of its operands:
// - f16 W: two parts each (W exactly, A to 16 of its 24 bits), three
//   products; each term off by at most about 2^-17 of itself.
// - f32 W: three parts each (both exactly), six products; each term off by at
//   most about 2^-26 of itself, below an f32 product's own rounding.
// Row-major A (lda) and W (ldw), K a multiple of 32; beta == 0: C is
// overwritten. Each returns false, doing nothing, where the tiles are not
// usable here (amx_tiles.h), its switch turns it off (RBE_F16_GEMM=sgemm,
// RBE_F32_GEMM=sgemm), or K is not a multiple of 32.
#include <cstdint>

namespace rbe::kernels {

// The fewest rows the linear layers give these products: with f16 W from
// 9 rows, where they beat the SGEMM (1.9-2.0x at 9 rows, bench_quant_gemv
// batch/f16/.../9; F::linear keeps the multi-GEMV up to 16). With f32 W from
// 32: the thirty-eighth session's 124M decoding steps took 1.2-1.3x the
// SGEMM's time at 9-24 rows, the same at 32, 0.94 at 64 (docs/performance.md,
// "Batches of 9 to 16"), where an earlier measurement had put the tiles
// 1.03-1.18x ahead at 9 rows.
constexpr int64_t kSplitTilesMinRows = 9;
constexpr int64_t kSplitTilesMinRowsF32 = 32;
// K must be a multiple of this (a tile row's bf16 values, kTileDepth).
constexpr int64_t kSplitTilesDepth = 32;

bool gemm_f16w_tiles_usable();
bool gemm_f16w_tiles(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
                     float beta, float* C, int64_t ldc);

bool gemm_f32w_tiles_usable();
bool gemm_f32w_tiles(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, int64_t ldw,
                     float beta, float* C, int64_t ldc);

// What an inference linear layer with f32 weights runs for M rows of depth
// K (nn/functional_linear.cpp; up to 8 rows the multi-GEMV, from
// kSplitTilesMinRowsF32 the tiles where usable): "amx-bf16x6" or "sgemm".
const char* gemm_f32w_kernel_name(int64_t M, int64_t K);

}  // namespace rbe::kernels
