// The default batched product of a packed matrix: decode row panels to f32
// and multiply them with the SGEMM (prompt processing is compute-bound, so a
// decode per panel costs little next to the multiply).
#include "nn/packed_matrix.h"

#include "tensor/kernels/gemm.h"

namespace rbe::nn {

void PackedMatrix::gemm(int64_t N, const float* X, const float* bias, float* Y) const {
  const int64_t R = rows(), K = cols();
  if (N <= 0 || R <= 0) return;
  if (N <= 2) {  // a panel decode would cost more than N fused passes over the packed bytes
    for (int64_t n = 0; n < N; ++n) gemv(X + n * K, bias, Y + n * R);
    return;
  }
  kernels::gemm_decoded_panels(N, R, K, X, [this](int64_t r0, int64_t r1, float* out) { decode_rows(r0, r1, out); },
                               Y);
  if (bias)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t r = 0; r < R; ++r) Y[n * R + r] += bias[r];
}

}  // namespace rbe::nn
