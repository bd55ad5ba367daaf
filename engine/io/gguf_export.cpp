#include "io/gguf_export.h"

#include <algorithm>
#include <filesystem>
#include <regex>

#include "io/gguf.h"
#include "models/gpt2_tokenizer.h"

namespace rbe {

namespace {

// llama.cpp's token types (llama_token_type / gguf TokenType).
constexpr int64_t kTokenNormal = 1, kTokenControl = 3, kTokenUnused = 5;
// general.file_type (llama_ftype): all F32, mostly F16, mostly Q4_0, mostly Q8_0.
constexpr uint32_t kFileTypeF32 = 0, kFileTypeF16 = 1, kFileTypeQ4_0 = 2, kFileTypeQ8_0 = 7;

const std::pair<const char*, const char*> kBlockNames[] = {
    {"ln_1", "attn_norm"},       {"attn.c_attn", "attn_qkv"}, {"attn.c_proj", "attn_output"},
    {"ln_2", "ffn_norm"},        {"mlp.c_fc", "ffn_up"},      {"mlp.c_proj", "ffn_down"},
};

void check_exportable(const ModelConfig& c, const GPT2Tokenizer*& bpe, const Tokenizer* tokenizer,
                      std::vector<std::string>& warnings) {
  if (!c.pre_ln)
    throw GgufExportError("GGUF export: the model is post-LN (pre_ln false); llama.cpp's gpt2 architecture is pre-LN only");
  if (c.activation_function == "relu")
    throw GgufExportError("GGUF export: activation_function 'relu' cannot be expressed in llama.cpp's gpt2 architecture (GELU only)");
  if (c.activation_function == "gelu")
    warnings.push_back("the model uses exact (erf) GELU; llama.cpp's gpt2 computes the tanh approximation, so outputs differ slightly");
  if (c.tokenizer == "char")
    throw GgufExportError("GGUF export needs a GPT-2 BPE tokenizer; this model uses the character tokenizer, which "
                          "llama.cpp cannot represent (train with the gpt2 tokenizer, or use --to hf)");
  if (!tokenizer)
    throw GgufExportError("GGUF export needs the model's tokenizer (vocab.json + merges.txt), and none was loaded");
  bpe = dynamic_cast<const GPT2Tokenizer*>(tokenizer);
  if (!bpe)
    throw GgufExportError("GGUF export needs a GPT-2 BPE tokenizer; this model uses the '" + tokenizer->type() +
                          "' tokenizer, which llama.cpp cannot represent (train with the gpt2 tokenizer, or use --to hf)");
  if (bpe->vocab_size() > c.vocab_size)
    throw GgufExportError("GGUF export: the tokenizer has " + std::to_string(bpe->vocab_size()) +
                          " tokens but the model's vocab_size is only " + std::to_string(c.vocab_size));
  if (bpe->vocab_size() < c.vocab_size)
    warnings.push_back("the tokenizer has " + std::to_string(bpe->vocab_size()) + " tokens and the model " +
                       std::to_string(c.vocab_size) + "; the extra ids are written as unused tokens [PAD<id>]");
  if (bpe->eot_id() < 0) throw GgufExportError("GGUF export: the tokenizer has no <|endoftext|> token");
}

gguf::Value u32(int64_t v) { return gguf::Value::u32(uint32_t(v)); }

}  // namespace

std::vector<std::string> gguf_f32_matrices() { return {"wpe.weight"}; }

std::string gguf_tensor_name(const std::string& p) {
  if (p == "wte.weight") return "token_embd.weight";
  if (p == "wpe.weight") return "position_embd.weight";
  if (p == "ln_f.weight") return "output_norm.weight";
  if (p == "ln_f.bias") return "output_norm.bias";
  if (p == "lm_head.weight") return "output.weight";
  static const std::regex block(R"(h\.(\d+)\.(ln_1|ln_2|attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.(weight|bias))");
  std::smatch m;
  if (std::regex_match(p, m, block)) {
    for (auto& [ours, theirs] : kBlockNames)
      if (m[2] == ours) return "blk." + m[1].str() + "." + theirs + "." + m[3].str();
  }
  throw GgufExportError("GGUF export: no GGUF name for parameter '" + p + "'");
}

GgufExportReport export_gguf(const std::string& path, const GPT2Model& model, const Tokenizer* tokenizer,
                             const GgufExportOptions& options, const std::function<void(size_t, size_t)>& progress) {
  using gguf::GgmlType;
  if (options.quant) {
    if (*options.quant != GgmlType::Q8_0 && *options.quant != GgmlType::Q4_0)
      throw GgufExportError(std::string("GGUF export: quantized type ") + gguf::ggml_type_name(*options.quant) +
                            " is not supported (Q8_0 or Q4_0)");
    if (!options.quantize) throw GgufExportError("GGUF export: Q8_0 / Q4_0 export needs an encoder (options.quantize)");
  } else if (options.dtype != DType::F32 && options.dtype != DType::F16) {
    throw GgufExportError(std::string("GGUF export: dtype ") + dtype_name(options.dtype) + " is not supported (F32 or F16)");
  }
  const ModelConfig& c = model.config();
  GgufExportReport report;
  const GPT2Tokenizer* bpe = nullptr;
  check_exportable(c, bpe, tokenizer, report.warnings);
  // The type of the 2-D weights (position_embd aside), and general.file_type.
  const GgmlType matrix = options.quant ? *options.quant : options.dtype == DType::F16 ? GgmlType::F16 : GgmlType::F32;
  const uint32_t file_type = matrix == GgmlType::Q8_0   ? kFileTypeQ8_0
                             : matrix == GgmlType::Q4_0 ? kFileTypeQ4_0
                             : matrix == GgmlType::F16  ? kFileTypeF16
                                                        : kFileTypeF32;

  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("gpt2"));
  w.set("general.name", gguf::Value::string(options.name));
  w.set("general.file_type", gguf::Value::u32(file_type));
  w.set("gpt2.context_length", u32(c.n_positions));
  w.set("gpt2.embedding_length", u32(c.n_embd));
  w.set("gpt2.feed_forward_length", u32(4 * c.n_embd));
  w.set("gpt2.block_count", u32(c.n_layer));
  w.set("gpt2.attention.head_count", u32(c.n_head));
  w.set("gpt2.attention.layer_norm_epsilon", gguf::Value::f32(c.layer_norm_epsilon));

