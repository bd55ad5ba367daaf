#pragma once
// Shared fixtures of the .rbe file and model codec tests: a small random
// GPT-2 with the Tiny Shakespeare character tokenizer, and file helpers.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "autodiff/node.h"
#include "codec/model_codec.h"
#include "models/char_tokenizer.h"
#include "tensor/atomic_file.h"

namespace rbe::testutil {

inline std::string shakespeare() {
  static const std::string text = read_file(std::string(RBE_SHARED_DIR) + "/data/tinyshakespeare.txt");
  return text;
}

// 2 layers, 64 wide, 2 heads, context 32, the 65-character vocabulary.
inline LoadedModel tiny_model(bool tied = true, uint64_t seed = 7) {
  ModelConfig c = ModelConfig::preset("mini");
  c.n_layer = 2;
  c.n_embd = 64;
  c.n_head = 2;
  c.n_positions = 32;
  c.vocab_size = 65;
  c.tokenizer = "char";
  c.tie_word_embeddings = tied;
  LoadedModel m;
  m.config = c;
  m.model = std::make_unique<GPT2Model>(c, seed);
  m.model->eval();
  m.tokenizer = std::make_unique<CharTokenizer>(CharTokenizer::from_text(shakespeare()));
  m.format = "test";
  return m;
}

inline std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("rbe_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// Logits of the model for one fixed window of text.
inline std::vector<float> logits_of(GPT2Model& model, const Tokenizer& tok, int64_t T = 24) {
  NoGradGuard no_grad;  // packed layers run inference only
  std::vector<int32_t> ids = tok.encode(shakespeare().substr(1000, size_t(T)));
  Tensor x = Tensor::from_vector(ids, {1, T});
  return model.forward(x).to_vector();
}

}  // namespace rbe::testutil
