#pragma once
// Helpers of the fixed-rate forms' tests (test_codec_fixed.cpp,
// test_codec_fixed_interleaved.cpp): random matrices, encoding settings, the
// decode, a double-precision matvec and the error measures the kernels are
// held to, and the forms every test runs through.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/fixed_rate.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace rbe::fixed_test {

using codec::CodecSettings;
using codec::EncodedTensor;

inline Tensor gaussian(int64_t rows, int64_t cols, uint64_t seed, float std = 0.02f) {
  Tensor t = Tensor::empty({rows, cols}, DType::F32);
  Rng rng(seed);
  float* p = t.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i) p[i] = float(rng.normal()) * std;
  return t;
}

inline CodecSettings settings(const std::string& codec, std::optional<double> bpw = {}) {
  CodecSettings s;
  s.codec = codec;
  s.storage = codec::Storage::Fixed;
  s.bpw = bpw;
  return s;
}

inline EncodedTensor enc(const Tensor& W, const CodecSettings& s, const Tensor& H = {}) {
  return codec::encode_fixed(W, s, {}, {}, H);
}

inline std::vector<float> decode_all(const EncodedTensor& e) {
  std::vector<float> out(size_t(e.rows * e.cols));
  codec::decode_fixed_rows(e, 0, e.rows, out.data());
  return out;
}

inline std::vector<double> naive_matvec(const std::vector<float>& W, int64_t rows, int64_t cols, const float* x,
                                        const float* bias) {
  std::vector<double> y(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double s = bias ? bias[r] : 0.0;
    for (int64_t c = 0; c < cols; ++c) s += double(W[size_t(r * cols + c)]) * x[c];
    y[size_t(r)] = s;
  }
  return y;
}

inline double rel_diff(const std::vector<float>& got, const std::vector<double>& ref) {
  double e = 0, n = 0;
  for (size_t i = 0; i < ref.size(); ++i) e += (got[i] - ref[i]) * (got[i] - ref[i]), n += ref[i] * ref[i];
  return std::sqrt(e / std::max(n, 1e-30));
}

// Largest |y_r - ref_r| / (||w_r|| ||x||): the error relative to what a row's
// product can reach, immune to cancellation in a single output.
inline double row_err(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<float>& W,
                      int64_t cols, const float* x) {
  double nx = 0, worst = 0;
  for (int64_t c = 0; c < cols; ++c) nx += double(x[c]) * x[c];
  for (size_t r = 0; r < ref.size(); ++r) {
    double nw = 0;
    for (int64_t c = 0; c < cols; ++c) nw += double(W[r * size_t(cols) + size_t(c)]) * W[r * size_t(cols) + size_t(c)];
    worst = std::max(worst, std::fabs(got[r] - ref[r]) / std::sqrt(std::max(nw * nx, 1e-30)));
  }
  return worst;
}

struct Form {
  std::string codec;
  std::optional<double> bpw;
  double expect_bpw;
};
// N(0, scale^2) values, drawn from `seed`.
inline std::vector<float> normal(int64_t n, uint64_t seed, float scale = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  Rng rng(seed);
  for (auto& x : v) x = float(rng.normal()) * scale;
  return v;
}

// Whether this machine runs the AVX-512 VNNI kernel, and so the regrouped
// copy (codec/fixed_interleaved.h).
inline bool has_vnni_kernel() { return codec::fixed::find_kernels("avx512vnni") != nullptr; }

inline const std::vector<Form> kForms = {{"q8_0", {}, 8.5},   {"q4_0", {}, 4.5},  {"rbe", 4.5, 4.5},
                                         {"rbe", 4.25, 4.25}, {"rbe", 3.5, 3.5},  {"rbe", 3.25, 3.25},
                                         {"rbe", 2.5, 2.5},   {"rbe", 2.25, 2.25}};

}  // namespace rbe::fixed_test
