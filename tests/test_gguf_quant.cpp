// Quantized GGUF (Q8_0 / Q4_0): the reader's block decoder against blocks
// assembled by hand, the export against codec::encode / codec::decode of the
// same matrices (bit-exact), the packed import against the same bytes in a
// .rbe file, re-encoding's idempotence (RapidCheck), and corrupt data.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include "autodiff/node.h"
#include "codec/codec.h"
#include "codec/model_codec.h"
#include "codec/rbe_file.h"
#include "gguf_test_util.h"
#include "io/gguf.h"
#include "io/gguf_blocks.h"
#include "io/gguf_export.h"
#include "io/gguf_import.h"
#include "models/gpt2.h"
#include "models/gpt2_tokenizer.h"
#include "nn/layers.h"
#include "tensor/atomic_file.h"
#include "tensor/dtype.h"
#include "tensor/random.h"

using namespace rbe;
namespace fs = std::filesystem;

namespace {

using testing_gguf::Bytes;

// Header of a file with one 2-D tensor "q" of ggml type `type`, dims {ne0, ne1}, at offset 0.
Bytes one_tensor_header(uint32_t type, uint64_t ne0, uint64_t ne1) {
  Bytes x;
  x.b = "GGUF";
  x.u32(3).u64(1).u64(0);
  x.str("q").u32(2).u64(ne0).u64(ne1).u32(type).u64(0);
  x.pad(32);
  return x;
}

codec::CodecSettings fixed_settings(const std::string& form) {
  codec::CodecSettings s;
  s.codec = form;
  s.storage = codec::Storage::Fixed;
  return s;
}

std::vector<uint8_t> payload(const codec::EncodedTensor& e) { return {e.data, e.data + e.size}; }

const char* form_of(gguf::GgmlType t) { return t == gguf::GgmlType::Q8_0 ? "q8_0" : "q4_0"; }

// The exporter's encoder as rbe-convert builds it for a dense source.
GgufQuantizeFn codec_quantizer(int* calls) {
  return [calls](const std::string&, const Tensor& W, gguf::GgmlType type) {
    ++*calls;
    return payload(codec::encode(W, fixed_settings(form_of(type))));
  };
}

std::string gpt2_data(const std::string& file) { return std::string(RBE_SHARED_DIR) + "/data/gpt2/" + file; }

ModelConfig tiny_gpt2(bool tied, int64_t n_embd = 32) {
  ModelConfig c;
  c.vocab_size = 50257;
  c.n_positions = 16;
  c.n_embd = n_embd;
  c.n_layer = 2;
  c.n_head = 2;
  c.tie_word_embeddings = tied;
  return c;
}

class GgufQuantTest : public testing_gguf::GgufFileTest {};

}  // namespace

// The decoder against blocks written by hand from ggml's block_q8_0 / block_q4_0.
TEST_F(GgufQuantTest, DecodesHandAssembledBlocks) {
  // Q8_0, 2 rows of 32: row r block d = 0.5 (f16 0x3800) and 0.25 (0x3400), qs[j] = j - 16 (row 0), 100 - j (row 1).
  Bytes q8 = one_tensor_header(8, 32, 2);
  q8.u16(0x3800);
  for (int j = 0; j < 32; ++j) q8.u8(uint8_t(int8_t(j - 16)));
  q8.u16(0x3400);
  for (int j = 0; j < 32; ++j) q8.u8(uint8_t(int8_t(100 - j)));
  q8.pad(32);
  gguf::File f = gguf::File::open(put("q8.gguf", q8.b));
  ASSERT_EQ(f.info("q").type, gguf::GgmlType::Q8_0);
  EXPECT_EQ(f.info("q").nbytes, 68u);
  EXPECT_EQ(f.bytes("q").size, 68u);
  Tensor t = f.tensor("q");
  ASSERT_EQ(t.shape(), (Shape{2, 32}));
  ASSERT_EQ(t.dtype(), DType::F32);
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(t.at({0, j}), 0.5f * float(j - 16)) << j;
    EXPECT_EQ(t.at({1, j}), 0.25f * float(100 - j)) << j;
  }

  // Q4_0, 1 row of 64 (two blocks): d = 2 (0x4000) and -1 (0xBC00); byte j holds
  // element j (low nibble) and element j + 16 (high nibble); level = nibble - 8.
  Bytes q4 = one_tensor_header(2, 64, 1);
  q4.u16(0x4000);
  for (int j = 0; j < 16; ++j) q4.u8(uint8_t(j | ((15 - j) << 4)));
  q4.u16(0xBC00);
  for (int j = 0; j < 16; ++j) q4.u8(uint8_t(((j + 3) & 15) | (j << 4)));
  q4.pad(32);
  gguf::File g = gguf::File::open(put("q4.gguf", q4.b));
  ASSERT_EQ(g.info("q").type, gguf::GgmlType::Q4_0);
  EXPECT_EQ(g.info("q").nbytes, 36u);
  Tensor u = g.tensor("q");
  ASSERT_EQ(u.shape(), (Shape{1, 64}));
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(u.at({0, j}), 2.f * float(j - 8)) << j;
    EXPECT_EQ(u.at({0, j + 16}), 2.f * float(15 - j - 8)) << j;
    EXPECT_EQ(u.at({0, 32 + j}), -1.f * float(((j + 3) & 15) - 8)) << j;
    EXPECT_EQ(u.at({0, 48 + j}), -1.f * float(j - 8)) << j;
  }
}

