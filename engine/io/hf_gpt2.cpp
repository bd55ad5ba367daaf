#include "io/hf_gpt2.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/atomic_file.h"
#include "tensor/ops.h"

namespace rbe::hf {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kPrefix = "transformer.";

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// attn.bias (the causal mask) and attn.masked_bias are buffers, not weights.
bool is_buffer(const std::string& name) { return ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias"); }

// Rows [o0, o1) of dst [out, in] from src [in, out], in cache-sized tiles;
// row o goes to d + (o - o0) * in.
template <class T>
void transpose_rows(const T* s, int64_t in, int64_t out, int64_t o0, int64_t o1, T* d) {
  constexpr int64_t B = 64;
  for (int64_t i0 = 0; i0 < in; i0 += B)
    for (int64_t i = i0; i < std::min(in, i0 + B); ++i)
      for (int64_t o = o0; o < o1; ++o) d[(o - o0) * in + i] = s[i * out + o];
}

// src [in, out] (any float dtype) -> dst [out, in] F32 or F16, blocks of rows
// over the threads (each writes its own rows). F16 from F16 moves the bits; F16
// from another dtype goes through a small F32 scratch per block, converted in
// bulk: an F32 copy of the whole matrix, freed to the heap, would stay in the
// process's memory after loading.
void transpose_into(Tensor& dst, const Tensor& src) {
  const bool f16 = dst.dtype() == DType::F16;
  if ((dst.dtype() != DType::F32 && !f16) || !dst.is_contiguous()) {
    ops::copy_(dst, ops::transpose(src, 0, 1));
    return;
  }
  const bool bits = f16 && src.dtype() == DType::F16;
  Tensor s = bits ? src.contiguous() : src.to(DType::F32).contiguous();
  const int64_t in = s.shape()[0], out = s.shape()[1];
  constexpr int64_t B = 64;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, (out + B - 1) / B), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<float> scratch(f16 && !bits ? size_t(B * in) : 0);
    for (int64_t o0 = r.begin() * B; o0 < std::min(out, r.end() * B); o0 += B) {
      const int64_t o1 = std::min(out, o0 + B);
      if (bits) {
        transpose_rows(s.data<uint16_t>(), in, out, o0, o1, dst.data<uint16_t>() + o0 * in);
      } else if (f16) {
        transpose_rows(s.data<float>(), in, out, o0, o1, scratch.data());
        f32_to_f16_n(scratch.data(), dst.data<uint16_t>() + o0 * in, (o1 - o0) * in);
      } else {
        transpose_rows(s.data<float>(), in, out, o0, o1, dst.data<float>() + o0 * in);
      }
    }
  });
}

Shape reversed(const Shape& s) { return Shape(s.rbegin(), s.rend()); }

// Whether a and b hold bit for bit the same values as f32. Tensors of one
// dtype compare their stored bytes (every conversion to f32 is one to one), so
// an F16 file's head and embedding are not copied to f32 to be compared.
bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  if (a.dtype() == b.dtype() && a.is_contiguous() && b.is_contiguous())
    return std::memcmp(a.raw_data(), b.raw_data(), size_t(a.numel()) * dtype_size(a.dtype())) == 0;
  const Tensor x = a.to(DType::F32).contiguous(), y = b.to(DType::F32).contiguous();
  return std::memcmp(x.raw_data(), y.raw_data(), size_t(x.numel()) * sizeof(float)) == 0;
}

}  // namespace

bool is_conv1d_weight(const std::string& name) {
  return ends_with(name, ".attn.c_attn.weight") || ends_with(name, ".attn.c_proj.weight") ||
         ends_with(name, ".mlp.c_fc.weight") || ends_with(name, ".mlp.c_proj.weight");
}

std::string detect_format(const std::string& dir) {
  const std::string path = join(dir, "config.json");
  if (!fs::exists(path)) throw ConfigError(dir + ": missing config.json (not a model folder)");
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    throw ConfigError(path + ": invalid JSON: " + e.what());
  } catch (const IoError& e) {
    throw ConfigError(e.what());
  }
  return j.is_object() && (j.contains("tokenizer") || j.contains("pre_ln")) ? "rbe-checkpoint" : "hf";
}

ModelConfig read_any_config(const std::string& dir) {
  const std::string path = join(dir, "config.json");
  return detect_format(dir) == "hf" ? read_config(path) : ModelConfig::load(path);
}

