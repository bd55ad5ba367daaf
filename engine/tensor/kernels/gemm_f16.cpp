// f16-weight GEMM by tile-wise conversion (see gemm_f16.h).
#include "tensor/kernels/gemm_f16.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <memory>

#include "tensor/dtype.h"
#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemm_split.h"

namespace rbe::kernels {

namespace {
bool tiles_for(int64_t M, int64_t K) { return M >= kSplitTilesMinRows && K % 32 == 0 && gemm_f16w_tiles_usable(); }
}  // namespace

const char* gemm_f16w_kernel_name(int64_t M, int64_t K) { return tiles_for(M, K) ? "amx-bf16x3" : "sgemm"; }

void gemm_f16w(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
               float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (tiles_for(M, K) && gemm_f16w_tiles(M, N, K, A, lda, W, ldw, beta, C, ldc)) return;
  gemm_f16w_converted(M, N, K, A, lda, W, ldw, beta, C, ldc);
}

void gemm_f16w_converted(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W,
                         int64_t ldw, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (gemm_f16w_columns(M, N, K, A, lda, W, ldw, beta, C, ldc)) return;  // few rows: gemm.cpp's column tasks
  // About 512 KiB of converted weights per block (it stays in L2 while sgemm
  // reuses it for every row of A), a multiple of 16 rows.
  const int64_t rows = std::max<int64_t>(16, (512 << 10) / (std::max<int64_t>(K, 1) * 4) / 16 * 16);
  const int64_t nblk = (N + rows - 1) / rows;
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, nblk, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        std::unique_ptr<float[]> buf(new float[size_t(rows * std::max<int64_t>(K, 1))]);
        for (int64_t b = r.begin(); b < r.end(); ++b) {
          const int64_t j0 = b * rows, nb = std::min(N, j0 + rows) - j0;
          for (int64_t j = 0; j < nb; ++j) f16_to_f32_n(W + (j0 + j) * ldw, buf.get() + j * K, K);
          sgemm(false, true, M, nb, K, 1.f, A, lda, buf.get(), K, beta, C + j0, ldc);
        }
      },
      tbb::simple_partitioner());
}

}  // namespace rbe::kernels
