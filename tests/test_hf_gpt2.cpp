// HuggingFace GPT-2 folders: loading (checked against an independent NumPy
// forward pass, tests/reference/gpt2_reference.py), writing, sharded
// checkpoints, and corrupt inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "autodiff/node.h"
#include "io/checkpoint.h"
#include "io/hf_gpt2.h"
#include "io/model_loader.h"
#include "io/safetensors.h"
#include "tensor/atomic_file.h"
#include "tensor/ops.h"

namespace {

using namespace rbe;
namespace fs = std::filesystem;
using nlohmann::json;

const std::string kPython = "/usr/bin/python3";

bool have_numpy() {
  static const bool ok = std::system((kPython + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0;
  return ok;
}

class HfGpt2 : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rbe_hf_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

json small_config(int64_t vocab = 50257) {
  return {{"model_type", "gpt2"}, {"n_layer", 2}, {"n_embd", 64}, {"n_head", 4}, {"n_positions", 64},
          {"n_ctx", 64}, {"vocab_size", vocab}, {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"},
          {"resid_pdrop", 0.1}, {"some_future_key", "ignored"}, {"architectures", {"GPT2LMHeadModel"}}};
}

// Random GPT-2 weights in HF's layout and names (Conv1D [in, out]), large
// enough that attention and LayerNorm do real work.
std::vector<std::pair<std::string, Tensor>> hf_tensors(const json& cfg, const std::string& prefix, uint64_t seed) {
  const int64_t C = cfg["n_embd"], L = cfg["n_layer"], V = cfg["vocab_size"], P = cfg["n_positions"];
  std::vector<std::pair<std::string, Tensor>> t;
  auto add = [&](const std::string& name, const Shape& shape, float mean, float std) {
    t.emplace_back(prefix + name, Tensor::randn(shape, seed + t.size(), mean, std));
  };
  add("wte.weight", {V, C}, 0.f, 0.5f);
  add("wpe.weight", {P, C}, 0.f, 0.3f);
  for (int64_t l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {C}, 1.f, 0.2f);
    add(h + "ln_1.bias", {C}, 0.f, 0.2f);
    add(h + "attn.c_attn.weight", {C, 3 * C}, 0.f, 0.15f);
    add(h + "attn.c_attn.bias", {3 * C}, 0.f, 0.1f);
    add(h + "attn.c_proj.weight", {C, C}, 0.f, 0.15f);
    add(h + "attn.c_proj.bias", {C}, 0.f, 0.1f);
    add(h + "ln_2.weight", {C}, 1.f, 0.2f);
    add(h + "ln_2.bias", {C}, 0.f, 0.2f);
    add(h + "mlp.c_fc.weight", {C, 4 * C}, 0.f, 0.15f);
    add(h + "mlp.c_fc.bias", {4 * C}, 0.f, 0.1f);
    add(h + "mlp.c_proj.weight", {4 * C, C}, 0.f, 0.1f);
    add(h + "mlp.c_proj.bias", {C}, 0.f, 0.1f);
    // HF's buffers: the causal mask and the masked value; ignored on load.
    t.emplace_back(prefix + h + "attn.bias", Tensor::ones({1, 1, P, P}));
    t.emplace_back(prefix + h + "attn.masked_bias", Tensor::scalar(-1e4f));
  }
  add("ln_f.weight", {C}, 1.f, 0.2f);
  add("ln_f.bias", {C}, 0.f, 0.2f);
  return t;
}

Tensor* find(std::vector<std::pair<std::string, Tensor>>& t, const std::string& name) {
  for (auto& [n, x] : t)
    if (n == name) return &x;
  return nullptr;
}

void write_config(const std::string& dir, const json& cfg) {
  write_file_atomic((fs::path(dir) / "config.json").string(), cfg.dump(2));
}

bool copy_gpt2_tokenizer(const std::string& dir) {
  const fs::path src = fs::path(RBE_SHARED_DIR) / "data" / "gpt2";
  if (!fs::exists(src / "encoder.json") || !fs::exists(src / "vocab.bpe")) return false;
  fs::copy_file(src / "encoder.json", fs::path(dir) / "vocab.json", fs::copy_options::overwrite_existing);
  fs::copy_file(src / "vocab.bpe", fs::path(dir) / "merges.txt", fs::copy_options::overwrite_existing);
  return true;
}

std::vector<float> logits_of(GPT2Model& m, const std::vector<int32_t>& ids) {
  NoGradGuard ng;
  Tensor y = m.forward(Tensor::from_vector(ids, {1, int64_t(ids.size())})).contiguous();
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

std::vector<float> cached_logits_of(GPT2Model& m, const std::vector<int32_t>& ids) {
  NoGradGuard ng;
  nn::KVCache cache = m.make_cache(1, int64_t(ids.size()));
  const size_t half = ids.size() / 2;  // prompt, then one token at a time
  std::vector<float> out;
  auto run = [&](std::vector<int32_t> part) {
    Tensor y = m.forward_cached(Tensor::from_vector(part, {1, int64_t(part.size())}), cache).contiguous();
    out.insert(out.end(), y.data<float>(), y.data<float>() + y.numel());
  };
  run({ids.begin(), ids.begin() + long(half)});
  for (size_t i = half; i < ids.size(); ++i) run({ids[i]});
  return out;
}

// Logits from the NumPy reference, or empty (with a failure) if it did not run.
std::vector<double> reference_logits(const std::string& dir, const std::vector<int32_t>& ids) {
  std::string csv;
  for (int32_t id : ids) {
    if (!csv.empty()) csv += ',';
    csv += std::to_string(id);
  }
  const std::string out = dir + "/reference_logits.bin";
  const std::string cmd = kPython + " " + RBE_SOURCE_DIR + "/tests/reference/gpt2_reference.py " + dir + " " + csv +
                          " " + out;
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::ifstream f(out, std::ios::binary);
  std::vector<double> v;
  double x;
  while (f.read(reinterpret_cast<char*>(&x), sizeof x)) v.push_back(x);
  fs::remove(out);
  return v;
}

// max |a - b| <= 1e-4 * max |b|
void expect_close(const std::vector<float>& ours, const std::vector<double>& ref, const char* what) {
  ASSERT_EQ(ours.size(), ref.size()) << what;
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(ref[i]));
    max_diff = std::max(max_diff, std::abs(double(ours[i]) - ref[i]));
  }
  EXPECT_GT(max_ref, 1.0) << what << ": logits too small to be a meaningful check";
  EXPECT_LE(max_diff, 1e-4 * max_ref) << what << ": max |ours - reference| = " << max_diff << ", max |ref| = " << max_ref;
}

const std::vector<int32_t> kIds = {15496, 11, 616, 1438, 318, 50256, 3, 0, 50255, 464, 2068, 7586, 21831, 18045, 625,
                                   262, 16931, 3290, 13, 198, 40, 1101, 257};

// Acceptance: an HF folder with random weights (transformer. prefix, Conv1D
// layout, F16/BF16 tensors, buffers, a tied lm_head stored anyway, the real
// tokenizer files) loads and gives the reference's logits.
TEST_F(HfGpt2, LogitsMatchNumpyReference) {
  json cfg = small_config();
  auto tensors = hf_tensors(cfg, "transformer.", 11);
  // Half-precision tensors are converted on load; the reference reads the same rounded values.
  *find(tensors, "transformer.wpe.weight") = find(tensors, "transformer.wpe.weight")->to(DType::F16);
  *find(tensors, "transformer.h.1.mlp.c_fc.weight") = find(tensors, "transformer.h.1.mlp.c_fc.weight")->to(DType::F16);
  *find(tensors, "transformer.h.0.attn.c_proj.weight") =
      find(tensors, "transformer.h.0.attn.c_proj.weight")->to(DType::BF16);
  tensors.emplace_back("lm_head.weight", find(tensors, "transformer.wte.weight")->clone());
  safetensors::save(path("model.safetensors"), tensors, {{"format", "pt"}});
  write_config(dir_.string(), cfg);
  const bool have_tokenizer = copy_gpt2_tokenizer(dir_.string());

  LoadedModel m = load_model(dir_.string());
  EXPECT_EQ(m.format, "hf");
  EXPECT_EQ(m.config.n_embd, 64);
  EXPECT_EQ(m.config.n_positions, 64);
  EXPECT_TRUE(m.config.tie_word_embeddings);
  EXPECT_EQ(m.config.tokenizer, "gpt2");
  if (have_tokenizer) {
    ASSERT_TRUE(m.tokenizer);
    EXPECT_EQ(m.tokenizer->type(), "gpt2");
    EXPECT_EQ(m.tokenizer->encode("Hello world"), (std::vector<int32_t>{15496, 995}));
    EXPECT_EQ(m.tokenizer->eot_id(), 50256);
  } else {
    EXPECT_FALSE(m.tokenizer);
  }
  // A Conv1D weight really is transposed: our c_fc.weight[o][i] == file[i][o].
  for (auto& [name, p] : m.model->named_parameters())
    if (name == "h.0.mlp.c_fc.weight") {
      Tensor f = find(tensors, "transformer.h.0.mlp.c_fc.weight")->contiguous();
      EXPECT_EQ(p.shape(), (Shape{256, 64}));
      EXPECT_EQ(p.contiguous().data<float>()[5 * 64 + 7], f.data<float>()[7 * 256 + 5]);
    }

  if (!have_numpy()) GTEST_SKIP() << kPython << " with numpy is not available";
  std::vector<double> ref = reference_logits(dir_.string(), kIds);
  expect_close(logits_of(*m.model, kIds), ref, "forward");
  expect_close(cached_logits_of(*m.model, kIds), ref, "forward_cached");
}

// Loading straight into f16 (rbe-infer --dtype f16) gives the same model as
// loading in f32 and casting: every parameter's dtype and bits, with F32,
// F16 and BF16 tensors in the file, Conv1D weights transposed, the tied head
// shared, and for our own checkpoint format too.
TEST_F(HfGpt2, LoadingAsF16EqualsLoadingThenCasting) {
  json cfg = small_config(500);
  auto tensors = hf_tensors(cfg, "transformer.", 3);
  *find(tensors, "transformer.h.1.mlp.c_fc.weight") = find(tensors, "transformer.h.1.mlp.c_fc.weight")->to(DType::F16);
  *find(tensors, "transformer.h.0.attn.c_attn.weight") =
      find(tensors, "transformer.h.0.attn.c_attn.weight")->to(DType::BF16);
  safetensors::save(path("model.safetensors"), tensors);
  write_config(dir_.string(), cfg);
  const std::string ours = path("ours");
  auto same = [](const LoadedModel& a, const LoadedModel& b, const char* what) {
    auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
    ASSERT_EQ(pa.size(), pb.size()) << what;
    int64_t f16 = 0;
    for (size_t i = 0; i < pa.size(); ++i) {
      const Tensor x = pa[i].second.contiguous(), y = pb[i].second.contiguous();
      ASSERT_EQ(pa[i].first, pb[i].first) << what;
      ASSERT_EQ(x.dtype(), y.dtype()) << what << " " << pa[i].first;
      ASSERT_EQ(x.shape(), y.shape()) << what << " " << pa[i].first;
      EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), size_t(x.numel()) * dtype_size(x.dtype())), 0)
          << what << " " << pa[i].first;
      f16 += x.dtype() == DType::F16;
    }
    EXPECT_EQ(f16, 2 + 4 * a.config.n_layer) << what;  // wte, wpe and each block's four matrices
  };
  LoadedModel cast = load_model(dir_.string());
  cast.model->cast_parameters(DType::F16);
  LoadedModel direct = load_model(dir_.string(), DType::F16);
  same(direct, cast, "hf");
  EXPECT_EQ(logits_of(*direct.model, {1, 2, 3}), logits_of(*cast.model, {1, 2, 3}));

  ckpt::save(ours, *load_model(dir_.string()).model, nullptr);
  LoadedModel ours_cast = load_model(ours);
  ours_cast.model->cast_parameters(DType::F16);
  same(load_model(ours, DType::F16), ours_cast, "our checkpoint");
}