ModelConfig read_config(const std::string& path) {
  ModelConfig c = ModelConfig::load(path);  // required keys, types, values
  json j = json::parse(read_file(path));   // parsed fine above
  auto fail = [&](const std::string& msg) { return ConfigError(path + ": " + msg); };
  if (j.contains("model_type") && j["model_type"] != "gpt2")
    throw fail("model_type " + j["model_type"].dump() + " is not supported (expected \"gpt2\")");
  if (auto it = j.find("n_inner"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() != 4 * c.n_embd)
      throw fail("n_inner " + it->dump() + " is not supported (only 4 * n_embd = " + std::to_string(4 * c.n_embd) +
                 " or null)");
  }
  // Flags of GPT-2 variants we do not implement: only their defaults are accepted.
  auto require_flag = [&](const char* key, bool want) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (!it->is_boolean()) throw fail(std::string("key '") + key + "' must be a boolean (got " + it->dump() + ")");
    if (it->get<bool>() != want) throw fail(std::string(key) + ": " + it->dump() + " is not supported");
  };
  require_flag("scale_attn_weights", true);
  require_flag("scale_attn_by_inverse_layer_idx", false);
  require_flag("add_cross_attention", false);
  if (j.contains("pre_ln") && !c.pre_ln) throw fail("pre_ln: false is not a HuggingFace GPT-2 option");
  if (!j.contains("tokenizer")) c.tokenizer = "gpt2";
  return c;
}

json config_to_json(const ModelConfig& c) {
  json j = {{"architectures", {"GPT2LMHeadModel"}},
            {"model_type", "gpt2"},
            {"vocab_size", c.vocab_size},
            {"n_positions", c.n_positions},
            {"n_ctx", c.n_positions},
            {"n_embd", c.n_embd},
            {"n_layer", c.n_layer},
            {"n_head", c.n_head},
            {"n_inner", nullptr},
            {"activation_function", c.activation_function},
            {"layer_norm_epsilon", c.layer_norm_epsilon},
            {"resid_pdrop", c.dropout},
            {"embd_pdrop", c.dropout},
            {"attn_pdrop", c.dropout},
            {"initializer_range", 0.02},
            {"scale_attn_weights", true},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"torch_dtype", "float32"}};
  if (c.tokenizer == "gpt2" && c.vocab_size >= 50257) {
    j["bos_token_id"] = 50256;  // <|endoftext|>
    j["eos_token_id"] = 50256;
  }
  return j;
}

std::string pickle_refusal(const std::string& dir) {
  return dir +
         ": only pytorch_model.bin (a Python pickle) is present; pickles can run arbitrary code, so they are never "
         "loaded. Convert the folder to safetensors in Python: `from transformers import AutoModelForCausalLM; "
         "m = AutoModelForCausalLM.from_pretrained(DIR); m.save_pretrained(DIR, safe_serialization=True)`";
}

safetensors::ShardedFile open_weights(const std::string& dir) {
  const std::string single = join(dir, "model.safetensors"), index = join(dir, "model.safetensors.index.json");
  if (fs::exists(single)) return safetensors::ShardedFile::open_single(single);
  if (fs::exists(index)) return safetensors::ShardedFile::open_index(index);
  if (fs::exists(join(dir, "pytorch_model.bin")) || fs::exists(join(dir, "pytorch_model.bin.index.json")))
    throw HfError(pickle_refusal(dir));
  throw HfError(dir + ": no weights (expected model.safetensors or model.safetensors.index.json)");
}

void load_weights(GPT2Model& model, const safetensors::ShardedFile& weights) {
  // Our parameter name -> the file's name for it (prefix stripped).
  std::map<std::string, std::string> by_key;
  std::set<std::string> ignored;
  for (const std::string& name : weights.names()) {
    std::string key = name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
    if (is_buffer(key)) {
      ignored.insert(name);
      continue;
    }
    auto [it, fresh] = by_key.emplace(key, name);
    if (!fresh)
      throw HfError(weights.file_of(name) + ": tensor '" + key + "' is stored twice ('" + it->second + "' and '" +
                    name + "')");
  }
  auto where = [&](const std::string& name) { return weights.file_of(name) + ": tensor '" + name + "'"; };
  auto fetch = [&](const std::string& name) {
    const safetensors::TensorInfo& info = weights.info(name);
    if (!is_float(info.dtype))
      throw HfError(where(name) + " has dtype " + dtype_name(info.dtype) + ", expected F32, F16 or BF16");
    return weights.tensor(name);
  };

  std::set<std::string> used;
  for (auto& [pname, param] : model.named_parameters()) {
    auto it = by_key.find(pname);
    if (it == by_key.end())
      throw HfError(weights.path() + ": missing tensor '" + pname + "' (also looked for '" + kPrefix + pname + "')");
    const std::string& fname = it->second;
    Tensor src = fetch(fname);
    const bool conv = is_conv1d_weight(pname);
    const Shape want = conv ? reversed(param.shape()) : param.shape();
    if (src.shape() != want)
      throw HfError(where(fname) + " has shape " + shape_str(src.shape()) + " but the config needs " +
                    shape_str(want) + (conv ? " (Conv1D weights are stored [in, out])" : ""));
    Tensor dst = param;
    if (conv) transpose_into(dst, src);
    else ops::copy_(dst, src);
    src = Tensor();
    weights.release(fname);  // so that the file's pages and the model's do not add up
    used.insert(pname);
  }

  // A stored head next to a tied model must be the embedding itself.
  if (model.config().tie_word_embeddings && by_key.count("lm_head.weight")) {
    const std::string& fname = by_key["lm_head.weight"];
    if (!same_values(fetch(fname), fetch(by_key["wte.weight"])))
      throw HfError(where(fname) + " differs from wte.weight but config.json says tie_word_embeddings: true");
    weights.release(fname);
    weights.release(by_key["wte.weight"]);
    used.insert("lm_head.weight");
  }
  for (auto& [key, fname] : by_key)
    if (!used.count(key)) throw HfError(where(fname) + " is unexpected (not part of a GPT-2 with this config)");
}

