// rbe-convert: converts a model (our checkpoint or a HuggingFace GPT-2 folder,
// anything io/model_loader.h opens, or a gpt2 .gguf file) to another format.
//
//   rbe-convert --model IN --to hf   --out DIR  [--dtype f32|f16|bf16]
//   rbe-convert --model IN --to rbe  --out DIR  [--dtype f32|f16|bf16]
//   rbe-convert --model IN --to gguf --out FILE [--dtype f32|f16]
//
// hf:   a HuggingFace GPT-2 folder (Conv1D [in, out] weights, HF config.json,
//       vocab.json + merges.txt) that transformers loads. HF has no character
//       tokenizer, so char-tokenizer models are written as --to rbe instead
//       (with a note on stderr).
// rbe:  our checkpoint layout (docs/formats.md): [out, in] weights, our
//       config.json, tokenizer.json or vocab.json + merges.txt.
// gguf: a llama.cpp GGUF file, architecture gpt2 (docs/formats.md, "GGUF").
// Training state is left behind. Every file is written under a temporary
// name and renamed. Progress and the summary go to stderr.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "tensor/atomic_file.h"
#include "io/gguf_export.h"
#include "io/gguf_import.h"
#include "io/hf_gpt2.h"
#include "io/model_loader.h"
#include "io/safetensors.h"
#include "models/char_tokenizer.h"
#include "models/gpt2_tokenizer.h"

#include <nlohmann/json.hpp>

using namespace rbe;
namespace fs = std::filesystem;

namespace {

std::string join(const std::string& dir, const char* name) { return (fs::path(dir) / name).string(); }

std::string mb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / 1e6);
  return buf;
}

uint64_t folder_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

// A .gguf file (gguf_import.h) or a model folder (model_loader.h).
LoadedModel load_any(const std::string& path) {
  if (fs::is_regular_file(path) && fs::path(path).extension() == ".gguf") {
    GgufModel g = import_gguf(path);
    LoadedModel m;
    m.config = g.config;
    m.model = std::move(g.model);
    m.tokenizer = std::move(g.tokenizer);
    m.format = "gguf";
    return m;
  }
  return load_model(path);
}

// vocab.json + merges.txt: copied from a folder, rebuilt from the tokenizer for a GGUF input.
hf::TokenizerFiles tokenizer_files(const LoadedModel& m, const std::string& in) {
  if (m.format != "gguf") return hf::read_tokenizer_files(in);
  const auto& bpe = dynamic_cast<const GPT2Tokenizer&>(*m.tokenizer);
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < bpe.vocab().size(); ++id) vocab[bpe.vocab()[id]] = id;
  hf::TokenizerFiles files{vocab.dump(), "#version: 0.2\n"};
  for (auto& [a, b] : bpe.merges()) files.merges_txt += a + " " + b + "\n";
  return files;
}

// Our checkpoint layout: weights by our names in the chosen dtype, config, tokenizer files.
void write_rbe(const LoadedModel& m, const std::string& in, const std::string& out, DType dtype) {
  fs::create_directories(out);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : m.model->named_parameters()) tensors.emplace_back(name, t.to(dtype));
  safetensors::save(join(out, "model.safetensors"), tensors, {{"format", "pt"}});
  m.config.save(join(out, "config.json"));
  if (auto* ch = dynamic_cast<const CharTokenizer*>(m.tokenizer.get())) {
    ch->save(join(out, "tokenizer.json"));
  } else if (m.tokenizer) {
    hf::TokenizerFiles files = tokenizer_files(m, in);
    write_file_atomic(join(out, "vocab.json"), files.vocab_json);
    write_file_atomic(join(out, "merges.txt"), files.merges_txt);
  }
}

// HF's layout; weights re-stored in dtype when it is not F32 (transformers reads F16/BF16 safetensors).
void write_hf(const LoadedModel& m, const std::string& in, const std::string& out, DType dtype) {
  std::optional<hf::TokenizerFiles> files;
  if (m.tokenizer) files = tokenizer_files(m, in);
  hf::save(out, *m.model, files ? &*files : nullptr);
  if (dtype != DType::F32) {
    const std::string weights = join(out, "model.safetensors");
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (auto& [name, t] : safetensors::load(weights)) tensors.emplace_back(name, t.to(dtype));
    safetensors::save(weights, tensors, {{"format", "pt"}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Convert a model folder (RBE checkpoint or HuggingFace GPT-2) to HF, RBE or GGUF."};
  std::string model, out, to = "hf", dtype_arg = "f32";
  app.add_option("--model", model, "Model to read: RBE checkpoint or HuggingFace GPT-2 folder, or a .gguf file")->required();
  app.add_option("--out", out, "Output folder (hf, rbe) or file (gguf)")->required();
  app.add_option("--to", to, "Output format: hf, rbe or gguf")->check(CLI::IsMember({"hf", "rbe", "gguf"}));
  app.add_option("--dtype", dtype_arg, "Storage dtype of the weights (gguf: f32 or f16)")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  if (to == "gguf" && dtype_arg == "bf16") {
    std::cerr << "rbe-convert: error: --dtype bf16 is not available with --to gguf (use f32 or f16)\n";
    return cli::kExitUsage;
  }

  return cli::run_main("rbe-convert", [&] {
    const DType dtype = dtype_arg == "f16" ? DType::F16 : dtype_arg == "bf16" ? DType::BF16 : DType::F32;
    std::cerr << "reading " << model << "\n";
    LoadedModel m = load_any(model);
    const ModelConfig& c = m.config;
    std::cerr << "  " << m.format << ": " << c.n_layer << " layers, " << c.n_embd << " dim, " << c.n_head
              << " heads, vocab " << c.vocab_size << ", context " << c.n_positions << ", "
              << m.model->parameter_count() << " parameters, tokenizer "
              << (m.tokenizer ? m.tokenizer->type() : std::string("none")) << "\n";

    if (to == "gguf") {
      GgufExportOptions opt;
      opt.dtype = dtype;
      opt.name = fs::path(model).lexically_normal().filename().string();
      if (opt.name.empty() || opt.name == ".") opt.name = fs::path(model).lexically_normal().parent_path().filename().string();
      if (opt.name.empty()) opt.name = "gpt2";
      std::cerr << "writing " << out << "\n";
      GgufExportReport r = export_gguf(out, *m.model, m.tokenizer.get(), opt);
      for (auto& w : r.warnings) std::cerr << "rbe-convert: warning: " << w << "\n";
      std::cerr << "wrote " << out << " (GGUF v3, arch gpt2, " << r.tensors << " tensors, " << dtype_name(dtype)
                << ", " << mb(r.file_bytes) << ")\n";
      return 0;
    }

    std::string layout = to;
    if (to == "hf" && dynamic_cast<const CharTokenizer*>(m.tokenizer.get())) {
      std::cerr << "rbe-convert: note: HuggingFace GPT-2 has no character tokenizer; writing the RBE checkpoint "
                   "layout (tokenizer.json kept), which rbe-infer and load_model read\n";
      layout = "rbe";
    }
    std::cerr << "writing " << out << "\n";
    if (layout == "hf")
      write_hf(m, model, out, dtype);
    else
      write_rbe(m, model, out, dtype);
    std::cerr << "wrote " << out << " (" << (layout == "hf" ? "HuggingFace" : "RBE checkpoint") << " layout, "
              << dtype_name(dtype) << ", " << mb(folder_bytes(out)) << ")\n";
    return 0;
  });
}
