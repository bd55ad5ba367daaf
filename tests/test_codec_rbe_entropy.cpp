// The RBE entropy form end to end: round trips, metadata measured against the
// real decode, grade and bits/weight targets (RapidCheck over shapes, block
// sizes and grades), selective / lazy decode, progress and cancel, corrupt
// payloads; plus the codec dispatch for the dense forms and settings JSON.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "codec/codec.h"
#include "codec/lazy_decoder.h"
#include "codec/metrics.h"
#include "codec/rbe_entropy.h"
#include "codec/records.h"

namespace rbe::codec {
namespace {

CodecSettings entropy_settings(int block, std::optional<QualityGrade> g, std::optional<double> bpw = {}) {
  CodecSettings s;
  s.codec = "rbe";
  s.storage = Storage::Entropy;
  s.block_size = block;
  s.grade = g;
  s.bpw = bpw;
  return s;
}

// A matrix with some structure: Gaussian noise plus a smooth pattern and an outlier.
Tensor test_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  Tensor W = Tensor::randn({rows, cols}, seed, 0.f, 0.02f);
  float* w = W.data<float>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) w[i * cols + j] += 0.01f * std::cos(0.05f * float(i) + 0.1f * float(j));
  w[(rows / 2) * cols + cols / 3] = 0.5f;
  return W;
}

TEST(CodecRbeEntropy, MetadataIsMeasuredOnTheRealDecode) {
  const Tensor W = test_matrix(100, 130, 1);
  const EncodedTensor e = encode(W, entropy_settings(32, QualityGrade::A));
  const Tensor D = decode(e);
  const int64_t n = W.numel();
  EXPECT_DOUBLE_EQ(e.meta.rmse, rmse(W.data<float>(), D.data<float>(), n));
  EXPECT_DOUBLE_EQ(e.meta.rel_rmse, rel_rmse(W.data<float>(), D.data<float>(), n));
  EXPECT_DOUBLE_EQ(e.meta.snr_db, snr_db(W.data<float>(), D.data<float>(), n));
  EXPECT_EQ(e.meta.bytes, e.size);
  EXPECT_DOUBLE_EQ(e.meta.bits_per_weight, 8.0 * double(e.size) / double(n));
  EXPECT_EQ(e.blocks.size(), size_t(4 * 5));
  double bits = 0;
  for (const auto& b : e.blocks) bits += b.bits;
  EXPECT_NEAR(bits, 8.0 * double(e.size), 1e-3 * 8.0 * double(e.size));  // block bits add up to the payload
  EXPECT_GT(e.meta.coefficient_count, 0);
  EXPECT_EQ(e.params["block_size"], 32);
}

RC_GTEST_PROP(CodecRbeEntropyProps, GradeTargetHoldsInEveryBlock, ()) {
  const int64_t rows = *rc::gen::inRange(1, 90), cols = *rc::gen::inRange(1, 90);
  const int block = *rc::gen::element(8, 16, 32, 64);
  const QualityGrade g = QualityGrade(*rc::gen::inRange(0, kGradeCount));
  const Tensor W = test_matrix(rows, cols, *rc::gen::arbitrary<uint32_t>());
  const EncodedTensor e = encode(W, entropy_settings(block, g));
  const Tensor D = decode(e);
  for (const BlockStats& b : e.blocks) {
    RC_ASSERT(b.rel_rmse <= grade_bound(g));
    // The block's stat is the real decode's error.
    std::vector<float> a, d;
    for (int i = 0; i < b.rows; ++i)
      for (int j = 0; j < b.cols; ++j) {
        a.push_back(W.data<float>()[(b.row0 + i) * cols + b.col0 + j]);
        d.push_back(D.data<float>()[(b.row0 + i) * cols + b.col0 + j]);
      }
    RC_ASSERT(std::fabs(double(b.rel_rmse) - rel_rmse(a.data(), d.data(), int64_t(a.size()))) <= 1e-6 * grade_bound(g));
  }
  // Rows decode gives the identical numbers.
  const int64_t r0 = *rc::gen::inRange<int64_t>(0, rows), r1 = *rc::gen::inRange<int64_t>(r0, rows + 1);
  std::vector<float> part(size_t((r1 - r0) * cols));
  decode_rows(e, r0, r1, part.data());
  RC_ASSERT(std::memcmp(part.data(), D.data<float>() + r0 * cols, part.size() * sizeof(float)) == 0);
}