std::unique_ptr<GPT2Model> load(const std::string& dir, ModelConfig* config_out, const MatrixStorage& matrices) {
  const std::string config_path = join(dir, "config.json");
  if (!fs::exists(config_path)) throw HfError(dir + ": missing config.json");
  ModelConfig config = read_config(config_path);
  safetensors::ShardedFile weights = open_weights(dir);  // validate files before building the model
  // Every parameter is read from the file below.
  std::unique_ptr<GPT2Model> model = GPT2Model::for_loading(config, config_path, matrices, weights.element_count());
  load_weights(*model, weights);
  if (config_out) *config_out = config;
  return model;
}

TokenizerFiles read_tokenizer_files(const std::string& dir) {
  auto pick = [&](const char* hf, const char* openai) {
    std::string p = join(dir, hf);
    if (!fs::exists(p) && fs::exists(join(dir, openai))) p = join(dir, openai);
    if (!fs::exists(p)) throw HfError(dir + ": missing " + hf + " (or " + openai + ")");
    try {
      return read_file(p);
    } catch (const IoError& e) {
      throw HfError(e.what());
    }
  };
  TokenizerFiles t;
  t.vocab_json = pick("vocab.json", "encoder.json");
  t.merges_txt = pick("merges.txt", "vocab.bpe");
  return t;
}

TokenizerFiles tokenizer_files(const GPT2Tokenizer& tokenizer) {
  // The object is written by hand: nlohmann::ordered_json finds each key by a
  // linear search, and 50257 of them took rbe-convert about a second.
  const std::vector<std::string>& tokens = tokenizer.vocab();
  std::vector<std::pair<std::string_view, size_t>> entries;  // (token, id), first appearance order
  std::unordered_map<std::string_view, size_t> slot;           // token -> its entry
  for (size_t id = 0; id < tokens.size(); ++id) {
    auto [it, fresh] = slot.emplace(tokens[id], entries.size());
    if (fresh) entries.emplace_back(tokens[id], id);
    else entries[it->second].second = id;  // a repeated token maps to its last id, as a JSON object would
  }
  TokenizerFiles files{"{", "#version: 0.2\n"};
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) files.vocab_json += ',';
    files.vocab_json += nlohmann::json(std::string(entries[i].first)).dump();  // escaped; invalid UTF-8 throws
    files.vocab_json += ':' + std::to_string(entries[i].second);
  }
  files.vocab_json += '}';
  for (const auto& [a, b] : tokenizer.merges()) files.merges_txt += a + " " + b + "\n";
  return files;
}

void save(const std::string& dir, const GPT2Model& model, const TokenizerFiles* tokenizer, uint64_t max_shard_bytes,
          DType dtype) {
  const ModelConfig& c = model.config();
  if (!c.pre_ln) throw HfError(dir + ": post-LN models cannot be written as HuggingFace GPT-2 (it is pre-LN only)");
  if (!is_float(dtype)) throw HfError(dir + ": weights can be written as F32, F16 or BF16, not " + dtype_name(dtype));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw HfError(dir + ": cannot create folder: " + ec.message());

  // Views of the parameters (Conv1D weights transposed in place, not copied):
  // the writer converts and copies one tensor at a time.
  const std::string prefix = c.tie_word_embeddings ? "" : kPrefix;
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, p] : model.named_parameters()) {
    if (name == "lm_head.weight") tensors.emplace_back(name, p);
    else if (is_conv1d_weight(name)) tensors.emplace_back(prefix + name, ops::transpose(p, 0, 1));
    else tensors.emplace_back(prefix + name, p);
  }
  const safetensors::Metadata meta = {{"format", "pt"}};  // transformers requires it
  if (max_shard_bytes > 0) {
    std::error_code rm;
    fs::remove(join(dir, "model.safetensors"), rm);  // it would shadow the index
    safetensors::save_sharded(dir, "model", tensors, max_shard_bytes, meta, dtype);
  } else {
    safetensors::save(join(dir, "model.safetensors"), tensors, meta, dtype);
  }
  write_file_atomic(join(dir, "config.json"), config_to_json(c).dump(2) + "\n");
  if (tokenizer) {
    write_file_atomic(join(dir, "vocab.json"), tokenizer->vocab_json);
    write_file_atomic(join(dir, "merges.txt"), tokenizer->merges_txt);
  }
}

}  // namespace rbe::hf
