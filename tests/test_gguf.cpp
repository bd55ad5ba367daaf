// GGUF writer, reader and GPT-2 export. The reader is checked against files
// assembled byte by byte here (independent of the writer), the writer against
// the same bytes, and the export by reading every tensor and the tokenizer back.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "tensor/atomic_file.h"
#include "autodiff/node.h"
#include "gguf_test_util.h"
#include "io/gguf.h"
#include "io/gguf_export.h"
#include "io/gguf_import.h"
#include "io/hf_gpt2.h"
#include "io/model_loader.h"
#include "models/char_tokenizer.h"
#include "models/gpt2.h"
#include "models/gpt2_tokenizer.h"
#include "tensor/random.h"

using namespace rbe;
namespace fs = std::filesystem;

namespace {

using testing_gguf::Bytes;

// A file with two metadata keys and one F32 tensor "t" of shape [2, 3]
// (dims {3, 2}) at offset 0, followed by its data 0..5.
Bytes small_file() {
  Bytes x;
  x.raw("GGUF", 4).u32(3).u64(1).u64(2);
  x.str("general.architecture").u32(8).str("gpt2");
  x.str("a.list").u32(9).u32(5).u64(3).u32(uint32_t(-1)).u32(0).u32(7);
  x.str("t").u32(2).u64(3).u64(2).u32(0).u64(0);
  x.pad(32);
  for (int i = 0; i < 6; ++i) x.f32(float(i));
  x.pad(32);  // every tensor's data is padded, the last one too (as ggml writes)
  return x;
}

class GgufTest : public testing_gguf::GgufFileTest {};

}  // namespace

TEST_F(GgufTest, ReadsHandAssembledFile) {
  gguf::File f = gguf::File::open(put("small.gguf", small_file().b));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.get_string("general.architecture"), "gpt2");
  const gguf::Value& list = f.get("a.list");
  EXPECT_EQ(list.type, gguf::ValueType::Array);
  EXPECT_EQ(list.array_type, gguf::ValueType::I32);
  EXPECT_EQ(list.ints, (std::vector<int64_t>{-1, 0, 7}));
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.info("t").dims, (Shape{3, 2}));
  Tensor t = f.tensor("t");
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(t.at({1, 0}), 3.f);  // row-major: ggml's ne[0] = 3 is the fast axis
  EXPECT_THROW(f.get_int("general.architecture"), gguf::FormatError);
  EXPECT_THROW(f.get("missing"), gguf::FormatError);
  EXPECT_THROW(f.tensor("missing"), gguf::FormatError);
}

TEST_F(GgufTest, WriterProducesTheSameBytes) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("gpt2"));
  w.set("a.list", gguf::Value::int_array(gguf::ValueType::I32, {-1, 0, 7}));
  w.add_tensor("t", Tensor::arange(0, 6).as_strided({2, 3}, {3, 1}, 0), gguf::GgmlType::F32);
  w.write(path("w.gguf"));
  EXPECT_EQ(read_file(path("w.gguf")), small_file().b);
  EXPECT_THROW(w.set("a.list", gguf::Value::u32(1)), gguf::FormatError);
  EXPECT_THROW(w.add_tensor("t", Tensor::zeros({1}), gguf::GgmlType::F32), gguf::FormatError);
  EXPECT_THROW(w.add_tensor(std::string(64, 'x'), Tensor::zeros({1}), gguf::GgmlType::F32), gguf::FormatError);
  EXPECT_THROW(w.add_tensor("5d", Tensor::zeros({1, 1, 1, 1, 1}), gguf::GgmlType::F32), gguf::FormatError);
}