// Our writer: an untied model with non-default activation goes out in HF's
// layout; the reference reads it independently, and load_model reads it back exactly.
TEST_F(HfGpt2, SaveHfMatchesReferenceAndRoundTrips) {
  ModelConfig c;
  c.vocab_size = 300, c.n_positions = 32, c.n_embd = 32, c.n_layer = 2, c.n_head = 2;
  c.tie_word_embeddings = false;
  c.activation_function = "gelu";
  c.tokenizer = "char";  // no BPE files: the folder has no tokenizer
  GPT2Model model(c, 5);
  uint64_t seed = 100;
  for (auto& [name, p] : model.named_parameters()) {  // bigger than the 0.02 init, so the check is sharp
    Tensor r = Tensor::randn(p.shape(), seed++, name.find("ln_") != std::string::npos ? 1.f : 0.f, 0.3f);
    ops::copy_(p, r);
  }
  hf::save(dir_.string(), model, nullptr);
  json cfg = json::parse(read_file(path("config.json")));
  EXPECT_EQ(cfg["n_embd"], 32);
  EXPECT_EQ(cfg["model_type"], "gpt2");
  EXPECT_FALSE(cfg.contains("tokenizer"));  // HF keys only
  auto file = safetensors::File::open(path("model.safetensors"));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_TRUE(file.contains("lm_head.weight"));
  EXPECT_EQ(file.info("transformer.h.0.attn.c_attn.weight").shape, (Shape{32, 96}));  // [in, out]

  LoadedModel back = load_model(dir_.string());
  EXPECT_EQ(back.format, "hf");
  EXPECT_FALSE(back.config.tie_word_embeddings);
  EXPECT_EQ(back.config.activation_function, "gelu");
  EXPECT_FALSE(back.tokenizer);
  const std::vector<int32_t> ids = {1, 299, 7, 7, 42, 0, 150, 3, 9};
  EXPECT_EQ(logits_of(*back.model, ids), logits_of(model, ids));  // F32 both ways: exact

  if (!have_numpy()) GTEST_SKIP() << kPython << " with numpy is not available";
  expect_close(logits_of(model, ids), reference_logits(dir_.string(), ids), "saved model");
}

