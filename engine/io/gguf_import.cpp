#include "io/gguf_import.h"

#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "io/gguf_blocks.h"
#include "io/gguf_export.h"
#include "nn/layers.h"
#include "tensor/ops.h"

namespace rbe {

namespace {

const std::vector<std::string>& string_array(const gguf::File& f, const std::string& key) {
  const gguf::Value& v = f.get(key);
  if (v.type != gguf::ValueType::Array || v.array_type != gguf::ValueType::String)
    throw gguf::FormatError(f.path() + ": metadata '" + key + "' must be an array of strings");
  return v.strings;
}

// vocab.json and merges.txt contents from the GGUF tokenizer metadata.
std::unique_ptr<GPT2Tokenizer> read_tokenizer(const gguf::File& f, int64_t vocab_size) {
  auto fail = [&](const std::string& msg) { return gguf::FormatError(f.path() + ": " + msg); };
  const std::string& model = f.get_string("tokenizer.ggml.model");
  if (model != "gpt2") throw fail("tokenizer.ggml.model '" + model + "' is not supported (only gpt2 byte-level BPE)");
  const auto& tokens = string_array(f, "tokenizer.ggml.tokens");
  if (int64_t(tokens.size()) != vocab_size)
    throw fail("tokenizer.ggml.tokens has " + std::to_string(tokens.size()) + " entries but token_embd.weight has " +
               std::to_string(vocab_size) + " rows");
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t id = 0; id < tokens.size(); ++id) vocab[tokens[id]] = id;
  std::string vocab_json;
  try {
    vocab_json = vocab.dump();
  } catch (const nlohmann::json::exception&) {
    throw fail("tokenizer.ggml.tokens contains a token that is not valid UTF-8");
  }
  std::string merges_txt = "#version: 0.2\n";
  for (auto& m : string_array(f, "tokenizer.ggml.merges")) merges_txt += m + "\n";
  try {
    return std::make_unique<GPT2Tokenizer>(GPT2Tokenizer::from_strings(vocab_json, merges_txt));
  } catch (const TokenizerError& e) {
    throw fail(std::string("tokenizer metadata: ") + e.what());
  }
}

// Tied when output.weight holds what token_embd.weight holds (the same bytes
// when both have the same type, else the same values).
bool same_tensor(const gguf::File& f, const std::string& a, const std::string& b) {
  const gguf::TensorInfo &ia = f.info(a), &ib = f.info(b);
  if (ia.dims != ib.dims) return false;
  if (ia.type == ib.type) {
    const gguf::TensorBytes x = f.bytes(a), y = f.bytes(b);
    return x.size == y.size && std::memcmp(x.data, y.data, size_t(x.size)) == 0;
  }
  return f.tensor(a).to_vector() == f.tensor(b).to_vector();
}

// A corrupt scale would turn whole rows into inf / NaN: refuse the file.
void check_scales(const gguf::File& f, const gguf::TensorInfo& t) {
  const gguf::TensorBytes b = f.bytes(t.name);
  int64_t numel = 1;
  for (int64_t d : t.dims) numel *= d;
  const int64_t bad = gguf::first_bad_scale(t.type, b.data, numel);
  if (bad >= 0)
    throw gguf::FormatError(f.path() + ": tensor '" + t.name + "': " + gguf::ggml_type_name(t.type) + " block " +
                            std::to_string(bad) + " has a non-finite scale (corrupt data)");
}

}  // namespace