TEST_F(GgufTest, RoundTripsEveryValueTypeAndTensorType) {
  gguf::Writer w(64);
  using VT = gguf::ValueType;
  w.set("u8", gguf::Value::int_array(VT::U8, {0, 255}));
  w.set("i8", gguf::Value::int_array(VT::I8, {-128, 127}));
  w.set("u16", gguf::Value::int_array(VT::U16, {65535}));
  w.set("i16", gguf::Value::int_array(VT::I16, {-32768}));
  w.set("u64", gguf::Value::u64(~0ull));
  w.set("i64", gguf::Value::int_array(VT::I64, {INT64_MIN, INT64_MAX}));
  w.set("f32", gguf::Value::f32(1.5e-5f));
  w.set("f64", gguf::Value::float_array(VT::F64, {0.1, -2.0}));
  w.set("bool", gguf::Value::boolean(true));
  w.set("bools", gguf::Value::int_array(VT::Bool, {1, 0}));
  w.set("strs", gguf::Value::string_array({"", "a b", std::string("\0x\xff", 3)}));
  w.set("empty", gguf::Value::string_array({}));
  Tensor a = Tensor::randn({5, 7, 3}, 1), b = Tensor::randn({33}, 2);
  w.add_tensor("a", a, gguf::GgmlType::F16);
  w.add_tensor("b", b, gguf::GgmlType::F32);
  w.write(path("r.gguf"));

  gguf::File f = gguf::File::open(path("r.gguf"));
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.get("u8").ints, (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(f.get("i8").ints, (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(f.get("u16").ints, (std::vector<int64_t>{65535}));
  EXPECT_EQ(f.get("i16").ints, (std::vector<int64_t>{-32768}));
  EXPECT_EQ(uint64_t(f.get_int("u64")), ~0ull);
  EXPECT_EQ(f.get("i64").ints, (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  EXPECT_EQ(float(f.get_float("f32")), 1.5e-5f);
  EXPECT_EQ(f.get("f64").floats, (std::vector<double>{0.1, -2.0}));
  EXPECT_EQ(f.get("bool").i, 1);
  EXPECT_EQ(f.get("bools").ints, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(f.get("strs").strings, (std::vector<std::string>{"", "a b", std::string("\0x\xff", 3)}));
  EXPECT_EQ(f.get("empty").array_size(), 0u);

  Tensor ra = f.tensor("a"), rb = f.tensor("b");
  EXPECT_EQ(ra.dtype(), DType::F16);
  EXPECT_EQ(ra.shape(), (Shape{5, 7, 3}));
  EXPECT_EQ(f.info("a").dims, (Shape{3, 7, 5}));
  EXPECT_EQ(f.info("b").offset % 64, 0u);
  std::vector<float> av = a.to_vector(), rav = ra.to_vector();
  for (size_t i = 0; i < av.size(); ++i) EXPECT_EQ(rav[i], f16_to_f32(f32_to_f16(av[i]))) << i;
  EXPECT_EQ(rb.to_vector(), b.to_vector());
}

TEST_F(GgufTest, CorruptFilesGiveClearErrors) {
  const std::string good = small_file().b;
  expect_error("GGUF", {"too small"});
  expect_error("GGML" + good.substr(4), {"bad magic"});
  {
    std::string s = good;
    s[4] = 1;  // version 1
    expect_error(s, {"version 1"});
  }
  expect_error(good.substr(0, 60), {"truncated"});
  expect_error(good.substr(0, good.size() - 12), {"tensor 't'", "outside the data section"});
  // A bogus tensor count, metadata count, string length or array length never allocates.
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(1ull << 60).u64(0).pad(32).b, {"tensor count", "impossible"});
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1ull << 62).b + std::string(16, '\0'), {"metadata count"});
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).u64(1ull << 50).b + std::string(16, '\0'), {"truncated", "string of"});
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("k").u32(9).u32(8).u64(1ull << 61).b, {"'k'", "array length"});
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("k").u32(9).u32(9).u64(1).b + std::string(8, '\0'), {"arrays of arrays"});
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("k").u32(13).u32(0).b, {"'k'", "unknown value type 13"});
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(0).u64(2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).b, {"duplicate metadata key 'k'"});
  expect_error(Bytes().raw("GGUF", 4).u32(3).u64(0).u64(1).str("general.alignment").u32(4).u32(48).b, {"general.alignment", "power of two"});
  auto tensor_file = [](uint32_t n_dims, uint64_t ne0, uint32_t type, uint64_t offset, bool two = false) {
    Bytes x;
    x.raw("GGUF", 4).u32(3).u64(two ? 2 : 1).u64(0);
    x.str("t").u32(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) x.u64(d == 0 ? ne0 : 1);
    x.u32(type).u64(offset);
    if (two) x.str("u").u32(1).u64(16).u32(0).u64(32);
    x.pad(32);
    x.b += std::string(128, '\0');
    return x.b;
  };
  EXPECT_NO_THROW(gguf::File::open(put("ok.gguf", tensor_file(1, 8, 0, 0))));
  expect_error(tensor_file(5, 8, 0, 0), {"tensor 't'", "5 dimensions"});
  expect_error(tensor_file(1, 0, 0, 0), {"tensor 't'", "dimension 0 is 0"});
  expect_error(tensor_file(1, 8, 3, 0), {"tensor 't'", "ggml type 3 is not supported"});
  expect_error(tensor_file(1, 8, 0, 16), {"tensor 't'", "not a multiple of the alignment"});
  expect_error(tensor_file(1, 8, 0, 1ull << 40), {"tensor 't'", "outside the data section"});
  expect_error(tensor_file(1, 1ull << 40, 0, 0), {"tensor 't'", "dimension 0"});
  expect_error(tensor_file(1, 16, 0, 0, true), {"'t' and 'u' overlap"});
}

