#include "io/model_loader.h"

#include <filesystem>

#include "io/checkpoint.h"
#include "io/hf_gpt2.h"

namespace rbe {

namespace fs = std::filesystem;

namespace {

std::string join(const std::string& dir, const char* name) { return (fs::path(dir) / name).string(); }

// The tokenizer, or null for a GPT-2-tokenizer model whose folder has no BPE files.
std::unique_ptr<Tokenizer> maybe_tokenizer(const std::string& dir, const ModelConfig& config) {
  if (config.tokenizer == "gpt2" && !fs::exists(join(dir, "vocab.json")) && !fs::exists(join(dir, "encoder.json")))
    return nullptr;
  auto tok = load_tokenizer(dir, config);
  if (tok && tok->vocab_size() > config.vocab_size)
    throw ConfigError(dir + ": the tokenizer has " + std::to_string(tok->vocab_size()) +
                      " tokens but config.json says vocab_size " + std::to_string(config.vocab_size));
  return tok;
}

}  // namespace

LoadedModel load_model(const std::string& path, const MatrixStorage& matrices) {
  if (!fs::exists(path)) throw std::runtime_error(path + ": no such model folder");
  if (!fs::is_directory(path))
    throw std::runtime_error(path + ": expected a model folder (config.json + model.safetensors), got a file");
  const std::string config_path = join(path, "config.json");
  if (!fs::exists(config_path)) {
    if (fs::exists(join(path, "pytorch_model.bin"))) throw hf::HfError(hf::pickle_refusal(path));
    throw std::runtime_error(path + ": missing config.json (not a model folder)");
  }

  LoadedModel out;
  if (hf::detect_format(path) == "rbe-checkpoint") {
    out.format = "rbe-checkpoint";
    out.config = ModelConfig::load(config_path);
    out.model = ckpt::read_model(path, out.config, matrices);
  } else {
    out.format = "hf";
    out.model = hf::load(path, &out.config, matrices);
  }
  out.tokenizer = maybe_tokenizer(path, out.config);
  out.model->eval();
  return out;
}

}  // namespace rbe
