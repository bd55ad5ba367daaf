// Whole-model compression (codec/model_codec.h): which tensors are encoded,
// overrides, progress and cancel, the report, running a model from packed
// weights, calibration statistics, and the small pieces (glob patterns,
// settings text, tokenizer JSON).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <regex>
#include <vector>

#include "autodiff/node.h"
#include "codec/calibration.h"
#include "codec/densify.h"
#include "codec/fixed_kernels.h"
#include "codec/glob.h"
#include "codec/model_order.h"
#include "codec/rbe_file.h"
#include "codec/report_table.h"
#include "codec/settings_spec.h"
#include "model_codec_test_util.h"
#include "models/gpt2_tokenizer.h"
#include "models/tokenizer_json.h"
#include "nn/layers.h"

namespace rbe::codec {
namespace {

using testutil::tiny_model;

ModelCodecOptions with_codec(const std::string& codec) {
  ModelCodecOptions o;
  o.defaults.codec = codec;
  return o;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

// Reference: whether name[i..] matches pattern[j..], from the definition of a
// glob, filled as a table from the ends inwards. O(|pattern|·|name|) for every
// input; std::regex backtracks exponentially on patterns like "*.*.*.*" and
// once hung this test for a whole CTest timeout.
bool glob_reference(const std::string& pattern, const std::string& name) {
  const size_t P = pattern.size(), N = name.size();
  std::vector<std::vector<char>> m(P + 1, std::vector<char>(N + 1, 0));
  m[P][N] = 1;
  for (size_t j = P; j-- > 0;) {
    for (size_t i = N + 1; i-- > 0;) {
      const char c = pattern[j];
      if (c == '*') m[j][i] = m[j + 1][i] || (i < N && m[j][i + 1]);
      else m[j][i] = i < N && (c == '?' || c == name[i]) && m[j + 1][i + 1];
    }
  }
  return m[0][0];
}

// Hand-checked cases, for the matcher and the reference alike.
TEST(ModelCodecGlob, MatchesWholeNames) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  };
  const Case cases[] = {
      {"wte.weight", "wte.weight", true},
      {"wte.weight", "wte.weight2", false},
      {"wte", "wte.weight", false},
      {"h.*.mlp.*", "h.11.mlp.c_fc.weight", true},
      {"h.*.mlp.*", "h.11.attn.c_attn.weight", false},
      {"*", "", true},
      {"?", "", false},
      {"", "a", false},
      {"h.?.attn.*", "h.3.attn.c_proj.weight", true},
      {"h.?.attn.*", "h.10.attn.c_proj.weight", false},
      {"*c_proj*", "h.0.mlp.c_proj.weight", true},
      {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true},
      {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(glob_match(c.pattern, c.name), c.match) << c.pattern << " ~ " << c.name;
    EXPECT_EQ(glob_reference(c.pattern, c.name), c.match) << "reference: " << c.pattern << " ~ " << c.name;
  }
}

// The matcher agrees with the table reference on random short strings, and
// with a regular expression built from the pattern ('*' -> ".*", '?' -> ".",
// everything else literal) where the pattern has few enough stars that
// std::regex's backtracking stays cheap.
RC_GTEST_PROP(ModelCodecGlob, AgreesWithReferenceAndRegex, ()) {
  const auto pattern = *rc::gen::container<std::string>(rc::gen::element('a', 'b', '.', '*', '?'));
  const auto name = *rc::gen::container<std::string>(rc::gen::element('a', 'b', '.'));
  RC_ASSERT(glob_match(pattern, name) == glob_reference(pattern, name));
  if (std::count(pattern.begin(), pattern.end(), '*') <= 3) {
    std::string re;
    for (char c : pattern) re += c == '*' ? ".*" : c == '?' ? "." : c == '.' ? "\\." : std::string(1, c);
    RC_ASSERT(glob_match(pattern, name) == std::regex_match(name, std::regex(re)));
  }
}

TEST(ModelCodecSpec, ParsesSettingsAndOverrides) {
  CodecSettings base;
  base.codec = "rbe";
  base.bpw = 4.0;
  TensorOverride o = parse_override("h.*.mlp.*=codec:q8_0, block-size:32", base);
  EXPECT_EQ(o.pattern, "h.*.mlp.*");
  EXPECT_EQ(o.settings.codec, "q8_0");
  EXPECT_EQ(o.settings.block_size, 32);
  ASSERT_TRUE(o.settings.bpw.has_value());  // inherited from the defaults
  EXPECT_EQ(*o.settings.bpw, 4.0);

  CodecSettings s = parse_settings("storage:entropy,grade:A+,transform:dct,seed:0x10", base);
  EXPECT_EQ(s.storage, Storage::Entropy);
  ASSERT_TRUE(s.grade.has_value());
  EXPECT_EQ(*s.grade, QualityGrade::APlus);
  EXPECT_FALSE(s.bpw.has_value());  // grade replaces the bits/weight target
  EXPECT_EQ(s.transform, Transform::DCT);
  EXPECT_EQ(s.seed, 16u);

  auto error_of = [&](const std::string& spec) {
    try {
      parse_override(spec, base);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("no-equals-sign").find("PATTERN=key:value"), std::string::npos);
  EXPECT_NE(error_of("x=codec:q5").find("codec: expected"), std::string::npos);
  EXPECT_NE(error_of("x=bpw:abc").find("bpw: expected a number"), std::string::npos);
  EXPECT_NE(error_of("x=bpw:0").find("bpw"), std::string::npos);
  EXPECT_NE(error_of("x=colour:red").find("unknown setting 'colour'"), std::string::npos);
  EXPECT_NE(error_of("x=grade:Z").find("grade"), std::string::npos);
  EXPECT_NE(error_of("x=codec").find("not key:value"), std::string::npos);
  EXPECT_NE(error_of("=codec:f16").find("empty pattern"), std::string::npos);
}

TEST(ModelCodecTokenizerJson, CharRoundTrip) {
  CharTokenizer t = CharTokenizer::from_text(testutil::shakespeare());
  auto back = tokenizer_from_json(tokenizer_to_json(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type(), "char");
  const std::string text = testutil::shakespeare().substr(0, 2000);
  EXPECT_EQ(back->encode(text), t.encode(text));
  EXPECT_EQ(tokenizer_from_json(nullptr), nullptr);
  EXPECT_THROW(tokenizer_from_json(nlohmann::json{{"type", "wordpiece"}}), TokenizerError);
  EXPECT_THROW(tokenizer_from_json(nlohmann::json::array()), TokenizerError);
}

TEST(ModelCodecTokenizerJson, Gpt2RoundTrip) {
  const std::string dir = std::string(RBE_SHARED_DIR) + "/data/gpt2";
  if (!std::filesystem::exists(dir + "/encoder.json")) GTEST_SKIP() << "no GPT-2 tokenizer files in " << dir;
  GPT2Tokenizer t = GPT2Tokenizer::from_files(dir + "/encoder.json", dir + "/vocab.bpe");
  nlohmann::json j = tokenizer_to_json(t);
  auto back = tokenizer_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type(), "gpt2");
  EXPECT_EQ(back->vocab_size(), t.vocab_size());
  EXPECT_EQ(back->eot_id(), t.eot_id());
  const std::string text = "Hello world, it's 2026<|endoftext|>  naïve café\n" + testutil::shakespeare().substr(0, 3000);
  EXPECT_EQ(back->encode(text), t.encode(text));
  nlohmann::json broken = j;
  broken["merges"][5] = 17;
  EXPECT_THROW(tokenizer_from_json(broken), TokenizerError);
}

TEST(ModelCodec, EncodesMatricesAndKeepsTheRestRaw) {
  LoadedModel m = tiny_model();
  CompressedModel cm = compress_model(m, with_codec("f16"));
  std::vector<std::string> enc, raw;
  for (auto& [n, e] : cm.encoded) {
    enc.push_back(n);
    EXPECT_EQ(e->codec, "f16") << n;
  }
  for (auto& [n, t] : cm.raw) {
    raw.push_back(n);
    EXPECT_EQ(t.dtype(), DType::F32) << n;
  }
  const std::vector<std::string> want_enc = {"wte.weight",           "h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight",
                                             "h.0.mlp.c_fc.weight",  "h.0.mlp.c_proj.weight",  "h.1.attn.c_attn.weight",
                                             "h.1.attn.c_proj.weight", "h.1.mlp.c_fc.weight",  "h.1.mlp.c_proj.weight"};
  EXPECT_EQ(enc, want_enc);
  EXPECT_EQ(raw.front(), "wpe.weight");  // small and sensitive: raw unless an override names it
  EXPECT_EQ(enc.size() + raw.size(), m.model->named_parameters().size());
  // Raw tensors are copies: changing the model afterwards does not change them.
  Tensor ln = m.model->named_parameters().back().second;
  const float before = cm.raw.back().second.data<float>()[0];
  ln.data<float>()[0] += 1.f;
  EXPECT_EQ(cm.raw.back().second.data<float>()[0], before);
  EXPECT_EQ(cm.config.n_embd, 64);
  EXPECT_EQ(cm.tokenizer.at("type"), "char");
}

// Compressing a model nothing needs afterwards (rbe-convert) frees each
// encoded matrix as it goes and gives the same encodings and raw tensors;
// with calibration, which runs the model to the end, it frees nothing.
TEST(ModelCodec, ConsumingTheModelFreesEachMatrixOnceEncoded) {
  const LoadedModel original = tiny_model();
  const CompressedModel kept = compress_model(original, with_codec("q8_0"));
  LoadedModel m = tiny_model();
  const auto params = m.model->named_parameters();  // handles sharing the model's tensors
  const CompressedModel freed = compress_model(std::move(m), with_codec("q8_0"));
  ASSERT_EQ(freed.encoded.size(), kept.encoded.size());
  for (size_t i = 0; i < kept.encoded.size(); ++i) {
    const auto& [name, e] = kept.encoded[i];
    EXPECT_EQ(freed.encoded[i].first, name);
    EXPECT_EQ(std::vector<uint8_t>(freed.encoded[i].second->data, freed.encoded[i].second->data + freed.encoded[i].second->size),
              std::vector<uint8_t>(e->data, e->data + e->size))
        << name;
  }
  ASSERT_EQ(freed.raw.size(), kept.raw.size());
  for (size_t i = 0; i < kept.raw.size(); ++i) EXPECT_EQ(freed.raw[i].second.to_vector(), kept.raw[i].second.to_vector());
  for (const auto& [name, t] : params) {
    const bool encoded = std::any_of(kept.encoded.begin(), kept.encoded.end(), [&](const auto& e) { return e.first == name; });
    EXPECT_EQ(t.numel() == 0, encoded) << name;
  }

  ModelCodecOptions calibrated = with_codec("rbe");
  calibrated.calib_text = testutil::shakespeare().substr(0, 2000);
  calibrated.calib_tokens = 64;
  LoadedModel c = tiny_model();
  const auto cparams = c.model->named_parameters();
  compress_model(std::move(c), calibrated);
  for (const auto& [name, t] : cparams) EXPECT_GT(t.numel(), 0) << name;
}

TEST(ModelCodec, FirstMatchingOverrideWins) {
  LoadedModel m = tiny_model();
  ModelCodecOptions o = with_codec("f16");
  o.overrides.push_back(parse_override("h.1.mlp.*=codec:q8_0", o.defaults));
  o.overrides.push_back(parse_override("h.*.mlp.*=codec:f32", o.defaults));
  o.overrides.push_back(parse_override("wpe.weight=codec:f16", o.defaults));
  CompressedModel cm = compress_model(m, o);
  std::map<std::string, std::string> codec;
  for (auto& [n, e] : cm.encoded) codec[n] = e->codec;
  EXPECT_EQ(codec["h.1.mlp.c_fc.weight"], "q8_0");
  EXPECT_EQ(codec["h.1.mlp.c_proj.weight"], "q8_0");
  EXPECT_EQ(codec["h.0.mlp.c_fc.weight"], "f32");
  EXPECT_EQ(codec["h.0.attn.c_attn.weight"], "f16");
  EXPECT_EQ(codec["wpe.weight"], "f16");  // encoded because an override names it
  EXPECT_EQ(cm.settings["overrides"].size(), 3u);
}

TEST(ModelCodec, F32EncodingRunsExactlyLikeTheOriginal) {
  LoadedModel m = tiny_model();
  const std::vector<float> ref = testutil::logits_of(*m.model, *m.tokenizer);
  LoadedModel back = instantiate(compress_model(m, with_codec("f32")));
  EXPECT_EQ(back.format, "rbe");
  ASSERT_TRUE(back.tokenizer);
  // Every matrix runs from its packed form (tied head included) ...
  int packed = 0;
  for (auto& [n, mod] : back.model->named_modules()) {
    if (auto* l = dynamic_cast<nn::Linear*>(mod.get())) packed += l->packed() != nullptr;
    if (auto* e = dynamic_cast<nn::Embedding*>(mod.get())) packed += e->packed() != nullptr;
  }
  EXPECT_EQ(packed, 9);
  // ... and the logits match: the dense f32 form stores the weights exactly
  // (make_packed may keep them as f16 for speed: allow that rounding).
  std::vector<float> got = testutil::logits_of(*back.model, *back.tokenizer);
  double scale = 0;
  for (float v : ref) scale = std::max(scale, double(std::fabs(v)));
  EXPECT_LT(max_abs_diff(ref, got), 2e-3 * scale);
}

TEST(ModelCodec, Q8LogitsStayClose) {
  LoadedModel m = tiny_model();
  const std::vector<float> ref = testutil::logits_of(*m.model, *m.tokenizer);
  LoadedModel q = instantiate(compress_model(m, with_codec("q8_0")));
  std::vector<float> got = testutil::logits_of(*q.model, *q.tokenizer);
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) num += std::pow(ref[i] - got[i], 2), den += std::pow(ref[i], 2);
  EXPECT_LT(std::sqrt(num / den), 0.02);  // 8-bit weights: logits within 2% RMS
  EXPECT_GT(std::sqrt(num / den), 0.0);   // but not bit-identical: it really is quantized
}

TEST(ModelCodec, ProgressIsMonotoneAndCancelStops) {
  LoadedModel m = tiny_model();
  std::vector<double> fractions;
  std::vector<std::string> names;
  compress_model(m, with_codec("q8_0"), [&](double f, const std::string& what) {
    fractions.push_back(f);
    if (names.empty() || names.back() != what) names.push_back(what);
  });
  ASSERT_FALSE(fractions.empty());
  for (size_t i = 1; i < fractions.size(); ++i) EXPECT_GE(fractions[i], fractions[i - 1] - 1e-12);
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
  EXPECT_EQ(names.front(), "wte.weight");
  EXPECT_NE(std::find(names.begin(), names.end(), "h.1.mlp.c_proj.weight"), names.end());

  int polls = 0;
  EXPECT_THROW(compress_model(m, with_codec("q8_0"), {}, [&] { return ++polls > 3; }), Cancelled);
  EXPECT_GT(polls, 3);
}

TEST(ModelCodec, ReportCountsEveryByteOfTheFile) {
  LoadedModel m = tiny_model();
  ModelCodecOptions o = with_codec("q8_0");
  o.overrides.push_back(parse_override("h.0.mlp.c_fc.weight=codec:f16", o.defaults));
  CompressedModel cm = compress_model(m, o);
  nlohmann::json r = cm.report();
  const std::string dir = testutil::temp_dir("report");
  const std::string path = dir + "/m.rbe";
  write_rbe_file(path, cm);
  const auto& tot = r.at("totals");
  EXPECT_EQ(tot.at("bytes").get<uint64_t>(), std::filesystem::file_size(path));
  EXPECT_EQ(tot.at("weights").get<int64_t>(), m.model->parameter_count());
  EXPECT_NEAR(tot.at("bits_per_weight").get<double>(),
              8.0 * double(std::filesystem::file_size(path)) / double(m.model->parameter_count()), 1e-9);
  ASSERT_EQ(r.at("tensors").size(), m.model->named_parameters().size());
  int64_t enc_weights = 0;
  for (const auto& t : r.at("tensors")) {
    for (const char* k : {"name", "shape", "codec", "storage", "bits_per_weight", "rmse", "rel_rmse", "snr_db",
                          "grade_histogram", "bytes"})
      EXPECT_TRUE(t.contains(k)) << t.at("name") << " lacks " << k;
    EXPECT_EQ(t.at("grade_histogram").size(), size_t(kGradeCount));
    if (t.at("storage") != "raw") enc_weights += t.at("weights").get<int64_t>();
    if (t.at("name") == "h.0.mlp.c_fc.weight") {
      EXPECT_EQ(t.at("codec"), "f16");
      EXPECT_NEAR(t.at("bits_per_weight").get<double>(), 16.0, 1e-9);
    } else if (t.at("codec") == "q8_0") {
      EXPECT_NEAR(t.at("bits_per_weight").get<double>(), 8.5, 1e-9);
      EXPECT_GT(t.at("snr_db").get<double>(), 30.0);  // 8-bit: ~40 dB on Gaussian-like weights
    }
  }
  EXPECT_EQ(tot.at("encoded").at("weights").get<int64_t>(), enc_weights);
  const std::string table = report_table(r);
  EXPECT_NE(table.find("h.1.mlp.c_proj.weight"), std::string::npos);
  EXPECT_NE(table.find("raw f32"), std::string::npos);
  EXPECT_NE(table.find("bits/weight"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ModelCodec, LoadAnyModelOpensRbeFilesAndFolders) {
  LoadedModel m = tiny_model();
  const std::string dir = testutil::temp_dir("load_any");
  write_rbe_file(dir + "/tiny.rbe", compress_model(m, with_codec("q8_0")));
  EXPECT_TRUE(looks_like_rbe_file(dir + "/tiny.rbe"));
  LoadedModel a = load_any_model(dir + "/tiny.rbe");
  EXPECT_EQ(a.format, "rbe");
  EXPECT_EQ(a.config.n_embd, 64);
  LoadedModel b = load_any_model(std::string(RBE_SOURCE_DIR) + "/resources/models/mini-shakespeare");
  EXPECT_EQ(b.format, "rbe-checkpoint");
  EXPECT_FALSE(looks_like_rbe_file(std::string(RBE_SOURCE_DIR) + "/resources/models/mini-shakespeare/config.json"));
  testutil::write_bytes(dir + "/junk.rbe", {'n', 'o', 'p', 'e', 0, 0, 0, 0});
  try {
    load_any_model(dir + "/junk.rbe");
    ADD_FAILURE() << "junk.rbe loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad magic"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

// A model read from an .rbe file is the only owner of its matrices: where
// the matvecs run on a regrouped copy, each matrix drops its stored bytes
// (and gives back its pages of the file's mapping) once the copy is made
// (codec/fixed_packed.cpp). It must still run exactly like a model whose
// matrices keep them (instantiated while the file's tensors are held),
// before and after the first pass, prompt and single tokens alike; and the
// held tensors, whose pages of the mapping went too, still read the file's
// bytes.
TEST(ModelCodec, AModelAloneWithItsMatricesRunsLikeOneThatSharesThem) {
  const LoadedModel m = tiny_model();
  const std::string dir = testutil::temp_dir("sole_owner");
  for (const char* form : {"q4_0", "rbe"}) {
    const std::string path = dir + "/" + form + ".rbe";
    write_rbe_file(path, compress_model(m, with_codec(form)));
    const CompressedModel held = read_rbe_file(path);
    LoadedModel shared = instantiate(held);
    LoadedModel alone = load_any_model(path);
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t T : {1, 24}) {
        const std::vector<float> want = testutil::logits_of(*shared.model, *shared.tokenizer, T);
        EXPECT_EQ(max_abs_diff(testutil::logits_of(*alone.model, *alone.tokenizer, T), want), 0.0)
            << form << " pass " << pass << " T " << T;
      }
    const CompressedModel again = read_rbe_file(path);
    ASSERT_EQ(again.encoded.size(), held.encoded.size());
    for (size_t i = 0; i < held.encoded.size(); ++i) {
      const EncodedTensor& a = *held.encoded[i].second;
      const EncodedTensor& b = *again.encoded[i].second;
      ASSERT_EQ(a.size, b.size);
      EXPECT_EQ(std::memcmp(a.data, b.data, size_t(a.size)), 0) << form << " " << held.encoded[i].first;
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(ModelCodec, DensifyAndRecompressAPackedModel) {
  LoadedModel m = tiny_model();
  CompressedModel q = compress_model(m, with_codec("q8_0"));
  LoadedModel packed = instantiate(q);
  // Compressing a model that runs from packed weights reads the packed
  // weights (its dense tensors hold nothing): f32 re-encoding == q8_0 decode.
  CompressedModel again = compress_model(packed, with_codec("f32"));
  ASSERT_EQ(again.encoded.size(), q.encoded.size());
  for (size_t i = 0; i < q.encoded.size(); ++i) {
    EXPECT_EQ(again.encoded[i].first, q.encoded[i].first);
    EXPECT_EQ(max_abs_diff(decode(*q.encoded[i].second).to_vector(), decode(*again.encoded[i].second).to_vector()), 0.0)
        << q.encoded[i].first;
  }
  const std::vector<float> before = testutil::logits_of(*packed.model, *packed.tokenizer);
  EXPECT_EQ(densify(*packed.model), 9);
  for (auto& [name, e] : q.encoded) {
    Tensor w;
    for (auto& [n, t] : packed.model->named_parameters())
      if (n == name) w = t;
    EXPECT_EQ(max_abs_diff(w.to_vector(), decode(*e).to_vector()), 0.0) << name;
  }
  const std::vector<float> after = testutil::logits_of(*packed.model, *packed.tokenizer);
  // The packed prompt pass is exact up to f32 rounding with the "sgemm"
  // batched kernel; "amx" quantizes activations to int8 per 32-block (as the
  // VNNI matvec does), about 0.4% of the largest logit here, and "amx-bf16"
  // rounds weights and activations to bf16.
  float scale = 0;
  for (float v : after) scale = std::max(scale, std::fabs(v));
  const bool rounds_x = std::string(codec::fixed_gemm_kernel_name()) != "sgemm";
  EXPECT_LT(max_abs_diff(before, after), rounds_x ? 1e-2 * scale : 1e-3);
}

// densify(F16): the packed layers' weights become f16, each the f32 decode
// rounded, through the parameter handles (the tied head follows wte), so the
// model runs as the f32 densified one cast to f16 does.
TEST(ModelCodec, DensifiesStraightToF16) {
  LoadedModel m = tiny_model();
  ModelCodecOptions opt = with_codec("q8_0");
  opt.overrides.push_back(parse_override("wte.weight=codec:q4_0", opt.defaults));
  CompressedModel q = compress_model(m, opt);
  LoadedModel dense = instantiate(q), half = instantiate(q);
  ASSERT_EQ(densify(*dense.model), 9);
  half.model->cast_matrices(DType::F16);  // the dense ones (wpe), as load_any_model does
  EXPECT_THROW(densify(*half.model, DType::BF16), std::invalid_argument);
  ASSERT_EQ(densify(*half.model, DType::F16), 9);
  EXPECT_TRUE(half.model->packed_weight_names().empty());
  std::map<std::string, Tensor> f32s;
  for (auto& [n, t] : dense.model->named_parameters()) f32s[n] = t;
  for (auto& [name, t] : half.model->named_parameters()) {
    const Tensor& ref = f32s.at(name);
    ASSERT_EQ(t.dtype(), ref.dim() >= 2 ? DType::F16 : DType::F32) << name;
    if (t.dtype() != DType::F16) continue;
    const float* r = ref.data<float>();
    const uint16_t* h = t.data<uint16_t>();
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(h[i], f32_to_f16(r[i])) << name << "[" << i << "]";
  }
  const std::vector<float> want = testutil::logits_of(*dense.model->inference_copy(DType::F16), *dense.tokenizer);
  EXPECT_EQ(max_abs_diff(testutil::logits_of(*half.model, *half.tokenizer), want), 0.0);
}

// Independent reference: the inputs every Linear sees in ordinary full-model
// forward passes over the same windows, X^T X / n summed in double.
std::map<std::string, std::vector<double>> reference_hessians(LoadedModel& m, const std::vector<int32_t>& ids) {
  std::map<std::string, std::vector<double>> H;
  std::map<std::string, int64_t> rows;
  for (auto& [name, mod] : m.model->named_modules())
    if (auto* lin = dynamic_cast<nn::Linear*>(mod.get())) {
      const std::string key = name + ".weight";
      lin->observer = [&, key](const Tensor& x) {
        std::vector<float> v = x.to_vector();
        const int64_t in = x.size(-1), n = int64_t(v.size()) / in;
        auto& h = H[key];
        h.resize(size_t(in * in));
        for (int64_t r = 0; r < n; ++r)
          for (int64_t i = 0; i < in; ++i)
            for (int64_t j = 0; j < in; ++j) h[size_t(i * in + j)] += double(v[size_t(r * in + i)]) * v[size_t(r * in + j)];
        rows[key] += n;
      };
    }
  NoGradGuard no_grad;
  const int64_t T = m.config.n_positions;
  for (size_t s = 0; s < ids.size(); s += size_t(T)) {
    const int64_t len = std::min<int64_t>(T, int64_t(ids.size() - s));
    m.model->forward(Tensor::from_vector(std::vector<int32_t>(ids.begin() + s, ids.begin() + s + len), {1, len}));
  }
  for (auto& [name, mod] : m.model->named_modules())
    if (auto* lin = dynamic_cast<nn::Linear*>(mod.get())) lin->observer = nullptr;
  for (auto& [k, h] : H)
    for (double& v : h) v /= double(rows[k]);
  return H;
}

void expect_close(const Tensor& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  std::vector<float> g = got.to_vector();
  ASSERT_EQ(g.size(), want.size()) << what;
  double scale = 0, err = 0;
  for (size_t i = 0; i < g.size(); ++i) scale = std::max(scale, std::fabs(want[i])), err = std::max(err, std::fabs(g[i] - want[i]));
  EXPECT_LT(err, 1e-4 * scale) << what;
}

TEST(ModelCodecCalibration, BlockByBlockHessiansMatchFullForwardPasses) {
  LoadedModel m = tiny_model(/*tied=*/false);
  const std::string text = testutil::shakespeare().substr(5000, 100);  // 100 tokens: 3 full windows + 4
  std::vector<int32_t> ids = m.tokenizer->encode(text);
  auto want = reference_hessians(m, ids);
  Calibrator c(*m.model, *m.tokenizer, text, 1000);
  EXPECT_EQ(c.tokens(), 100);
  for (int64_t layer = 0; layer < 2; ++layer) {
    auto H = c.block_hessians(layer);
    EXPECT_EQ(H.size(), 4u);
    for (auto& [name, h] : H) expect_close(h, want.at(name), name);
  }
  expect_close(c.head_hessian(), want.at("lm_head.weight"), "head");  // untied: lm_head sees ln_f's output
  // Observers are restored.
  for (auto& [name, mod] : m.model->named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(mod.get())) {
      EXPECT_FALSE(lin->observer) << name;
    }
  }
  // The token limit cuts the text.
  Calibrator short_c(*m.model, *m.tokenizer, text, 40);
  EXPECT_EQ(short_c.tokens(), 40);
  EXPECT_THROW(Calibrator(*m.model, *m.tokenizer, "\x01\x02", 10), std::runtime_error);  // bytes outside the vocabulary
}

TEST(ModelCodecCalibration, CompressWithCalibrationUsesTheStatistics) {
  LoadedModel m = tiny_model();
  ModelCodecOptions plain = with_codec("q4_0");
  ModelCodecOptions calib = plain;
  calib.calib_text = testutil::shakespeare().substr(0, 400);
  calib.calib_tokens = 256;
  CompressedModel a = compress_model(m, plain), b = compress_model(m, calib);
  EXPECT_TRUE(a.settings.at("calibration").is_null());
  EXPECT_EQ(b.settings.at("calibration").at("tokens"), 256);
  ASSERT_EQ(a.encoded.size(), b.encoded.size());
  // Same names in model order (the head's matrix is encoded last but listed first).
  for (size_t i = 0; i < a.encoded.size(); ++i) EXPECT_EQ(a.encoded[i].first, b.encoded[i].first);
  // Error-feedback rounding changes the codes of every matrix it gets a Hessian for.
  int differ = 0;
  for (size_t i = 0; i < a.encoded.size(); ++i) {
    const EncodedTensor &x = *a.encoded[i].second, &y = *b.encoded[i].second;
    differ += x.size != y.size || std::memcmp(x.data, y.data, size_t(x.size)) != 0;
  }
  EXPECT_EQ(differ, int(a.encoded.size()));
  LoadedModel no_tok = tiny_model();
  no_tok.tokenizer.reset();
  EXPECT_THROW(compress_model(no_tok, calib), std::runtime_error);
}

}  // namespace
}  // namespace rbe::codec