GgufModel import_gguf(const std::string& path, const GgufImportOptions& options) {
  gguf::File f = gguf::File::open(path);
  auto fail = [&](const std::string& msg) { return gguf::FormatError(path + ": " + msg); };
  const std::string& arch = f.get_string("general.architecture");
  if (arch != "gpt2") throw fail("architecture '" + arch + "' is not supported (only gpt2)");

  GgufModel out;
  ModelConfig& c = out.config;
  c.model_type = "gpt2";
  c.tokenizer = "gpt2";
  c.activation_function = "gelu_new";
  c.n_embd = f.get_int("gpt2.embedding_length");
  c.n_layer = f.get_int("gpt2.block_count");
  c.n_head = f.get_int("gpt2.attention.head_count");
  c.n_positions = f.get_int("gpt2.context_length");
  c.layer_norm_epsilon = float(f.get_float("gpt2.attention.layer_norm_epsilon"));
  if (f.find("gpt2.feed_forward_length") && f.get_int("gpt2.feed_forward_length") != 4 * c.n_embd)
    throw fail("gpt2.feed_forward_length " + std::to_string(f.get_int("gpt2.feed_forward_length")) +
               " is not supported (only 4 * embedding_length)");
  const gguf::TensorInfo& embd = f.info("token_embd.weight");
  if (embd.dims.size() != 2) throw fail("tensor 'token_embd.weight' must have 2 dimensions");
  c.vocab_size = embd.dims[1];
  c.tie_word_embeddings = !f.contains("output.weight") || same_tensor(f, "output.weight", "token_embd.weight");
  if (f.contains("output.weight")) {  // same_tensor read both whole: their pages go until the model needs them
    f.release("output.weight");
    f.release("token_embd.weight");
  }
  try {
    c.validate();
  } catch (const ConfigError& e) {
    throw fail(std::string("hyper-parameters: ") + e.what());
  }

  try {
    double stored = 0;
    for (const gguf::TensorInfo& t : f.tensors()) stored += double(shape_numel(t.dims));
    out.model = GPT2Model::for_loading(c, "hyper-parameters", {}, stored);  // every parameter is read from the file below
  } catch (const ConfigError& e) {
    throw fail(e.what());
  }
  std::map<std::string, nn::Module*> packable;  // parameter name -> Linear or the token embedding
  for (auto& [name, m] : out.model->named_modules())
    if (dynamic_cast<nn::Linear*>(m.get()) || (name == "wte" && dynamic_cast<nn::Embedding*>(m.get())))
      packable[name + ".weight"] = m.get();
  // First the packed layers, so that the cast below leaves their dense
  // weights (never read) uninitialised; then the dense parameters, converted
  // straight from the file's dtype to theirs, with no f32 copy of an f16 file.
  std::set<std::string> used;
  std::vector<std::pair<Tensor, std::string>> dense;  // parameter, GGUF tensor
  for (auto& [name, p] : out.model->named_parameters()) {
    const std::string g = gguf_tensor_name(name);
    const gguf::TensorInfo& info = f.info(g);
    if (info.shape() != p.shape())
      throw fail("tensor '" + g + "' has shape " + shape_str(info.shape()) + ", expected " + shape_str(p.shape()));
    used.insert(g);
    if (gguf::is_quantized(info.type)) {
      check_scales(f, info);
      auto it = packable.find(name);
      if (options.pack && it != packable.end()) {
        const gguf::TensorBytes b = f.bytes(g);
        GgufQuantizedMatrix q{name, info.type, p.size(0), p.size(1), b.data, b.size, f.keepalive()};
        std::shared_ptr<const nn::PackedMatrix> packed = options.pack(q);
        if (!packed || packed->rows() != q.rows || packed->cols() != q.cols)
          throw fail("tensor '" + g + "': the packed matrix made from it does not have its shape");
        if (auto* lin = dynamic_cast<nn::Linear*>(it->second)) lin->set_packed(std::move(packed));
        else dynamic_cast<nn::Embedding*>(it->second)->set_packed(std::move(packed));
        continue;
      }
    }
    dense.emplace_back(p, g);
  }
  if (options.matrices.dtype != DType::F32)
    out.model->cast_matrices(options.matrices, nn::Module::CastValues::Uninitialised);  // each is filled below
  for (auto& [p, g] : dense) {
    Tensor dst = p;  // the cast above replaced the storage behind this handle
    ops::copy_(dst, f.tensor(g));  // converts from the file's dtype (Q8_0 / Q4_0: decoded)
    f.release(g);                  // so that the file's pages and the model's do not add up
  }
  if (c.tie_word_embeddings) used.insert("output.weight");
  for (auto& t : f.tensors())
    if (!used.count(t.name)) throw fail("unexpected tensor '" + t.name + "' for a gpt2 model");
  out.model->eval();
  out.tokenizer = read_tokenizer(f, c.vocab_size);
  return out;
}

}  // namespace rbe
