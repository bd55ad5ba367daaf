#pragma once
// The tile products of gemm_split.h without their checks, in
// gemm_split_amx.cpp (built with the AMX flags where RBE_AMX_KERNELS; stubs
// that abort elsewhere): called by gemm_split.cpp only once the tiles are
// usable and the shape fits (M, N, K > 0, K a multiple of kSplitTilesDepth).
#include <cstdint>

namespace rbe::kernels {

void gemm_f16w_tiles_run(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W,
                         int64_t ldw, float beta, float* C, int64_t ldc);
void gemm_f32w_tiles_run(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, int64_t ldw,
                         float beta, float* C, int64_t ldc);

}  // namespace rbe::kernels