TEST_F(GgufQuantTest, CorruptQuantizedTensorsGiveClearErrors) {
  // A row length that is not a whole number of blocks (ggml would refuse it too).
  expect_error(one_tensor_header(8, 48, 1).b + std::string(64, '\0'), {"tensor 'q'", "Q8_0 rows of 48", "32-element blocks"});
  expect_error(one_tensor_header(2, 16, 4).b + std::string(96, '\0'), {"tensor 'q'", "Q4_0 rows of 16"});
  // Data shorter than rows * cols / 32 * 34 (or 18) bytes.
  expect_error(one_tensor_header(8, 32, 2).b + std::string(67, '\0'), {"tensor 'q'", "outside the data section"});
  expect_error(one_tensor_header(2, 64, 3).b + std::string(107, '\0'), {"tensor 'q'", "outside the data section"});
  EXPECT_NO_THROW(gguf::File::open(put("ok.gguf", one_tensor_header(2, 64, 3).b + std::string(108, '\0'))));
  // Types we do not read (Q4_1 = 3, Q5_0 = 6, Q6_K = 14) are named.
  expect_error(one_tensor_header(3, 32, 1).b + std::string(64, '\0'), {"tensor 'q'", "ggml type 3 is not supported"});
  expect_error(one_tensor_header(14, 256, 1).b + std::string(256, '\0'), {"ggml type 14 is not supported"});

  // The writer: no quantizing in add_tensor, rows checked, the produced size checked (and no file left).
  gguf::Writer w;
  EXPECT_THROW(w.add_tensor("a", Tensor::zeros({2, 32}), gguf::GgmlType::Q8_0), gguf::FormatError);
  EXPECT_THROW(w.add_tensor_bytes("b", {2, 40}, gguf::GgmlType::Q4_0, [] { return std::vector<uint8_t>(); }),
               gguf::FormatError);
  w.add_tensor_bytes("c", {2, 32}, gguf::GgmlType::Q8_0, [] { return std::vector<uint8_t>(67); });
  try {
    w.write(path("short.gguf"));
    ADD_FAILURE() << "expected an error";
  } catch (const gguf::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'c': 67 bytes of Q8_0 data given, 68 expected"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path("short.gguf")));
  size_t left = 0;
  for (auto& entry : fs::directory_iterator(dir_)) left += entry.path().filename().string().find("short") != std::string::npos;
  EXPECT_EQ(left, 0u) << "a temporary file was left behind";
}

namespace {

// Every parameter in f under its GGUF name: 2-D weights (not position_embd)
// hold exactly codec::encode's bytes and read back as codec::decode's values;
// the rest F32 and equal.
void expect_quantized_weights(const gguf::File& f, const GPT2Model& model, gguf::GgmlType type) {
  const int64_t block = type == gguf::GgmlType::Q8_0 ? 34 : 18;
  size_t expected = 0;
  for (auto& [name, t] : model.named_parameters()) {
    const std::string g = gguf_tensor_name(name);
    SCOPED_TRACE(g);
    ASSERT_TRUE(f.contains(g));
    ++expected;
    const gguf::TensorInfo& info = f.info(g);
    EXPECT_EQ(info.dims, Shape(t.shape().rbegin(), t.shape().rend()));
    const bool quant = t.dim() == 2 && g != "position_embd.weight";
    ASSERT_EQ(info.type, quant ? type : gguf::GgmlType::F32);
    if (!quant) {
      EXPECT_EQ(f.tensor(g).to_vector(), t.to_vector());
      continue;
    }
    EXPECT_EQ(int64_t(info.nbytes), t.size(0) * t.size(1) / 32 * block);
    const codec::EncodedTensor e = codec::encode(t, fixed_settings(form_of(type)));
    const gguf::TensorBytes b = f.bytes(g);
    ASSERT_EQ(int64_t(b.size), e.size);
    EXPECT_EQ(std::memcmp(b.data, e.data, size_t(e.size)), 0) << "GGUF bytes differ from codec::encode's";
    const std::vector<float> want = codec::decode(e).to_vector(), got = f.tensor(g).to_vector();
    ASSERT_EQ(want.size(), got.size());
    EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << "decode differs from codec::decode";
  }
  if (model.config().tie_word_embeddings) {
    const gguf::TensorBytes a = f.bytes("output.weight"), b = f.bytes("token_embd.weight");
    ASSERT_EQ(a.size, b.size);
    EXPECT_EQ(std::memcmp(a.data, b.data, size_t(a.size)), 0);
    EXPECT_EQ(f.info("output.weight").type, type);
    ++expected;
  }
  EXPECT_EQ(f.tensors().size(), expected);
}

}  // namespace

TEST_F(GgufQuantTest, ExportsEncodedBlocksAndReadsThemBack) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe"));
  for (bool tied : {true, false}) {
    for (gguf::GgmlType type : {gguf::GgmlType::Q8_0, gguf::GgmlType::Q4_0}) {
      SCOPED_TRACE(std::string(tied ? "tied " : "untied ") + gguf::ggml_type_name(type));
      GPT2Model model(tiny_gpt2(tied), 11);
      model.eval();
      int calls = 0;
      GgufExportOptions opt;
      opt.name = "tiny-q";
      opt.quant = type;
      opt.quantize = codec_quantizer(&calls);
      const std::string p = path("m.gguf");
      GgufExportReport r = export_gguf(p, model, &tok, opt);
      EXPECT_EQ(r.file_bytes, fs::file_size(p));
      EXPECT_EQ(calls, 2 * 4 + 2);  // 4 matrices per block, token_embd, output
      gguf::File f = gguf::File::open(p);
      EXPECT_EQ(r.tensors, f.tensors().size());
      EXPECT_EQ(f.get_int("general.file_type"), type == gguf::GgmlType::Q8_0 ? 7 : 2);
      EXPECT_EQ(f.get("general.file_type").type, gguf::ValueType::U32);
      expect_quantized_weights(f, model, type);

      // Imported both ways: decoded to F32 parameters (import_gguf), and packed
      // straight from the file (load_any_model); the model's other values as exported.
      GgufModel dense = import_gguf(p);
      EXPECT_EQ(dense.config.tie_word_embeddings, tied);
      EXPECT_EQ(dense.model->named_parameters().size(), model.named_parameters().size());
      for (auto& [name, t] : dense.model->named_parameters())
        EXPECT_EQ(t.to_vector(), f.tensor(gguf_tensor_name(name)).to_vector()) << name;
      LoadedModel packed = codec::load_any_model(p);
      EXPECT_EQ(packed.format, "gguf");
      int n_packed = 0;
      for (auto& [name, m] : packed.model->named_modules()) {
        std::shared_ptr<const nn::PackedMatrix> pm;
        if (auto* lin = dynamic_cast<nn::Linear*>(m.get())) pm = lin->packed();
        else if (auto* emb = dynamic_cast<nn::Embedding*>(m.get()); emb && name == "wte") pm = emb->packed();
        if (!pm) continue;
        ++n_packed;
        EXPECT_EQ(pm->format(), form_of(type)) << name;
        EXPECT_EQ(pm->bytes(), int64_t(f.info(gguf_tensor_name(name + ".weight")).nbytes)) << name;
      }
      EXPECT_EQ(n_packed, 2 * 4 + 1 + (tied ? 0 : 1));  // the tied head runs from wte

      // Loaded for f16 inference: the packed layers as before, their unused
      // dense weights left alone (f32, never written), the rest f16.
      LoadedModel half = codec::load_any_model(p, DType::F16);
      for (auto& [name, m] : half.model->named_modules()) {
        const bool is_packed = [&] {
          if (auto* lin = dynamic_cast<nn::Linear*>(m.get())) return lin->packed() != nullptr;
          auto* emb = dynamic_cast<nn::Embedding*>(m.get());
          return emb && name == "wte" && emb->packed() != nullptr;
        }();
        for (auto& [pname, t] : m->named_parameters()) {
          if (pname != "weight" || t.dim() != 2) continue;
          EXPECT_EQ(t.dtype(), is_packed ? DType::F32 : DType::F16) << name;
        }
      }
      packed.model->cast_matrices(DType::F16);
      NoGradGuard no_grad;
      std::vector<int32_t> ids = tok.encode("Packed, then half.");
      Tensor x = Tensor::from_vector(ids, {1, int64_t(ids.size())});
      EXPECT_EQ(half.model->forward(x).to_vector(), packed.model->forward(x).to_vector());
    }
  }
}

