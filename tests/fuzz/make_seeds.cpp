// Writes the seed inputs of the fuzz targets into a folder: a small checkpoint
// (config.json, model.safetensors, tokenizer.json), safetensors files in every
// dtype, a GGUF file with each kind of metadata and tensor type, and .rbe
// files in the codecs and storages a user can choose, and a tiny GPT-2 as
// GGUF F16 and Q8_0 with a byte-level BPE vocabulary, whose vocab.json and
// merges.txt also seed the tokenizer target, and the same GPT-2 as a sharded
// HF folder; texts for the encoder. Usage: make_seeds DIR
#include <cstdio>
#include <iterator>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "codec/codec.h"
#include "codec/model_codec.h"
#include "codec/rbe_file.h"
#include "codec/settings_spec.h"
#include "io/checkpoint.h"
#include "io/gguf_export.h"
#include "io/gguf.h"
#include "io/gguf_blocks.h"
#include "io/hf_gpt2.h"
#include "io/safetensors.h"
#include "models/char_tokenizer.h"
#include "models/gpt2_tokenizer.h"
#include "tensor/atomic_file.h"

using namespace rbe;
namespace fs = std::filesystem;

namespace {

ModelConfig tiny_config() {
  ModelConfig c = ModelConfig::preset("mini");
  c.n_layer = 1;
  c.n_embd = 32;
  c.n_head = 2;
  c.n_positions = 16;
  c.vocab_size = 24;
  c.tokenizer = "char";
  return c;
}

LoadedModel tiny_model() {
  const ModelConfig c = tiny_config();
  LoadedModel m;
  m.config = c;
  m.model = std::make_unique<GPT2Model>(c, 7);
  m.model->eval();
  m.tokenizer = std::make_unique<CharTokenizer>(CharTokenizer::from_text("abcdefghijklmnopqrstuvw "));
  m.format = "seed";
  return m;
}

void write_gguf(const std::string& path) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("gpt2"));
  w.set("seed.u32", gguf::Value::u32(7));
  w.set("seed.i32", gguf::Value::i32(-7));
  w.set("seed.u64", gguf::Value::u64(1ull << 40));
  w.set("seed.f32", gguf::Value::f32(0.5f));
  w.set("seed.bool", gguf::Value::boolean(true));
  w.set("seed.strings", gguf::Value::string_array({"a", "bc", ""}));
  w.set("seed.ints", gguf::Value::int_array(gguf::ValueType::I32, {1, -2, 3}));
  w.set("seed.floats", gguf::Value::float_array(gguf::ValueType::F32, {0.25, -1.0}));
  Tensor t = Tensor::zeros({2, 64});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.05f * float(i % 17) - 0.4f;
  w.add_tensor("t.f32", t, gguf::GgmlType::F32);
  w.add_tensor("t.f16", t, gguf::GgmlType::F16);
  // Quantized blocks by hand (the quantizers live in codec/): scale 1.0 (f16
  // 0x3c00), then the codes.
  for (auto type : {gguf::GgmlType::Q8_0, gguf::GgmlType::Q4_0})
    w.add_tensor_bytes(std::string("t.") + gguf::ggml_type_name(type), {2, 64}, type, [type] {
      std::vector<uint8_t> b(size_t(gguf::type_bytes(type, 2 * 64)));
      for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i * 37 + 11);
      for (size_t at = 0; at < b.size(); at += size_t(gguf::block_bytes(type))) b[at] = 0x00, b[at + 1] = 0x3c;
      return b;
    });
  w.write(path);
}

// A byte-level BPE vocabulary of the 256 byte symbols, one merge ("Ġ t")
// and <|endoftext|>, the smallest tokenizer a GGUF export takes: vocab.json
// and merges.txt.
std::pair<std::string, std::string> tiny_bpe_files() {
  nlohmann::json vocab = nlohmann::json::object();
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) s += char(cp);
    else s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));  // the alphabet stays below U+0800
    return s;
  };
  for (int b = 0; b < 256; ++b) vocab[utf8(GPT2Tokenizer::byte_to_unicode(uint8_t(b)))] = b;
  vocab[utf8(GPT2Tokenizer::byte_to_unicode(' ')) + "t"] = 256;
  vocab[std::string(GPT2Tokenizer::kEndOfText)] = 257;
  return {vocab.dump(), "#version: 0.2\n" + utf8(GPT2Tokenizer::byte_to_unicode(' ')) + " t\n"};
}

GPT2Tokenizer tiny_bpe() {
  const auto [vocab, merges] = tiny_bpe_files();
  return GPT2Tokenizer::from_strings(vocab, merges);
}