  w.set("tokenizer.ggml.model", gguf::Value::string("gpt2"));
  w.set("tokenizer.ggml.pre", gguf::Value::string("gpt-2"));
  // llama.cpp needs one token per embedding row; rows past the tokenizer are
  // padding, named and typed as llama.cpp's own converter does.
  std::vector<std::string> tokens = bpe->vocab();
  std::vector<int64_t> types(tokens.size(), kTokenNormal);
  types[size_t(bpe->eot_id())] = kTokenControl;
  for (int64_t id = int64_t(tokens.size()); id < c.vocab_size; ++id) {
    tokens.push_back("[PAD" + std::to_string(id) + "]");
    types.push_back(kTokenUnused);
  }
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", gguf::Value::int_array(gguf::ValueType::I32, std::move(types)));
  std::vector<std::string> merges;
  merges.reserve(bpe->merges().size());
  for (auto& [a, b] : bpe->merges()) merges.push_back(a + " " + b);
  w.set("tokenizer.ggml.merges", gguf::Value::string_array(std::move(merges)));
  w.set("tokenizer.ggml.bos_token_id", u32(bpe->eot_id()));
  w.set("tokenizer.ggml.eos_token_id", u32(bpe->eot_id()));
  w.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(false));

  // Quantized matrices are encoded while the file is written, one at a time.
  auto add_matrix = [&](const std::string& g, const std::string& param, const Tensor& t) {
    if (!gguf::is_quantized(matrix)) return w.add_tensor(g, t, matrix);
    if (t.size(1) % 32 != 0)
      throw GgufExportError(std::string("GGUF export: ") + gguf::ggml_type_name(matrix) + " stores rows in blocks of 32 " +
                            "weights, but '" + g + "' (" + param + ", " + shape_str(t.shape()) + ") has rows of " +
                            std::to_string(t.size(1)) + " (use f16 or f32)");
    GgufQuantizeFn quantize = options.quantize;
    w.add_tensor_bytes(g, t.shape(), matrix, [quantize, param, t, matrix] {
      return quantize(param, t.to(DType::F32).contiguous(), matrix);
    });
  };
  const std::vector<std::string> f32_matrices = gguf_f32_matrices();
  const Tensor* wte = nullptr;
  bool has_head = false;
  const auto params = model.named_parameters();
  for (auto& [name, t] : params) {
    const std::string g = gguf_tensor_name(name);
    // 2-D weights follow the matrix type, except the position table (F32 like llama.cpp's converter).
    if (t.dim() == 2 && std::find(f32_matrices.begin(), f32_matrices.end(), name) == f32_matrices.end())
      add_matrix(g, name, t);
    else w.add_tensor(g, t, gguf::GgmlType::F32);
    if (name == "wte.weight") wte = &t;
    if (name == "lm_head.weight") has_head = true;
  }
  if (!has_head) {
    if (!wte) throw GgufExportError("GGUF export: the model has no wte.weight");
    add_matrix("output.weight", "wte.weight", *wte);
  }
  w.write(path, progress);
  report.tensors = w.tensor_count();
  report.file_bytes = std::filesystem::file_size(path);
  return report;
}

}  // namespace rbe