// A .rbe file whose matrices are q8_0 / q4_0 and the GGUF written from it hold
// the same bytes, so both run the same packed kernels: identical logits.
TEST_F(GgufQuantTest, RunsLikeTheRbeFileWithTheSameBlocks) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  for (const char* form : {"q8_0", "q4_0"}) {
    SCOPED_TRACE(form);
    LoadedModel src;
    src.config = tiny_gpt2(true);
    src.model = std::make_unique<GPT2Model>(src.config, 3);
    src.model->eval();
    src.tokenizer = std::make_unique<GPT2Tokenizer>(
        GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe")));
    codec::ModelCodecOptions copt;
    copt.defaults = fixed_settings(form);
    const codec::CompressedModel cm = codec::compress_model(src, copt);
    codec::write_rbe_file(path("m.rbe"), cm);

    int calls = 0;
    GgufExportOptions opt;
    opt.quant = std::string(form) == "q8_0" ? gguf::GgmlType::Q8_0 : gguf::GgmlType::Q4_0;
    opt.quantize = codec_quantizer(&calls);
    export_gguf(path("m.gguf"), *src.model, src.tokenizer.get(), opt);
    gguf::File f = gguf::File::open(path("m.gguf"));
    for (auto& [name, e] : cm.encoded) {
      const gguf::TensorBytes b = f.bytes(gguf_tensor_name(name));
      ASSERT_EQ(int64_t(b.size), e->size) << name;
      EXPECT_EQ(std::memcmp(b.data, e->data, size_t(e->size)), 0) << name;
    }

    LoadedModel a = codec::load_any_model(path("m.rbe")), g = codec::load_any_model(path("m.gguf"));
    NoGradGuard no_grad;
    const std::vector<int32_t> ids = g.tokenizer->encode("Same bytes, same logits.");
    const Tensor x = Tensor::from_vector(ids, {1, int64_t(ids.size())});
    const std::vector<float> la = a.model->forward(x).to_vector(), lg = g.model->forward(x).to_vector();
    ASSERT_EQ(la.size(), lg.size());
    EXPECT_EQ(std::memcmp(la.data(), lg.data(), la.size() * sizeof(float)), 0);
  }
}