// Written as F16 or BF16 (rbe-convert --to hf --dtype ...): every tensor in that
// dtype, Conv1D ones still [in, out], holding the model's values rounded once;
// a model read with f16 matrices writes the same F16 file as one read in f32.
TEST_F(HfGpt2, SavesInHalfPrecision) {
  ModelConfig c;
  c.vocab_size = 120, c.n_positions = 16, c.n_embd = 32, c.n_layer = 2, c.n_head = 2;
  c.tokenizer = "char";
  GPT2Model model(c, 21);
  for (DType dtype : {DType::F16, DType::BF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    hf::save(dir_.string(), model, nullptr, 0, dtype);
    auto file = safetensors::File::open(path("model.safetensors"));
    for (const auto& t : file.tensors()) EXPECT_EQ(t.dtype, dtype) << t.name;
    EXPECT_EQ(file.info("h.1.mlp.c_fc.weight").shape, (Shape{32, 128}));  // [in, out]
    LoadedModel back = load_model(dir_.string());
    auto a = model.named_parameters(), b = back.model->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(b[i].second.to_vector(), a[i].second.to(dtype).to(DType::F32).to_vector()) << a[i].first;
  }
  const std::string twice = path("twice");
  hf::save(dir_.string(), model, nullptr);  // F32
  hf::save(twice, *load_model(dir_.string(), DType::F16).model, nullptr, 0, DType::F16);
  hf::save(dir_.string(), model, nullptr, 0, DType::F16);
  EXPECT_EQ(read_file((fs::path(twice) / "model.safetensors").string()), read_file(path("model.safetensors")));
  EXPECT_THROW(hf::save(dir_.string(), model, nullptr, 0, DType::I32), hf::HfError);
}

// The tokenizer files written from a loaded tokenizer: vocab.json in id order,
// exactly what nlohmann's insertion-ordered object writes (the reference
// here), and both files load back to the same tokenizer.
TEST_F(HfGpt2, TokenizerFilesFromATokenizer) {
  const fs::path src = fs::path(RBE_SHARED_DIR) / "data" / "gpt2";
  if (!fs::exists(src / "encoder.json")) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files((src / "encoder.json").string(), (src / "vocab.bpe").string());
  const hf::TokenizerFiles files = hf::tokenizer_files(tok);
  nlohmann::ordered_json reference = nlohmann::ordered_json::object();
  for (size_t id = 0; id < tok.vocab().size(); ++id) reference[tok.vocab()[id]] = id;
  EXPECT_EQ(files.vocab_json, reference.dump());
  GPT2Tokenizer back = GPT2Tokenizer::from_strings(files.vocab_json, files.merges_txt);
  EXPECT_EQ(back.vocab(), tok.vocab());
  EXPECT_EQ(back.merges(), tok.merges());
  const std::string text = "Tokenizer files, written back: \"quoted\" \\ ümlauts\n<|endoftext|>";
  EXPECT_EQ(back.encode(text), tok.encode(text));
}

TEST_F(HfGpt2, ShardedRoundTrip) {
  ModelConfig c;
  c.vocab_size = 100, c.n_positions = 16, c.n_embd = 16, c.n_layer = 3, c.n_head = 2;
  GPT2Model model(c, 9);
  hf::save(dir_.string(), model, nullptr, /*max_shard_bytes=*/20000);
  EXPECT_FALSE(fs::exists(path("model.safetensors")));
  json index = json::parse(read_file(path("model.safetensors.index.json")));
  std::set<std::string> shards;
  for (auto& [name, file] : index["weight_map"].items()) shards.insert(file.get<std::string>());
  EXPECT_GE(shards.size(), 3u);
  EXPECT_TRUE(shards.count("model-00001-of-0000" + std::to_string(shards.size()) + ".safetensors"));

  LoadedModel back = load_model(dir_.string());
  const std::vector<int32_t> ids = {1, 2, 3, 99, 0};
  EXPECT_EQ(logits_of(*back.model, ids), logits_of(model, ids));

  // A shard that is gone, and an index naming a file outside the folder: errors name the file.
  const std::string first = *shards.begin();
  json bad = index;
  bad["weight_map"]["wte.weight"] = "../evil.safetensors";
  write_file_atomic(path("model.safetensors.index.json"), bad.dump());
  try {
    load_model(dir_.string());
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("not a plain file name"), std::string::npos) << e.what();
  }
  write_file_atomic(path("model.safetensors.index.json"), index.dump());
  fs::remove(path(first));
  try {
    load_model(dir_.string());
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(first), std::string::npos) << e.what();
  }
}

