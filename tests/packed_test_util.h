#pragma once
// A dense [rows, cols] copy of a weight behind the packed interface, for tests
// of the layers' packed paths. gemv is a double-precision loop (and counts its
// calls); gemm is left to the base class (decode panels + SGEMM) so that it is
// tested too.
#include <cstdint>
#include <cstring>
#include <string>

#include "nn/packed_matrix.h"
#include "tensor/tensor.h"

namespace rbe::testing_packed {

class DenseCopy : public nn::PackedMatrix {
 public:
  explicit DenseCopy(const Tensor& w) : rows_(w.size(0)), cols_(w.size(1)), w_(w.contiguous().clone()) {}
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  void gemv(const float* x, const float* bias, float* y) const override {
    for (int64_t r = 0; r < rows_; ++r) {
      double acc = bias ? bias[r] : 0.0;
      for (int64_t c = 0; c < cols_; ++c) acc += double(w_.data<float>()[r * cols_ + c]) * x[c];
      y[r] = float(acc);
    }
    ++gemv_calls;
  }
  void decode_rows(int64_t r0, int64_t r1, float* out) const override {
    std::memcpy(out, w_.data<float>() + r0 * cols_, size_t((r1 - r0) * cols_) * sizeof(float));
  }
  int64_t bytes() const override { return rows_ * cols_ * 4; }
  std::span<const std::byte> storage() const override {
    return {static_cast<const std::byte*>(w_.raw_data()), size_t(bytes())};
  }
  std::string format() const override { return "dense-test"; }
  mutable int gemv_calls = 0;

 private:
  int64_t rows_, cols_;
  Tensor w_;
};

}  // namespace rbe::testing_packed