namespace {

std::string gpt2_data(const std::string& file) { return std::string(RBE_SHARED_DIR) + "/data/gpt2/" + file; }

ModelConfig tiny_gpt2(bool tied) {
  ModelConfig c;
  c.vocab_size = 50257;
  c.n_positions = 16;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.tie_word_embeddings = tied;
  return c;
}

// Checks that every parameter of model is in f under its GGUF name with the
// reversed shape and the same values (exact for F32, f16-rounded for F16).
void expect_weights(const gguf::File& f, const GPT2Model& model, bool f16) {
  size_t expected = 0;
  for (auto& [name, t] : model.named_parameters()) {
    const std::string g = gguf_tensor_name(name);
    ASSERT_TRUE(f.contains(g)) << g;
    ++expected;
    const gguf::TensorInfo& info = f.info(g);
    EXPECT_EQ(info.dims, Shape(t.shape().rbegin(), t.shape().rend())) << g;
    const bool half = f16 && t.dim() == 2 && g != "position_embd.weight";
    EXPECT_EQ(info.type, half ? gguf::GgmlType::F16 : gguf::GgmlType::F32) << g;
    std::vector<float> want = t.to_vector(), got = f.tensor(g).to_vector();
    ASSERT_EQ(want.size(), got.size()) << g;
    size_t bad = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const float w = half ? f16_to_f32(f32_to_f16(want[i])) : want[i];
      if (got[i] != w || (half && std::fabs(got[i] - want[i]) > std::fabs(want[i]) * 0x1p-11f + 1e-7f)) ++bad;
    }
    EXPECT_EQ(bad, 0u) << g;
  }
  if (model.config().tie_word_embeddings) {
    EXPECT_EQ(f.tensor("output.weight").to_vector(), f.tensor("token_embd.weight").to_vector());
    ++expected;
  }
  EXPECT_EQ(f.tensors().size(), expected);
}

}  // namespace

TEST_F(GgufTest, ExportsGpt2WithTokenizer) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe"));
  for (bool tied : {true, false}) {
    for (DType dtype : {DType::F32, DType::F16}) {
      SCOPED_TRACE(std::string(tied ? "tied " : "untied ") + dtype_name(dtype));
      GPT2Model model(tiny_gpt2(tied), 5);
      const std::string p = path("m.gguf");
      GgufExportOptions opt;
      opt.dtype = dtype;
      opt.name = "tiny";
      GgufExportReport r = export_gguf(p, model, &tok, opt);
      EXPECT_EQ(r.file_bytes, fs::file_size(p));
      EXPECT_TRUE(r.warnings.empty());
      gguf::File f = gguf::File::open(p);
      EXPECT_EQ(r.tensors, f.tensors().size());
      expect_weights(f, model, dtype == DType::F16);

      EXPECT_EQ(f.get_string("general.architecture"), "gpt2");
      EXPECT_EQ(f.get_string("general.name"), "tiny");
      EXPECT_EQ(f.get_int("general.file_type"), dtype == DType::F16 ? 1 : 0);
      EXPECT_EQ(f.get_int("gpt2.context_length"), 16);
      EXPECT_EQ(f.get_int("gpt2.embedding_length"), 16);
      EXPECT_EQ(f.get_int("gpt2.feed_forward_length"), 64);
      EXPECT_EQ(f.get_int("gpt2.block_count"), 2);
      EXPECT_EQ(f.get_int("gpt2.attention.head_count"), 2);
      EXPECT_EQ(f.get("gpt2.context_length").type, gguf::ValueType::U32);  // llama.cpp checks the type
      EXPECT_FLOAT_EQ(float(f.get_float("gpt2.attention.layer_norm_epsilon")), 1e-5f);
      EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
      EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "gpt-2");
      EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 50256);
      EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), 50256);

      // Tokens and merges as in the original files.
      const auto& tokens = f.get("tokenizer.ggml.tokens").strings;
      ASSERT_EQ(tokens.size(), 50257u);
      EXPECT_EQ(tokens[0], "!");
      EXPECT_EQ(tokens[262], "\xC4\xA0the");  // "Ġthe"
      EXPECT_EQ(tokens[50256], "<|endoftext|>");
      EXPECT_EQ(tokens, tok.vocab());
      const auto& types = f.get("tokenizer.ggml.token_type").ints;
      ASSERT_EQ(types.size(), 50257u);
      EXPECT_EQ(types[50256], 3);
      EXPECT_EQ(std::count(types.begin(), types.end(), 1), 50256);
      const auto& merges = f.get("tokenizer.ggml.merges").strings;
      ASSERT_EQ(merges.size(), 50000u);
      std::ifstream in(gpt2_data("vocab.bpe"));
      std::string line;
      std::getline(in, line);  // "#version: 0.2"
      for (size_t i = 0; i < merges.size() && std::getline(in, line); ++i) ASSERT_EQ(merges[i], line) << i;
      // A GPT2Tokenizer rebuilt from the GGUF encodes like the original.
      std::string vocab_json = "{";
      for (size_t i = 0; i < tokens.size(); ++i) {
        std::string esc;
        for (char ch : tokens[i]) {
          if (ch == '"' || ch == '\\') esc += '\\';
          esc += ch;
        }
        vocab_json += (i ? ",\"" : "\"") + esc + "\":" + std::to_string(i);
      }
      vocab_json += "}";
      std::string merges_txt = "#version: 0.2\n";
      for (auto& m : merges) merges_txt += m + "\n";
      GPT2Tokenizer back = GPT2Tokenizer::from_strings(vocab_json, merges_txt);
      const std::string text = "Hello, world! It's GGUF's turn:\n  ümlauts 123<|endoftext|>";
      EXPECT_EQ(back.encode(text), tok.encode(text));
      if (!tied) break;  // the untied case needs only one dtype
    }
  }
}

