#include "models/tokenizer.h"

#include <filesystem>

#include "models/char_tokenizer.h"
#include "models/gpt2_tokenizer.h"

namespace rbe {

namespace fs = std::filesystem;

static std::string require_file(const std::string& dir, const char* name, const std::string& kind) {
  std::string path = (fs::path(dir) / name).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw TokenizerError(path + ": file not found (a \"" + kind + "\" tokenizer is read from " +
                         (kind == "gpt2" ? std::string("vocab.json and merges.txt") : std::string(name)) + ")");
  return path;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir, const ModelConfig& config) {
  if (config.tokenizer == "char")
    return std::make_unique<CharTokenizer>(CharTokenizer::load(require_file(dir, "tokenizer.json", "char")));
  if (config.tokenizer == "gpt2") {
    std::string vocab = require_file(dir, "vocab.json", "gpt2");
    std::string merges = require_file(dir, "merges.txt", "gpt2");
    return std::make_unique<GPT2Tokenizer>(GPT2Tokenizer::from_files(vocab, merges));
  }
  throw TokenizerError(dir + ": unknown tokenizer type \"" + config.tokenizer + "\" (expected \"char\" or \"gpt2\")");
}

}  // namespace rbe
