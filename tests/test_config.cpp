#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "models/model_config.h"

using namespace rbe;
using nlohmann::json;

namespace {

// Runs f, expecting a ConfigError whose message contains `part`.
template <class F>
void expect_config_error(F&& f, const std::string& part) {
  try {
    f();
    FAIL() << "expected ConfigError containing: " << part;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "message: " << e.what();
  }
}

json minimal() { return {{"n_layer", 2}, {"n_embd", 64}, {"n_head", 4}, {"n_positions", 32}, {"vocab_size", 50}}; }

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("rbe_test_config_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST(ModelConfig, Presets) {
  auto mini = ModelConfig::preset("mini");
  EXPECT_EQ(mini.vocab_size, 65);
  EXPECT_EQ(mini.n_positions, 256);
  EXPECT_EQ(mini.n_embd, 256);
  EXPECT_EQ(mini.n_layer, 2);
  EXPECT_EQ(mini.n_head, 4);
  EXPECT_EQ(mini.tokenizer, "char");
  struct P { const char* name; int64_t embd, layers, heads; };
  for (P p : {P{"117M", 768, 12, 12}, P{"345M", 1024, 24, 16}, P{"762M", 1280, 36, 20}, P{"1.5B", 1600, 48, 25}}) {
    auto c = ModelConfig::preset(p.name);
    EXPECT_EQ(c.vocab_size, 50257) << p.name;
    EXPECT_EQ(c.n_positions, 1024) << p.name;
    EXPECT_EQ(c.n_embd, p.embd) << p.name;
    EXPECT_EQ(c.n_layer, p.layers) << p.name;
    EXPECT_EQ(c.n_head, p.heads) << p.name;
    EXPECT_EQ(c.tokenizer, "gpt2") << p.name;
    EXPECT_NO_THROW(c.validate());
  }
  expect_config_error([] { ModelConfig::preset("7B"); }, "unknown preset '7B'");
}

TEST(ModelConfig, JsonRoundTrip) {
  ModelConfig c = ModelConfig::preset("mini");
  c.dropout = 0.25f;
  c.pre_ln = false;
  c.activation_function = "relu";
  c.layer_norm_epsilon = 1e-6f;
  c.tie_word_embeddings = false;
  ModelConfig d = ModelConfig::from_json(c.to_json());
  EXPECT_EQ(d.to_json(), c.to_json());
  EXPECT_EQ(d.n_embd, 256);
  EXPECT_FLOAT_EQ(d.dropout, 0.25f);
  EXPECT_FALSE(d.pre_ln);
  EXPECT_FALSE(d.tie_word_embeddings);

  std::string path = temp_path("config.json");
  c.save(path);
  EXPECT_EQ(ModelConfig::load(path).to_json(), c.to_json());
  // No temporary files are left next to it.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) files += !!e.is_regular_file();
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(ModelConfig, ReadsHuggingFaceConfig) {
  // The shape of HF's gpt2/config.json (abridged), with keys we do not use.
  json j = json::parse(R"({
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
    "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
    "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "task_specific_params": {"text-generation": {}},
    "vocab_size": 50257})");
  ModelConfig c = ModelConfig::from_json(j);
  EXPECT_EQ(c.n_embd, 768);
  EXPECT_EQ(c.n_positions, 1024);
  EXPECT_FLOAT_EQ(c.dropout, 0.1f);  // from resid_pdrop
  EXPECT_EQ(c.tokenizer, "gpt2");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.pre_ln);
}

TEST(ModelConfig, UnknownKeysIgnored) {
  json j = minimal();
  j["something_new"] = {1, 2, 3};
  j["n_inner"] = nullptr;
  EXPECT_NO_THROW(ModelConfig::from_json(j));
}

TEST(ModelConfig, MissingKeys) {
  for (const char* key : {"n_layer", "n_embd", "n_head", "vocab_size"}) {
    json j = minimal();
    j.erase(key);
    expect_config_error([&] { ModelConfig::from_json(j); },
                        std::string("config.json: missing required key '") + key + "'");
  }
  json j = minimal();
  j.erase("n_positions");
  expect_config_error([&] { ModelConfig::from_json(j); }, "missing required key 'n_ctx'");
  j["n_ctx"] = 16;  // old configs only have n_ctx
  EXPECT_EQ(ModelConfig::from_json(j).n_positions, 16);
}