TEST(CodecRbeEntropy, BitsPerWeightBudgetIsMetWithEverythingCounted) {
  const Tensor W = Tensor::randn({256, 192}, 3);
  double prev_snr = 0;
  for (double bpw : {1.0, 2.0, 3.0, 4.0}) {
    const EncodedTensor e = encode(W, entropy_settings(64, std::nullopt, bpw));
    EXPECT_LE(8.0 * double(e.size), bpw * double(W.numel())) << bpw;
    EXPECT_GT(e.meta.bits_per_weight, bpw * 0.95) << "budget should be used, not wasted";
    EXPECT_GT(e.meta.snr_db, prev_snr + 4.5) << bpw;  // ~6 dB per bit
    // Within 1.5 dB of the Gaussian bound 6.02 R (everything counted).
    EXPECT_GT(e.meta.snr_db, 6.0206 * e.meta.bits_per_weight - 1.5) << bpw;
    prev_snr = e.meta.snr_db;
  }
  EXPECT_THROW(encode(W, entropy_settings(64, std::nullopt, 0.001)), std::runtime_error);
}

TEST(CodecRbeEntropy, LazyDecodeEqualsFullDecode) {
  const Tensor W = test_matrix(70, 100, 4);
  auto e = std::make_shared<EncodedTensor>(encode(W, entropy_settings(16, QualityGrade::B)));
  const Tensor D = decode(*e);
  LazyDecoder lazy(e);
  std::vector<float> row(100);
  lazy.decode_rows(33, 34, row.data());
  EXPECT_EQ(lazy.blocks_decoded(), 7);  // one block-row of ceil(100/16) blocks
  EXPECT_EQ(std::memcmp(row.data(), D.data<float>() + 33 * 100, 100 * sizeof(float)), 0);
  std::vector<float> all(70 * 100);
  lazy.decode_rows(0, 70, all.data());
  EXPECT_EQ(std::memcmp(all.data(), D.data<float>(), all.size() * sizeof(float)), 0);
  EXPECT_THROW(lazy.block(5, 0), std::out_of_range);
}

TEST(CodecRbeEntropy, ProgressReachesOneAndCancelThrows) {
  const Tensor W = Tensor::randn({128, 128}, 5);
  std::vector<double> seen;
  encode(W, entropy_settings(32, QualityGrade::A), [&](double f, const std::string&) { seen.push_back(f); });
  ASSERT_FALSE(seen.empty());
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
  for (double f : seen) EXPECT_TRUE(f >= 0 && f <= 1);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]);
  seen.clear();
  encode(W, entropy_settings(32, std::nullopt, 2.5), [&](double f, const std::string&) { seen.push_back(f); });
  ASSERT_FALSE(seen.empty());
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]) << i;
  std::atomic<int> polls{0};
  EXPECT_THROW(encode(W, entropy_settings(32, QualityGrade::A), {}, [&] { return ++polls > 3; }), Cancelled);
  EXPECT_THROW(encode(W, entropy_settings(32, std::nullopt, 2.0), {}, [] { return true; }), Cancelled);
}

TEST(CodecRbeEntropy, PartsCanBeSwitchedOff) {
  const Tensor W = test_matrix(64, 64, 6);
  for (bool rotate : {false, true})
    for (bool tcq : {false, true})
      for (auto gen : {RbeEntropyOptions::Generator::Off, RbeEntropyOptions::Generator::Force}) {
        RbeEntropyOptions o;
        o.rotate = rotate, o.tcq = tcq, o.generator = gen;
        const EncodedTensor e = encode_rbe_entropy(W, entropy_settings(32, QualityGrade::APlus), {}, {}, o);
        const Tensor D = decode(e);
        EXPECT_DOUBLE_EQ(e.meta.rel_rmse, rel_rmse(W.data<float>(), D.data<float>(), W.numel()));
        for (const auto& b : e.blocks) EXPECT_LE(b.rel_rmse, grade_bound(QualityGrade::APlus));
      }
}

