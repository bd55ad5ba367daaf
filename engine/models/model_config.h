#pragma once
// Model hyper-parameters, read from and written to JSON (config.json).
// Field names follow HuggingFace's GPT-2 config where one exists.
#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace rbe {

// Thrown for invalid or unreadable configurations; the message names the field.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModelConfig {
  std::string model_type = "gpt2";
  int64_t vocab_size = 50257;
  int64_t n_positions = 1024;  // context length
  int64_t n_embd = 768;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  float layer_norm_epsilon = 1e-5f;
  std::string activation_function = "gelu_new";  // "gelu_new" (tanh approx.), "gelu" (exact erf), "relu"
  bool tie_word_embeddings = true;
  bool pre_ln = true;           // GPT-2 is pre-LN; post-LN for experiments
  float dropout = 0.0f;         // residual/attention/embedding dropout while training
  std::string tokenizer = "gpt2";  // "gpt2" (byte-level BPE files) or "char" (tokenizer.json, see docs/formats.md)

  // Presets: "mini" (2 layers, 256 dim, 4 heads, context 256, char vocab 65),
  // "117M" (a.k.a. 124M), "345M", "762M", "1.5B". Throws ConfigError on an unknown name.
  static ModelConfig preset(const std::string& name);

  // Throws ConfigError naming the problem (e.g. "n_embd (100) is not divisible by n_head (3)").
  void validate() const;

  nlohmann::json to_json() const;
  // Unknown keys are ignored; wrong types and bad values throw ConfigError.
  static ModelConfig from_json(const nlohmann::json& j);
  static ModelConfig load(const std::string& path);  // config.json
  void save(const std::string& path) const;           // written to a temporary name, then renamed

  int64_t head_dim() const { return n_embd / n_head; }
  // Parameters of the GPT2Model this describes (a tied head counted once),
  // in double so that an absurd config cannot overflow; exact below 2^53.
  double parameter_count() const;
};

}  // namespace rbe