TEST(ModelConfig, WrongTypes) {
  struct Case { const char* key; json value; const char* expected; };
  for (const Case& c : {Case{"n_embd", "64", "integer"}, Case{"n_layer", 2.5, "integer"},
                        Case{"layer_norm_epsilon", "small", "number"}, Case{"pre_ln", 1, "boolean"},
                        Case{"tie_word_embeddings", "yes", "boolean"}, Case{"activation_function", 3, "string"},
                        Case{"tokenizer", false, "string"}, Case{"dropout", json::array(), "number"}}) {
    json j = minimal();
    j[c.key] = c.value;
    expect_config_error([&] { ModelConfig::from_json(j); },
                        std::string("key '") + c.key + "' must be a" + (c.expected[0] == 'i' ? "n " : " ") + c.expected);
  }
  expect_config_error([] { ModelConfig::from_json(json::array()); }, "expected a JSON object");
}

TEST(ModelConfig, ValidationErrors) {
  auto with = [](auto edit) {
    ModelConfig c = ModelConfig::preset("mini");
    edit(c);
    return c;
  };
  expect_config_error([&] { with([](ModelConfig& c) { c.n_embd = 100, c.n_head = 3; }).validate(); },
                      "n_embd (100) is not divisible by n_head (3)");
  expect_config_error([&] { with([](ModelConfig& c) { c.vocab_size = 0; }).validate(); }, "vocab_size must be positive");
  expect_config_error([&] { with([](ModelConfig& c) { c.n_positions = -1; }).validate(); }, "n_positions must be positive");
  expect_config_error([&] { with([](ModelConfig& c) { c.n_embd = 0; }).validate(); }, "n_embd must be positive");
  expect_config_error([&] { with([](ModelConfig& c) { c.n_layer = 0; }).validate(); }, "n_layer must be positive");
  expect_config_error([&] { with([](ModelConfig& c) { c.n_head = 0; }).validate(); }, "n_head must be positive");
  expect_config_error([&] { with([](ModelConfig& c) { c.layer_norm_epsilon = 0; }).validate(); },
                      "layer_norm_epsilon must be positive");
  expect_config_error([&] { with([](ModelConfig& c) { c.activation_function = "swishy"; }).validate(); },
                      "activation_function 'swishy'");
  expect_config_error([&] { with([](ModelConfig& c) { c.dropout = 1.0f; }).validate(); }, "dropout must be in [0, 1)");
  expect_config_error([&] { with([](ModelConfig& c) { c.dropout = -0.1f; }).validate(); }, "dropout must be in [0, 1)");
  expect_config_error([&] { with([](ModelConfig& c) { c.tokenizer = "sentencepiece"; }).validate(); },
                      "tokenizer 'sentencepiece'");
  for (const char* act : {"gelu_new", "gelu", "relu", "gelu_pytorch_tanh"})
    EXPECT_NO_THROW(with([&](ModelConfig& c) { c.activation_function = act; }).validate()) << act;

  // from_json validates too, naming the source.
  json j = minimal();
  j["n_head"] = 3;
  j["n_embd"] = 100;
  expect_config_error([&] { ModelConfig::from_json(j); }, "config.json: n_embd (100) is not divisible by n_head (3)");
}

TEST(ModelConfig, LoadErrorsNameThePath) {
  expect_config_error([] { ModelConfig::load("/nonexistent/config.json"); }, "/nonexistent/config.json");
  std::string path = temp_path("bad.json");
  std::ofstream(path) << "{\"n_layer\": 2,";
  expect_config_error([&] { ModelConfig::load(path); }, path + ": invalid JSON");
  std::ofstream(path) << minimal().dump();
  EXPECT_EQ(ModelConfig::load(path).n_embd, 64);
  json j = minimal();
  j.erase("n_embd");
  std::ofstream(path) << j.dump();
  expect_config_error([&] { ModelConfig::load(path); }, path + ": missing required key 'n_embd'");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
