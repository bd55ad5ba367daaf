// GPU decode of the fixed-rate forms (codec/fixed_decode_gpu.h) against the
// CPU decoder: bit-identical for q8_0, q4_0 and rbe fixed at 2, 3 and 4 bits.
// Runs where this build has CUDA and the machine a GPU (the device machine);
// elsewhere the comparison is skipped and only the clear refusal is checked.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "codec/codec.h"
#include "codec/fixed_decode_gpu.h"

namespace {

using namespace rbe;

codec::EncodedTensor encode_fixed(const std::string& codec_name, double bpw) {
  codec::CodecSettings s;
  s.codec = codec_name;
  if (codec_name == "rbe") {
    s.storage = codec::Storage::Fixed;
    s.bpw = bpw;
  }
  return codec::encode(Tensor::randn({67, 256}, 5, 0.f, 0.02f), s);
}

TEST(CodecGpu, DecodeMatchesCpuBitForBit) {
  std::string why;
  if (!codec::gpu::available(&why)) GTEST_SKIP() << why;
  for (auto [name, bpw] : {std::pair{"q8_0", 0.0}, {"q4_0", 0.0}, {"rbe", 4.5}, {"rbe", 3.5}, {"rbe", 2.5}}) {
    const codec::EncodedTensor e = encode_fixed(name, bpw);
    const Tensor cpu = codec::decode(e), gpu = codec::gpu::decode_fixed_gpu(e);
    ASSERT_EQ(cpu.shape(), gpu.shape());
    EXPECT_EQ(std::memcmp(cpu.data<float>(), gpu.data<float>(), size_t(cpu.numel()) * sizeof(float)), 0)
        << name << " at " << bpw << " bpw";
  }
}

TEST(CodecGpu, WithoutAGpuTheDecodeSaysWhy) {
  std::string why;
  if (codec::gpu::available(&why)) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(why.empty());
  const codec::EncodedTensor e = encode_fixed("q8_0", 0.0);
  try {
    codec::gpu::decode_fixed_gpu(e);
    FAIL() << "expected a runtime_error";
  } catch (const std::runtime_error& err) {
    EXPECT_NE(std::string(err.what()).find("GPU decode"), std::string::npos) << err.what();
  }
}

}  // namespace