TEST_F(HfGpt2, ShardedIndexValidation) {
  auto a = std::vector<std::pair<std::string, Tensor>>{{"x", Tensor::ones({2})}, {"y", Tensor::ones({3})}};
  safetensors::save(path("a.safetensors"), a);
  safetensors::save(path("b.safetensors"), {{"z", Tensor::ones({1})}});
  auto expect_error = [&](const json& index, const std::string& needle) {
    write_file_atomic(path("index.json"), index.dump());
    try {
      safetensors::ShardedFile::open_index(path("index.json"));
      ADD_FAILURE() << "no error for " << index.dump();
    } catch (const safetensors::FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"weight_map", {{"x", "a.safetensors"}}}}, "'y'");               // y not listed
  expect_error({{"weight_map", {{"x", "b.safetensors"}}}}, "does not contain");  // wrong shard
  expect_error({{"metadata", {}}}, "weight_map");
  expect_error({{"weight_map", {{"x", 3}}}}, "not a file name");
  write_file_atomic(path("index.json"), "{\"weight_map\": ");
  EXPECT_THROW(safetensors::ShardedFile::open_index(path("index.json")), safetensors::FormatError);

  write_file_atomic(path("index.json"),
                    json{{"weight_map", {{"x", "a.safetensors"}, {"y", "a.safetensors"}, {"z", "b.safetensors"}}}}
                        .dump());
  auto s = safetensors::ShardedFile::open_index(path("index.json"));
  EXPECT_EQ(s.names(), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(s.file_of("z"), path("b.safetensors"));
  EXPECT_EQ(s.tensor("y").numel(), 3);
}