// The tiny model with that vocabulary.
GPT2Model tiny_bpe_model() {
  ModelConfig c = tiny_config();
  c.tokenizer = "gpt2";
  c.vocab_size = 258;
  return GPT2Model(c, 11);
}

// As GGUF F16 and Q8_0 (what llama.cpp reads).
void write_gguf_models(const std::string& dir) {
  const GPT2Model model = tiny_bpe_model();
  const GPT2Tokenizer tok = tiny_bpe();
  GgufExportOptions f16;
  f16.dtype = DType::F16;
  export_gguf(dir + "/f16.gguf", model, &tok, f16);
  GgufExportOptions q8;
  q8.quant = gguf::GgmlType::Q8_0;
  q8.quantize = [](const std::string&, const Tensor& W, gguf::GgmlType) {
    codec::CodecSettings s;
    s.codec = "q8_0";
    const codec::EncodedTensor e = codec::encode(W, s);
    return std::vector<uint8_t>(e.data, e.data + e.size);
  };
  export_gguf(dir + "/q8_0.gguf", model, &tok, q8);
}

// As an HF folder in shards of at most 8 KB (fuzz_sharded's model, with its
// index as the seed), and the tokenizer files alone (fuzz_encode's tokenizer
// when ../shared is absent), with a few texts to encode.
void write_hf_sharded(const std::string& dir) {
  const auto [vocab, merges] = tiny_bpe_files();
  const hf::TokenizerFiles files{vocab, merges};
  hf::save(dir + "/hf_sharded", tiny_bpe_model(), &files, 8 << 10);
  fs::copy_file(dir + "/hf_sharded/model.safetensors.index.json", dir + "/sharded/index.json",
                fs::copy_options::overwrite_existing);
  fs::create_directories(dir + "/tiny_tokenizer");
  write_file_atomic(dir + "/tiny_tokenizer/vocab.json", vocab);
  write_file_atomic(dir + "/tiny_tokenizer/merges.txt", merges);
  const char* texts[] = {"Hello world, it's 2026!", "  two  spaces\n\n\tand tabs ",
                         "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82", "a<|endoftext|>b",
                         "bad \xff\xfe utf-8 \xc3", "I'll we've they'd 'S 123456789"};
  for (size_t i = 0; i < std::size(texts); ++i)
    write_file_atomic(dir + "/encode/" + std::to_string(i) + ".txt", texts[i]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  for (const char* sub : {"safetensors", "gguf", "gguf_model", "rbe", "config", "model", "tokenizer", "sharded", "encode"}) fs::create_directories(dir + "/" + sub);
  LoadedModel m = tiny_model();
  const auto* tok = static_cast<const CharTokenizer*>(m.tokenizer.get());

  ckpt::save(dir + "/model", *m.model, tok);
  fs::copy_file(dir + "/model/config.json", dir + "/config/config.json", fs::copy_options::overwrite_existing);

  Tensor a = Tensor::zeros({3, 5});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = float(i) - 7.f;
  for (auto [name, dt] : {std::pair{"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}})
    safetensors::save(dir + "/safetensors/" + name + ".safetensors", {{"a", a}, {"b.weight", a}},
                      {{"format", "pt"}}, dt);
  fs::copy_file(dir + "/model/model.safetensors", dir + "/safetensors/model.safetensors",
                fs::copy_options::overwrite_existing);

  write_gguf(dir + "/gguf/tiny.gguf");
  write_gguf_models(dir + "/gguf_model");
  write_hf_sharded(dir);
  {
    const auto [vocab, merges] = tiny_bpe_files();
    write_file_atomic(dir + "/tokenizer/tiny.bin", vocab + std::string(1, '\0') + merges);  // fuzz_tokenizer's split
  }

  const char* forms[][2] = {{"rbe_fixed", "codec:rbe,bpw:4"},
                            {"rbe_entropy", "codec:rbe,storage:entropy,bpw:4,block-size:16"},
                            {"q8_0", "codec:q8_0"},
                            {"q4_0", "codec:q4_0"},
                            {"f16", "codec:f16"}};
  for (const auto& [name, spec] : forms) {
    codec::ModelCodecOptions o;
    o.overrides.push_back(codec::parse_override(std::string("*=") + spec, o.defaults));
    codec::write_rbe_file(dir + "/rbe/" + name + ".rbe", codec::compress_model(m, o));
  }
  std::printf("seeds written to %s\n", dir.c_str());
  return 0;
}
