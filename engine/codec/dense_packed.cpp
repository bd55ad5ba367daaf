#include "codec/dense_packed.h"

#include <stdexcept>

#include "tensor/dtype.h"
#include "tensor/kernels/gemv.h"

namespace rbe::codec {

DensePacked::DensePacked(int64_t rows, int64_t cols, const float* W, bool half, std::string format)
    : rows_(rows), cols_(cols), half_(half), format_(std::move(format)) {
  const size_t n = size_t(rows * cols);
  if (half_) {
    h_.resize(n);
    for (size_t i = 0; i < n; ++i) h_[i] = f32_to_f16(W[i]);
  } else {
    f_.assign(W, W + n);
  }
}

void DensePacked::gemv(const float* x, const float* bias, float* y) const {
  if (half_) kernels::hgemv(rows_, cols_, h_.data(), cols_, x, bias, y);
  else kernels::sgemv(rows_, cols_, f_.data(), cols_, x, bias, y);
}

void DensePacked::decode_rows(int64_t r0, int64_t r1, float* out) const {
  if (r0 < 0 || r1 > rows_ || r0 > r1) throw std::out_of_range("DensePacked::decode_rows: bad row range");
  const size_t a = size_t(r0 * cols_), b = size_t(r1 * cols_);
  if (half_)
    for (size_t i = a; i < b; ++i) out[i - a] = f16_to_f32(h_[i]);
  else
    std::copy(f_.begin() + std::ptrdiff_t(a), f_.begin() + std::ptrdiff_t(b), out);
}

int64_t DensePacked::bytes() const { return rows_ * cols_ * (half_ ? 2 : 4); }

}  // namespace rbe::codec
