// gemm_split.h's checks and entry points, built for the base instruction set
// (amx_tiles.cpp says why): the AMX code in gemm_split_amx.cpp runs only
// after them.
#include "tensor/kernels/gemm_split.h"

#include "tensor/env_switch.h"
#include "tensor/kernels/amx_tiles.h"
#include "tensor/kernels/gemm_split_internal.h"

namespace rbe::kernels {

namespace {

// The tiles, unless the switch says "sgemm".
bool usable_unless(const char* switch_name) { return amx_bf16_usable() && !env_equals(switch_name, "sgemm"); }

// The product where the tiles are usable and the shape fits (gemm_split.h).
template <class T>
bool tiles_if(bool usable, void (*run)(int64_t, int64_t, int64_t, const float*, int64_t, const T*, int64_t, float,
                                       float*, int64_t),
              int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const T* W, int64_t ldw, float beta,
              float* C, int64_t ldc) {
  if (!usable || M <= 0 || N <= 0 || K <= 0 || K % kSplitTilesDepth != 0) return false;
  run(M, N, K, A, lda, W, ldw, beta, C, ldc);
  return true;
}

}  // namespace

bool gemm_f16w_tiles_usable() {
  static const bool ok = usable_unless("RBE_F16_GEMM");
  return ok;
}

bool gemm_f16w_tiles(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
                     float beta, float* C, int64_t ldc) {
  return tiles_if(gemm_f16w_tiles_usable(), gemm_f16w_tiles_run, M, N, K, A, lda, W, ldw, beta, C, ldc);
}

bool gemm_f32w_tiles_usable() {
  static const bool ok = usable_unless("RBE_F32_GEMM");
  return ok;
}

bool gemm_f32w_tiles(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, int64_t ldw,
                     float beta, float* C, int64_t ldc) {
  return tiles_if(gemm_f32w_tiles_usable(), gemm_f32w_tiles_run, M, N, K, A, lda, W, ldw, beta, C, ldc);
}

const char* gemm_f32w_kernel_name(int64_t M, int64_t K) {
  return M >= kSplitTilesMinRowsF32 && K % kSplitTilesDepth == 0 && gemm_f32w_tiles_usable() ? "amx-bf16x6" : "sgemm";
}

}  // namespace rbe::kernels