TEST(CodecRbeEntropy, GeneratorRecordPaysOffOnlyOnMatchingStructure) {
  // Blocks that are one of the search's plane waves plus weak noise: Auto keeps
  // records and spends fewer bits than Off at the same grade. On pure noise it
  // keeps none (the Gaussian rows of rbe-rd measure the same).
  const int64_t n = 128;
  Tensor W = Tensor::randn({n, n}, 12, 0.f, 0.001f);
  DecodedParams p;
  p.basis = 1, p.r = 0.6f, p.amplitude = 1.f;
  std::vector<float> g(64 * 64);
  generate_block(p, 64, 64, g.data());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) W.data<float>()[i * n + j] += g[(i % 64) * 64 + j % 64];
  RbeEntropyOptions off, autom;
  off.generator = RbeEntropyOptions::Generator::Off;
  off.rotate = autom.rotate = false;
  const auto s = entropy_settings(64, QualityGrade::SPlus);
  const EncodedTensor a = encode_rbe_entropy(W, s, {}, {}, autom), o = encode_rbe_entropy(W, s, {}, {}, off);
  EXPECT_LT(a.size, o.size);
  const HybridEncodedBlock hb = describe_rbe_entropy_block(a, 0);
  ASSERT_TRUE(hb.has_record);
  EXPECT_EQ(hb.record.params().basis, 1);
  EXPECT_NEAR(hb.amplitude, 1.f, 1e-2);
  EXPECT_GT(hb.step, 0.f);
  EXPECT_EQ(hb.grade, uint8_t(a.blocks[0].grade));
  EXPECT_NEAR(hb.bits, a.blocks[0].bits, 1e-3);
  EXPECT_FALSE(describe_rbe_entropy_block(o, 0).has_record);
  EXPECT_THROW(describe_rbe_entropy_block(a, 4), std::out_of_range);
  EXPECT_DOUBLE_EQ(a.meta.rel_rmse, rel_rmse(W.data<float>(), decode(a).data<float>(), W.numel()));
  for (const auto& b : a.blocks) EXPECT_LE(b.rel_rmse, 0.005);
  const Tensor N = Tensor::randn({n, n}, 13);
  const EncodedTensor an = encode_rbe_entropy(N, s, {}, {}, autom), on = encode_rbe_entropy(N, s, {}, {}, off);
  EXPECT_EQ(an.size, on.size);  // no record kept: identical payload size
}

TEST(CodecRbeEntropy, ExtremeDynamicRange) {
  // Tiny weights with a few enormous ones, no rotation: indices beyond the
  // tables' range travel as escapes; grade and budget still hold.
  Tensor W = Tensor::randn({64, 96}, 14, 0.f, 1e-3f);
  W.data<float>()[5] = 1e4f;
  W.data<float>()[700] = -3e7f;
  W.data<float>()[4000] = 1e-30f;
  RbeEntropyOptions o;
  o.rotate = false;
  for (auto s : {entropy_settings(32, QualityGrade::SPlus), entropy_settings(32, std::nullopt, 3.0)}) {
    const EncodedTensor e = encode_rbe_entropy(W, s, {}, {}, o);
    const Tensor D = decode(e);
    EXPECT_DOUBLE_EQ(e.meta.rmse, rmse(W.data<float>(), D.data<float>(), W.numel()));
    if (s.grade)
      for (const auto& b : e.blocks) EXPECT_LE(b.rel_rmse, 0.005);
    else
      EXPECT_LE(8.0 * double(e.size), 3.0 * double(W.numel()));
  }
}

TEST(CodecRbeEntropy, ZeroAndConstantMatrices) {
  const Tensor Z = Tensor::zeros({40, 50});
  const EncodedTensor e = encode(Z, entropy_settings(16, QualityGrade::S));
  const Tensor D = decode(e);
  for (int64_t i = 0; i < D.numel(); ++i) ASSERT_EQ(D.data<float>()[i], 0.f);
  EXPECT_LT(e.meta.bits_per_weight, 0.5);
  const Tensor C = Tensor::full({64, 64}, 0.25f);
  const EncodedTensor c = encode(C, entropy_settings(64, QualityGrade::SPlus));
  EXPECT_LE(c.blocks[0].rel_rmse, 0.005);
  EXPECT_LT(c.meta.bits_per_weight, 0.2);  // one record or one DC coefficient
}

TEST(CodecRbeEntropy, BadInputAndCorruptPayloadsGiveErrors) {
  Tensor W = Tensor::randn({32, 32}, 7);
  EXPECT_THROW(encode(Tensor::randn({8}, 1), entropy_settings(16, QualityGrade::A)), std::invalid_argument);
  W.data<float>()[3] = NAN;
  EXPECT_THROW(encode(W, entropy_settings(16, QualityGrade::A)), std::invalid_argument);
  EXPECT_THROW(encode(Tensor::randn({8, 8}, 1), entropy_settings(2, QualityGrade::A)), std::invalid_argument);
  const EncodedTensor good = encode(Tensor::randn({32, 32}, 8), entropy_settings(16, QualityGrade::A));
  // Truncation anywhere is detected.
  for (int64_t cut : {int64_t(0), int64_t(1), good.size / 2, good.size - 1}) {
    EncodedTensor bad = good;
    bad.set_owned(std::vector<uint8_t>(good.data, good.data + cut));
    EXPECT_THROW(decode(bad), std::runtime_error) << cut;
  }
  // Random byte flips: an error or some numbers, never a crash.
  for (int k = 0; k < 200; ++k) {
    EncodedTensor bad = good;
    std::vector<uint8_t> bytes(good.data, good.data + good.size);
    bytes[size_t((k * 7919) % good.size)] ^= uint8_t(1 + k % 255);
    bad.set_owned(bytes);
    try {
      decode(bad);
    } catch (const std::runtime_error&) {
    }
  }
  EncodedTensor wrong = good;
  wrong.rows = 48;
  EXPECT_THROW(decode(wrong), std::runtime_error);
}

