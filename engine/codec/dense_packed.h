#pragma once
// A dense f16 (or f32) PackedMatrix: what make_packed returns for the forms
// that are decoded once on load (rbe entropy, f16, f32). It runs the products
// of a dense Linear of that dtype (nn/linear_forward.h): the GEMV for one
// row, the f16-weight GEMM for a prompt.
#include <string>

#include "nn/packed_matrix.h"
#include "tensor/tensor.h"

namespace rbe::codec {

class DensePacked : public nn::PackedMatrix {
 public:
  // w: [rows, cols], F16 or F32, contiguous (throws std::invalid_argument
  // otherwise). Kept as it is: a buffer from Tensor::empty sits on 2 MiB
  // pages when it is that big, as a dense model's matrices do.
  DensePacked(Tensor w, std::string format);

  int64_t rows() const override { return w_.size(0); }
  int64_t cols() const override { return w_.size(1); }
  void gemv(const float* x, const float* bias, float* y) const override;
  void gemm(int64_t N, const float* X, const float* bias, float* Y) const override;
  void decode_rows(int64_t r0, int64_t r1, float* out) const override;
  int64_t bytes() const override;
  std::span<const std::byte> storage() const override {
    return {static_cast<const std::byte*>(w_.raw_data()), size_t(bytes())};
  }
  std::string format() const override { return format_; }

 private:
  Tensor w_;
  std::string format_;
};

}  // namespace rbe::codec