// Export then import: the same hyper-parameters, weights, tokenizer and logits.
TEST_F(GgufTest, ImportsWhatItExports) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe"));
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    ModelConfig c = tiny_gpt2(tied);
    c.layer_norm_epsilon = 1e-6f;
    GPT2Model model(c, 9);
    model.eval();
    export_gguf(path("m.gguf"), model, &tok);
    GgufModel back = import_gguf(path("m.gguf"));
    EXPECT_EQ(back.config.to_json(), c.to_json());
    auto a = model.named_parameters(), b = back.model->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_EQ(a[i].second.to_vector(), b[i].second.to_vector()) << a[i].first;
    }
    EXPECT_EQ(back.tokenizer->vocab(), tok.vocab());
    EXPECT_EQ(back.tokenizer->merges(), tok.merges());
    std::vector<int32_t> ids = tok.encode("GGUF round trip, twice.");
    Tensor x = Tensor::from_vector(ids, {1, int64_t(ids.size())});
    EXPECT_EQ(model.forward(x).to_vector(), back.model->forward(x).to_vector());
  }
  // Files that are not our GPT-2: clear errors naming the file and key or tensor.
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.write(path("llama.gguf"));
  try {
    import_gguf(path("llama.gguf"));
    ADD_FAILURE();
  } catch (const gguf::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("architecture 'llama'"), std::string::npos) << e.what();
  }
  gguf::Writer v;
  v.set("general.architecture", gguf::Value::string("gpt2"));
  v.write(path("empty.gguf"));
  try {
    import_gguf(path("empty.gguf"));
    ADD_FAILURE();
  } catch (const gguf::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("gpt2.embedding_length' is missing"), std::string::npos) << e.what();
  }
}

// Imported for f16 inference: the matrices go straight from the file's dtype
// to f16, with the values and storage that the f32 import cast afterwards has.
TEST_F(GgufTest, ImportsStraightToF16) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe"));
  for (bool tied : {true, false}) {
    for (DType file : {DType::F32, DType::F16}) {
      SCOPED_TRACE(std::string(tied ? "tied " : "untied ") + dtype_name(file));
      GPT2Model model(tiny_gpt2(tied), 13);
      model.eval();
      GgufExportOptions opt;
      opt.dtype = file;
      export_gguf(path("m.gguf"), model, &tok, opt);
      GgufModel cast = import_gguf(path("m.gguf"));
      cast.model->cast_matrices(DType::F16);
      GgufImportOptions f16;
      f16.matrices = DType::F16;
      GgufModel direct = import_gguf(path("m.gguf"), f16);
      auto a = cast.model->named_parameters(), b = direct.model->named_parameters();
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(b[i].second.dtype(), a[i].second.dim() >= 2 ? DType::F16 : DType::F32) << b[i].first;
        EXPECT_EQ(b[i].second.dtype(), a[i].second.dtype()) << b[i].first;
        EXPECT_EQ(a[i].second.to_vector(), b[i].second.to_vector()) << a[i].first;
      }
      NoGradGuard no_grad;
      std::vector<int32_t> ids = tok.encode("Straight to half precision.");
      Tensor x = Tensor::from_vector(ids, {1, int64_t(ids.size())});
      EXPECT_EQ(cast.model->forward(x).to_vector(), direct.model->forward(x).to_vector());
    }
  }
}