// Each corrupt folder gives an error naming the file and the key or tensor.
class HfGpt2Corrupt : public HfGpt2 {
 protected:
  void write(const json& cfg, const std::vector<std::pair<std::string, Tensor>>& t) {
    write_config(dir_.string(), cfg);
    safetensors::save(path("model.safetensors"), t);
  }
  void expect_load_error(const std::vector<std::string>& needles) {
    try {
      load_model(dir_.string());
      ADD_FAILURE() << "load_model accepted a corrupt folder";
    } catch (const std::exception& e) {
      for (auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
    }
  }
  json cfg_ = small_config(500);
};

TEST_F(HfGpt2Corrupt, ConfigMissingNEmbd) {
  json cfg = cfg_;
  cfg.erase("n_embd");
  write(cfg, hf_tensors(cfg_, "", 1));
  expect_load_error({"config.json", "n_embd"});
}

// A config that describes far more than the file holds (a damaged
// vocab_size) is refused from the tensor count, before the model is built,
// rather than by the first shape that disagrees after it.
TEST_F(HfGpt2Corrupt, ConfigLargerThanItsWeightsIsRefusedBeforeBuilding) {
  json cfg = cfg_;
  cfg["vocab_size"] = 5000000;
  write(cfg, hf_tensors(cfg_, "", 1));
  expect_load_error({"config.json", "describes", "more than twice the", "weights stored with it"});
}

TEST_F(HfGpt2Corrupt, UnsupportedVariant) {
  json cfg = cfg_;
  cfg["n_inner"] = 100;
  write(cfg, hf_tensors(cfg_, "", 1));
  expect_load_error({"config.json", "n_inner"});
}

TEST_F(HfGpt2Corrupt, ShapeMismatch) {
  auto t = hf_tensors(cfg_, "", 1);
  *find(t, "h.1.attn.c_proj.weight") = Tensor::ones({64, 65});
  write(cfg_, t);
  expect_load_error({"model.safetensors", "h.1.attn.c_proj.weight", "[64, 65]"});
}

TEST_F(HfGpt2Corrupt, UntransposedConv1D) {
  auto t = hf_tensors(cfg_, "", 1);
  *find(t, "h.0.mlp.c_fc.weight") = Tensor::ones({256, 64});  // [out, in]: not HF's layout
  write(cfg_, t);
  expect_load_error({"h.0.mlp.c_fc.weight", "[in, out]"});
}

TEST_F(HfGpt2Corrupt, MissingAndUnexpectedTensors) {
  auto t = hf_tensors(cfg_, "", 1);
  t.erase(t.begin() + 3);  // h.0.ln_1.bias
  write(cfg_, t);
  expect_load_error({"missing tensor 'h.0.ln_1.bias'"});

  t = hf_tensors(cfg_, "", 1);
  t.emplace_back("h.7.ln_1.bias", Tensor::ones({64}));
  write(cfg_, t);
  expect_load_error({"h.7.ln_1.bias", "unexpected"});

  t = hf_tensors(cfg_, "", 1);
  t.emplace_back("transformer.wte.weight", Tensor::ones({500, 64}));
  write(cfg_, t);
  expect_load_error({"wte.weight", "twice"});
}

TEST_F(HfGpt2Corrupt, TiedHeadThatDiffers) {
  auto t = hf_tensors(cfg_, "", 1);
  t.emplace_back("lm_head.weight", Tensor::ones({500, 64}));
  write(cfg_, t);
  expect_load_error({"lm_head.weight", "tie_word_embeddings"});
}

TEST_F(HfGpt2Corrupt, NonFloatWeight) {
  auto t = hf_tensors(cfg_, "", 1);
  *find(t, "ln_f.bias") = Tensor::zeros({64}, DType::I32);
  write(cfg_, t);
  expect_load_error({"ln_f.bias", "I32"});
}

TEST_F(HfGpt2Corrupt, PytorchBinRefused) {
  write_config(dir_.string(), cfg_);
  write_file_atomic(path("pytorch_model.bin"), "PK\x03\x04 not really a pickle");
  expect_load_error({"pytorch_model.bin", "safe_serialization=True"});
  fs::remove(path("config.json"));
  expect_load_error({"pytorch_model.bin", "safe_serialization=True"});
}

TEST_F(HfGpt2Corrupt, TruncatedWeights) {
  write(cfg_, hf_tensors(cfg_, "", 1));
  fs::resize_file(path("model.safetensors"), fs::file_size(path("model.safetensors")) - 100);
  expect_load_error({"model.safetensors", "file truncated"});
}

// Random damage to config.json or model.safetensors (cut short, or a few
// bytes changed: in the safetensors length and header, or anywhere):
// load_model either loads the folder, and the model runs, or throws a
// std::runtime_error; never a crash, a hang or another kind of exception
// (an absurd size in config.json must not become a bad_alloc).
TEST_F(HfGpt2Corrupt, RandomDamageIsRejectedOrLoads) {
  write(cfg_, hf_tensors(cfg_, "", 1));
  auto slurp = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string config = slurp(path("config.json")), weights = slurp(path("model.safetensors"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, weights.data(), 8);
  std::mt19937_64 rng(5);
  int rejected = 0, loaded = 0;
  for (int i = 0; i < 240; ++i) {
    const bool in_config = i % 2 == 0;
    std::string b = in_config ? config : weights;
    const int how = (i / 2) % 3;
    if (how == 0) {
      b.resize(size_t(rng() % b.size()));
    } else {
      const size_t span = how == 1 && !in_config ? size_t(8 + header_len) : b.size();
      for (int f = 0, flips = 1 + int(rng() % 3); f < flips; ++f) b[rng() % span] ^= char(1 + rng() % 255);
    }
    write_file_atomic(path("config.json"), in_config ? b : config);
    write_file_atomic(path("model.safetensors"), in_config ? weights : b);
    try {
      LoadedModel m = load_model(dir_.string());
      (void)logits_of(*m.model, {1, 2, 3});
      ++loaded;  // e.g. a changed weight byte, or an ignored config key
    } catch (const std::runtime_error&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "damage " << i << " to " << (in_config ? "config.json" : "model.safetensors")
                    << " threw something other than a runtime_error: " << e.what();
    }
  }
  EXPECT_GT(rejected, 120);
  std::printf("random damage: %d rejected, %d loaded\n", rejected, loaded);
}

TEST_F(HfGpt2Corrupt, NoFolder) {
  try {
    load_model(path("nope"));
    ADD_FAILURE();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
}

}  // namespace
