// The dense packed forms (f16, f32, rbe entropy decoded once): make_packed
// keeps the payload's bits, and the products are the dense Linear's own (the
// same kernels for 1, a few and many rows), bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "autodiff/node.h"
#include "codec/codec.h"
#include "codec/dense_packed.h"
#include "nn/layers.h"
#include "tensor/ops.h"

namespace {

using namespace rbe;

std::shared_ptr<const codec::EncodedTensor> encoded(const Tensor& w, const std::string& form) {
  codec::CodecSettings s;
  s.codec = form;
  if (form == "rbe") {
    s.storage = codec::Storage::Entropy;
    s.bpw = 4.0;
  }
  return std::make_shared<const codec::EncodedTensor>(codec::encode(w, s));
}

TEST(DensePacked, RunsAsTheDenseLinearOfItsDtype) {
  NoGradGuard ng;
  for (const char* form : {"f16", "f32"}) {
    SCOPED_TRACE(form);
    nn::Linear lin(96, 200, true, 5);
    for (int64_t i = 0; i < lin.bias.numel(); ++i) lin.bias.data<float>()[i] = 0.01f * float(i % 7);
    auto e = encoded(lin.weight, form);
    std::shared_ptr<nn::PackedMatrix> p = codec::make_packed(e);
    EXPECT_EQ(p->format(), form);
    EXPECT_EQ(p->bytes(), e->size);
    // The payload's bits, and decode's values.
    std::vector<float> rows(size_t(200 * 96));
    p->decode_rows(0, 200, rows.data());
    EXPECT_EQ(rows, codec::decode(*e).to_vector());
    if (std::string(form) == "f16") lin.cast_parameters(DType::F16);
    for (int64_t N : {1, 3, 40}) {  // GEMV, multi-row GEMV, GEMM
      Tensor x = Tensor::randn({N, 96}, 11 + N);
      Tensor dense = lin.forward(x);
      lin.set_packed(p);
      Tensor packed = lin.forward(x);
      lin.set_packed(nullptr);
      EXPECT_EQ(packed.to_vector(), dense.to_vector()) << "N = " << N;
    }
  }
}

TEST(DensePacked, RbeEntropyIsDecodedOnceToF16) {
  Tensor w = Tensor::randn({64, 128}, 3);
  auto e = encoded(w, "rbe");
  std::shared_ptr<nn::PackedMatrix> p = codec::make_packed(e);
  EXPECT_EQ(p->format(), "rbe-entropy");
  EXPECT_EQ(p->bytes(), 64 * 128 * 2);
  std::vector<float> rows(size_t(10 * 128));
  p->decode_rows(20, 30, rows.data());
  const std::vector<float> all = codec::decode(*e).to(DType::F16).to(DType::F32).to_vector();
  EXPECT_EQ(rows, std::vector<float>(all.begin() + 20 * 128, all.begin() + 30 * 128));
  EXPECT_THROW(p->decode_rows(60, 65, rows.data()), std::out_of_range);
}

TEST(DensePacked, RefusesWhatItCannotRun) {
  EXPECT_THROW(codec::DensePacked(Tensor::zeros({8}), "f32"), std::invalid_argument);
  EXPECT_THROW(codec::DensePacked(Tensor::zeros({4, 8}, DType::BF16), "bf16"), std::invalid_argument);
  EXPECT_THROW(codec::DensePacked(ops::transpose(Tensor::zeros({8, 4}), 0, 1), "f32"), std::invalid_argument);
  // A payload of the wrong size (a corrupt file) is an error, not a read past its end.
  auto e = std::make_shared<codec::EncodedTensor>(codec::encode(Tensor::randn({4, 8}, 1), [] {
    codec::CodecSettings s;
    s.codec = "f16";
    return s;
  }()));
  e->size -= 2;
  EXPECT_THROW(codec::make_packed(e), std::runtime_error);
}

}  // namespace
