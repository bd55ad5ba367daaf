#include "models/model_config.h"

#include <nlohmann/json.hpp>

#include "tensor/atomic_file.h"

namespace rbe {

using nlohmann::json;

ModelConfig ModelConfig::preset(const std::string& name) {
  ModelConfig c;  // defaults are GPT-2 117M
  if (name == "mini") {
    c.vocab_size = 65;  // Tiny Shakespeare's character set; rbe-train resets it from the data
    c.n_positions = 256;
    c.n_embd = 256;
    c.n_layer = 2;
    c.n_head = 4;
    c.tokenizer = "char";
  } else if (name == "117M" || name == "124M") {
    // defaults
  } else if (name == "345M") {
    c.n_embd = 1024, c.n_layer = 24, c.n_head = 16;
  } else if (name == "762M") {
    c.n_embd = 1280, c.n_layer = 36, c.n_head = 20;
  } else if (name == "1.5B") {
    c.n_embd = 1600, c.n_layer = 48, c.n_head = 25;
  } else {
    throw ConfigError("unknown preset '" + name + "' (expected mini, 117M, 345M, 762M or 1.5B)");
  }
  return c;
}

static void check_positive(const char* key, int64_t v) {
  if (v <= 0) throw ConfigError(std::string(key) + " must be positive (got " + std::to_string(v) + ")");
}

double ModelConfig::parameter_count() const {
  const double V = double(vocab_size), P = double(n_positions), E = double(n_embd);
  // Per block: two LayerNorms (2E each), c_attn 3E^2 + 3E, c_proj E^2 + E,
  // c_fc 4E^2 + 4E, mlp.c_proj 4E^2 + E.
  const double block = 12 * E * E + 13 * E;
  return V * E + P * E + double(n_layer) * block + 2 * E + (tie_word_embeddings ? 0 : V * E);
}

void ModelConfig::validate() const {
  check_positive("vocab_size", vocab_size);
  check_positive("n_positions", n_positions);
  check_positive("n_embd", n_embd);
  check_positive("n_layer", n_layer);
  check_positive("n_head", n_head);
  if (n_embd % n_head != 0)
    throw ConfigError("n_embd (" + std::to_string(n_embd) + ") is not divisible by n_head (" +
                      std::to_string(n_head) + ")");
  if (!(layer_norm_epsilon > 0.f))
    throw ConfigError("layer_norm_epsilon must be positive (got " + std::to_string(layer_norm_epsilon) + ")");
  if (activation_function != "gelu_new" && activation_function != "gelu" && activation_function != "relu" &&
      activation_function != "gelu_pytorch_tanh")
    throw ConfigError("activation_function '" + activation_function +
                      "' is not supported (expected gelu_new, gelu, relu or gelu_pytorch_tanh)");
  if (!(dropout >= 0.f && dropout < 1.f))
    throw ConfigError("dropout must be in [0, 1) (got " + std::to_string(dropout) + ")");
  if (tokenizer != "gpt2" && tokenizer != "char")
    throw ConfigError("tokenizer '" + tokenizer + "' is not supported (expected gpt2 or char)");
}

json ModelConfig::to_json() const {
  json j;
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["n_positions"] = n_positions;
  j["n_ctx"] = n_positions;  // HF writes both; older readers look for n_ctx
  j["n_embd"] = n_embd;
  j["n_layer"] = n_layer;
  j["n_head"] = n_head;
  j["layer_norm_epsilon"] = layer_norm_epsilon;
  j["activation_function"] = activation_function;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["pre_ln"] = pre_ln;
  j["dropout"] = dropout;
  j["tokenizer"] = tokenizer;
  return j;
}

namespace {

// Reads typed keys of one JSON object, naming the source in every error.
struct Reader {
  const json& j;
  std::string where;

  [[noreturn]] void fail(const std::string& msg) const { throw ConfigError(where + ": " + msg); }
  const json* find(const char* key, bool required) const {
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) fail(std::string("missing required key '") + key + "'");
      return nullptr;
    }
    return &*it;
  }
  void get(const char* key, int64_t& out, bool required = false) const {
    if (const json* v = find(key, required)) {
      if (!v->is_number_integer()) fail(std::string("key '") + key + "' must be an integer (got " + v->dump() + ")");
      out = v->get<int64_t>();
    }
  }
  void get(const char* key, float& out, bool required = false) const {
    if (const json* v = find(key, required)) {
      if (!v->is_number()) fail(std::string("key '") + key + "' must be a number (got " + v->dump() + ")");
      out = v->get<float>();
    }
  }
  void get(const char* key, bool& out, bool required = false) const {
    if (const json* v = find(key, required)) {
      if (!v->is_boolean()) fail(std::string("key '") + key + "' must be a boolean (got " + v->dump() + ")");
      out = v->get<bool>();
    }
  }
  void get(const char* key, std::string& out, bool required = false) const {
    if (const json* v = find(key, required)) {
      if (!v->is_string()) fail(std::string("key '") + key + "' must be a string (got " + v->dump() + ")");
      out = v->get<std::string>();
    }
  }
};

ModelConfig parse_config(const json& j, const std::string& where) {
  if (!j.is_object()) throw ConfigError(where + ": expected a JSON object");
  Reader r{j, where};
  ModelConfig c;
  r.get("n_layer", c.n_layer, true);
  r.get("n_embd", c.n_embd, true);
  r.get("n_head", c.n_head, true);
  r.get("vocab_size", c.vocab_size, true);
  if (j.contains("n_positions")) r.get("n_positions", c.n_positions);
  else r.get("n_ctx", c.n_positions, true);  // very old configs only have n_ctx
  r.get("model_type", c.model_type);
  r.get("layer_norm_epsilon", c.layer_norm_epsilon);
  r.get("activation_function", c.activation_function);
  r.get("tie_word_embeddings", c.tie_word_embeddings);
  r.get("pre_ln", c.pre_ln);
  if (j.contains("dropout")) r.get("dropout", c.dropout);
  else r.get("resid_pdrop", c.dropout);  // HF's name
  r.get("tokenizer", c.tokenizer);
  try {
    c.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(where + ": " + e.what());
  }
  return c;
}

}  // namespace

ModelConfig ModelConfig::from_json(const json& j) { return parse_config(j, "config.json"); }

ModelConfig ModelConfig::load(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const IoError& e) {
    throw ConfigError(e.what());
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ConfigError(path + ": invalid JSON: " + e.what());
  }
  return parse_config(j, path);
}

void ModelConfig::save(const std::string& path) const {
  validate();
  write_file_atomic(path, to_json().dump(2) + "\n");
}

}  // namespace rbe
