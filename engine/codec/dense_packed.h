#pragma once
// A dense f16 (or f32) PackedMatrix: what make_packed returns for the forms
// that are decoded once on load (rbe entropy, f16, f32). gemv runs the
// f16/f32 GEMV kernels.
#include <memory>
#include <string>
#include <vector>

#include "nn/packed_matrix.h"

namespace rbe::codec {

class DensePacked : public nn::PackedMatrix {
 public:
  // From f32 values W[rows * cols]; stored as f16 when half, else f32.
  DensePacked(int64_t rows, int64_t cols, const float* W, bool half, std::string format);

  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  void gemv(const float* x, const float* bias, float* y) const override;
  void decode_rows(int64_t r0, int64_t r1, float* out) const override;
  int64_t bytes() const override;
  std::string format() const override { return format_; }

 private:
  int64_t rows_, cols_;
  bool half_;
  std::vector<uint16_t> h_;
  std::vector<float> f_;
  std::string format_;
};

}  // namespace rbe::codec
