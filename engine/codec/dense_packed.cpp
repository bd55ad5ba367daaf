#include "codec/dense_packed.h"

#include <cstring>
#include <stdexcept>

#include "nn/linear_forward.h"
#include "tensor/dtype.h"

namespace rbe::codec {

DensePacked::DensePacked(Tensor w, std::string format) : w_(std::move(w)), format_(std::move(format)) {
  if (w_.dim() != 2 || !w_.is_contiguous() || (w_.dtype() != DType::F16 && w_.dtype() != DType::F32))
    throw std::invalid_argument("DensePacked: expected a contiguous 2-D F16 or F32 matrix, got " +
                                shape_str(w_.shape()) + " " + dtype_name(w_.dtype()));
}

void DensePacked::gemv(const float* x, const float* bias, float* y) const { gemm(1, x, bias, y); }

void DensePacked::gemm(int64_t N, const float* X, const float* bias, float* Y) const {
  if (w_.dtype() == DType::F16)
    nn::F::linear_forward_f16(Y, X, w_.data<uint16_t>(), bias, N, cols(), rows());
  else
    nn::F::linear_forward(Y, X, w_.data<float>(), bias, N, cols(), rows(), /*graph=*/false);
}

void DensePacked::decode_rows(int64_t r0, int64_t r1, float* out) const {
  if (r0 < 0 || r1 > rows() || r0 > r1) throw std::out_of_range("DensePacked::decode_rows: bad row range");
  const int64_t a = r0 * cols(), n = (r1 - r0) * cols();
  if (w_.dtype() == DType::F16) f16_to_f32_n(w_.data<uint16_t>() + a, out, n);
  else std::memcpy(out, w_.data<float>() + a, size_t(n) * sizeof(float));
}

int64_t DensePacked::bytes() const { return w_.numel() * int64_t(dtype_size(w_.dtype())); }

}  // namespace rbe::codec