TEST(CodecDispatch, DenseFormsRoundTripAndPack) {
  const Tensor W = Tensor::randn({33, 20}, 9);
  for (const char* c : {"f32", "f16"}) {
    CodecSettings s;
    s.codec = c;
    const auto e = std::make_shared<EncodedTensor>(encode(W, s));
    const Tensor D = decode(*e);
    EXPECT_DOUBLE_EQ(e->meta.rmse, rmse(W.data<float>(), D.data<float>(), W.numel()));
    if (std::string(c) == "f32") EXPECT_EQ(e->meta.rmse, 0.0);
    else EXPECT_LT(e->meta.rel_rmse, 1e-3);
    auto pm = make_packed(e);
    EXPECT_EQ(pm->rows(), 33);
    EXPECT_EQ(pm->format(), c);
    std::vector<float> x(20, 0.5f), y(33), rows(33 * 20);
    pm->gemv(x.data(), nullptr, y.data());
    pm->decode_rows(0, 33, rows.data());
    for (int i = 0; i < 33; ++i) {
      double ref = 0;
      for (int j = 0; j < 20; ++j) ref += 0.5 * D.data<float>()[i * 20 + j];
      EXPECT_NEAR(y[i], ref, 1e-4);
    }
  }
  // rbe entropy packs as dense f16 of its decode.
  const auto e = std::make_shared<EncodedTensor>(encode(W, entropy_settings(16, QualityGrade::A)));
  auto pm = make_packed(e);
  EXPECT_EQ(pm->format(), "rbe-entropy");
  EXPECT_EQ(pm->bytes(), 33 * 20 * 2);
  CodecSettings bad;
  bad.codec = "zip";
  EXPECT_THROW(encode(W, bad), std::invalid_argument);
}

TEST(CodecDispatch, GradesAndSettingsJson) {
  for (int i = 0; i < kGradeCount; ++i) {
    const QualityGrade g = QualityGrade(i);
    EXPECT_EQ(parse_grade(grade_name(g)), g);
    EXPECT_EQ(grade_for(grade_bound(g)), g);
    if (i > 0) EXPECT_GT(grade_bound(g), grade_bound(QualityGrade(i - 1)));
  }
  EXPECT_EQ(grade_for(0.0), QualityGrade::SPlus);
  EXPECT_EQ(grade_for(10.0), QualityGrade::C);
  EXPECT_FALSE(parse_grade("D").has_value());
  EXPECT_EQ(parse_transform("cdf97"), Transform::CDF97);
  EXPECT_FALSE(parse_transform("wht").has_value());
  CodecSettings s = entropy_settings(32, QualityGrade::BPlus);
  s.transform = Transform::Haar;
  s.seed = 99;
  const CodecSettings t = CodecSettings::from_json(s.to_json());
  EXPECT_EQ(t.to_json(), s.to_json());
  EXPECT_EQ(t.grade, QualityGrade::BPlus);
  EXPECT_EQ(t.storage, Storage::Entropy);
  nlohmann::json j = s.to_json();
  j["grade"] = "Z";
  EXPECT_THROW(CodecSettings::from_json(j), std::runtime_error);
  j = s.to_json();
  j["bpw"] = -1;
  EXPECT_THROW(CodecSettings::from_json(j), std::runtime_error);
  j = s.to_json();
  j["block_size"] = "big";
  EXPECT_THROW(CodecSettings::from_json(j), std::runtime_error);
  EXPECT_THROW(CodecSettings::from_json(nlohmann::json::array()), std::runtime_error);
  CompressionMetadata m;
  m.snr_db = INFINITY;
  EXPECT_TRUE(m.to_json()["snr_db"].is_null());
}

}  // namespace
}  // namespace rbe::codec