TEST_F(GgufQuantTest, RefusesRowsThatAreNotWholeBlocks) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe"));
  GPT2Model model(tiny_gpt2(true, 16), 1);
  int calls = 0;
  GgufExportOptions opt;
  opt.quant = gguf::GgmlType::Q4_0;
  opt.quantize = codec_quantizer(&calls);
  try {
    export_gguf(path("x.gguf"), model, &tok, opt);
    ADD_FAILURE() << "expected an error";
  } catch (const GgufExportError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("blocks of 32"), std::string::npos) << m;
    EXPECT_NE(m.find("token_embd.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("rows of 16"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(path("x.gguf")));
  EXPECT_EQ(calls, 0);
  opt.quantize = nullptr;
  EXPECT_THROW(export_gguf(path("x.gguf"), model, &tok, opt), GgufExportError);
}

// A corrupt quantized file: truncated data is refused on open; a non-finite
// block scale by the importer; random damage never crashes the reader.
TEST_F(GgufQuantTest, CorruptExportedFilesGiveClearErrors) {
  if (!fs::exists(gpt2_data("encoder.json"))) GTEST_SKIP() << "no GPT-2 tokenizer files in " << RBE_SHARED_DIR;
  GPT2Tokenizer tok = GPT2Tokenizer::from_files(gpt2_data("encoder.json"), gpt2_data("vocab.bpe"));
  GPT2Model model(tiny_gpt2(true), 2);
  int calls = 0;
  GgufExportOptions opt;
  opt.quant = gguf::GgmlType::Q8_0;
  opt.quantize = codec_quantizer(&calls);
  export_gguf(path("m.gguf"), model, &tok, opt);
  const std::string good = read_file(path("m.gguf"));
  gguf::File f = gguf::File::open(path("m.gguf"));
  const gguf::TensorInfo& last = f.tensors().back();  // output.weight, Q8_0
  ASSERT_EQ(last.type, gguf::GgmlType::Q8_0);
  expect_error(good.substr(0, good.size() - 40), {"tensor '" + last.name + "'", "outside the data section"});

  // Block 3 of blk.1.ffn_up.weight gets an infinite scale (f16 0x7C00).
  const gguf::TensorInfo& up = f.info("blk.1.ffn_up.weight");
  std::string bad = good;
  const size_t at = size_t(f.data_offset() + up.offset + 3 * 34);
  bad[at] = '\x00', bad[at + 1] = '\x7c';
  const std::string p = put("inf.gguf", bad);
  for (bool packed : {false, true}) {
    try {
      if (packed) codec::load_any_model(p);
      else import_gguf(p);
      ADD_FAILURE() << "expected an error";
    } catch (const std::exception& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("'blk.1.ffn_up.weight'"), std::string::npos) << m;
      EXPECT_NE(m.find("block 3 has a non-finite scale"), std::string::npos) << m;
    }
  }

  Rng rng(7);
  int opened = 0, rejected = 0;
  for (int k = 0; k < 60; ++k) {
    std::string s = good;
    if (k % 3 == 0) {
      s.resize(size_t(rng.next_u64() % s.size()));
    } else {  // damage the tensor-info table or the data section
      const size_t lo = k % 3 == 1 ? size_t(f.data_offset()) - 2048 : size_t(f.data_offset());
      for (int n = 0; n < 3; ++n) s[lo + rng.next_u64() % (s.size() - lo)] = char(rng.next_u64());
    }
    const std::string q = put("m2.gguf", s);
    try {
      gguf::File g = gguf::File::open(q);
      for (auto& t : g.tensors()) (void)g.tensor(t.name).to_vector();
      ++opened;
    } catch (const gguf::FormatError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 15);
  EXPECT_GT(opened, 10);
}

// Re-encoding a decoded q8_0 / q4_0 matrix gives the same bytes: the
// largest-magnitude weight of a block decodes to exactly 127 d (q8_0) or
// -8 d (q4_0), from which the encoder recovers d. That needs d rounded to
// f16 within 1/254 of max|w| / 127, which holds while d is a normal f16
// (max|w| >= 127 * 2^-14 = 0.0078 for q8_0): tiny blocks with subnormal
// scales may re-encode differently, and GPTQ-rounded blocks (--calib) do,
// which is why rbe-convert copies a source's q8_0 / q4_0 blocks instead of
// re-encoding them (tests/cli/convert.sh). Scales over five decades, with
// outliers and all-zero blocks mixed in.
RC_GTEST_PROP(GgufQuantProps, ReencodingADecodedMatrixIsIdempotent, ()) {
  const int64_t rows = *rc::gen::inRange<int64_t>(1, 9);
  const int64_t cols = 32 * *rc::gen::inRange<int64_t>(1, 5);
  const int log_scale = *rc::gen::inRange(-2, 4);
  const uint64_t seed = *rc::gen::arbitrary<uint32_t>();
  Rng rng(seed);
  Tensor W = Tensor::empty({rows, cols});
  float* w = W.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i) w[i] = float(rng.normal()) * std::pow(10.f, float(log_scale));
  if (*rc::gen::arbitrary<bool>()) w[rng.next_u64() % uint64_t(rows * cols)] *= 50.f;  // an outlier
  if (*rc::gen::arbitrary<bool>()) std::fill(w, w + 32, 0.f);                           // an all-zero block
  for (const char* form : {"q8_0", "q4_0"}) {
    const codec::EncodedTensor e = codec::encode(W, fixed_settings(form));
    for (int64_t b = 0; b < rows * cols / 32; ++b) {  // the precondition above (a zero scale is fine)
      uint16_t h;
      std::memcpy(&h, e.data + b * (e.size / (rows * cols / 32)), 2);
      RC_PRE((h & 0x7c00) != 0 || (h & 0x03ff) == 0);
    }
    const codec::EncodedTensor again = codec::encode(codec::decode(e), fixed_settings(form));
    RC_ASSERT(payload(again) == payload(e));
  }
}