// rbe-convert --to gguf --dtype f16 reads the model with f16 matrices but
// the ones an F16 GGUF keeps f32 (gguf_f32_matrices: the position table).
// From an HF folder and from an F32 GGUF, the file written is byte for byte
// the one the f32 model writes; with nothing kept f32 it would not be.
TEST_F(GgufTest, ModelReadForAnF16ExportWritesTheSameFile) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe"));
  GgufExportOptions f16;
  f16.dtype = DType::F16;
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    GPT2Model model(tiny_gpt2(tied), 21);
    model.eval();
    export_gguf(path("want.gguf"), model, &tok, f16);
    const std::string want = read_file(path("want.gguf"));

    export_gguf(path("f32.gguf"), model, &tok);
    const hf::TokenizerFiles files = hf::tokenizer_files(tok);
    hf::save(path("hf"), model, &files);
    const MatrixStorage storage(DType::F16, gguf_f32_matrices());
    GgufImportOptions opt;
    opt.matrices = storage;
    GgufModel from_gguf = import_gguf(path("f32.gguf"), opt);
    LoadedModel from_hf = load_model(path("hf"), storage);
    for (GPT2Model* m : {from_gguf.model.get(), from_hf.model.get()}) {
      for (auto& [name, t] : m->named_parameters())
        EXPECT_EQ(t.dtype(), t.dim() >= 2 && name != "wpe.weight" ? DType::F16 : DType::F32) << name;
      export_gguf(path("got.gguf"), *m, &tok, f16);
      EXPECT_TRUE(read_file(path("got.gguf")) == want);
    }
    GgufModel all_f16 = import_gguf(path("f32.gguf"), {nullptr, DType::F16});
    export_gguf(path("rounded.gguf"), *all_f16.model, &tok, f16);
    EXPECT_FALSE(read_file(path("rounded.gguf")) == want);  // the position table rounded to f16
  }
}

TEST_F(GgufTest, RefusesModelsLlamaCppCannotRun) {
  ModelConfig c = tiny_gpt2(true);
  c.vocab_size = 3;
  c.tokenizer = "char";
  GPT2Model model(c);
  try {
    export_gguf(path("x.gguf"), model, nullptr);
    ADD_FAILURE();
  } catch (const GgufExportError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path("x.gguf")));
  c.pre_ln = false;
  GPT2Model post(c);
  EXPECT_THROW(export_gguf(path("x.gguf"), post, nullptr), GgufExportError);
  c.pre_ln = true;
  c.activation_function = "relu";
  GPT2Model relu(c);
  EXPECT_THROW(export_gguf(path("x.gguf"), relu, nullptr), GgufExportError);
  EXPECT_EQ(gguf_tensor_name("h.11.mlp.c_proj.bias"), "blk.11.ffn_down.bias");
  EXPECT_EQ(gguf_tensor_name("h.0.attn.c_attn.weight"), "blk.0.attn_qkv.weight");
  EXPECT_THROW(gguf_tensor_name("h.0.attn.bias"), GgufExportError);
}

// Random truncations and byte changes of a valid file: every one either opens
// (and then every tensor reads) or throws FormatError; nothing crashes.
TEST_F(GgufTest, MutatedFilesNeverCrash) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("gpt2"));
  w.set("list", gguf::Value::string_array({"a", "bc", "def"}));
  w.set("ints", gguf::Value::int_array(gguf::ValueType::U32, {1, 2, 3}));
  w.add_tensor("x", Tensor::randn({4, 3}, 1), gguf::GgmlType::F16);
  w.add_tensor("y", Tensor::randn({5}, 2), gguf::GgmlType::F32);
  w.write(path("base.gguf"));
  const std::string base = read_file(path("base.gguf"));
  Rng rng(123);
  int opened = 0, rejected = 0;
  for (int k = 0; k < 250; ++k) {
    std::string s = base;
    if (k % 4 == 0) {
      s.resize(rng.next_u64() % s.size());
    } else {
      const int flips = 1 + int(rng.next_u64() % 3);
      for (int f = 0; f < flips; ++f) s[rng.next_u64() % s.size()] = char(rng.next_u64());
    }
    const std::string p = path("m.gguf");
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(s.data(), std::streamsize(s.size()));
    try {
      gguf::File f = gguf::File::open(p);
      for (auto& t : f.tensors()) (void)f.tensor(t.name).to_vector();
      ++opened;
    } catch (const gguf::FormatError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 60);
  EXPECT_GT(opened, 5);  // flips inside data or padding are harmless
}
