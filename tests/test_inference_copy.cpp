// GPT2Model::inference_copy: a second model for inference (the workbench's
// chat runs an f16 copy of the opened model). Checked against the model cast
// in place, which is what loading in f16 gives (test_hf_gpt2), bit for bit;
// the original must be left as it was, and packed layers shared, not copied.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "model_codec_test_util.h"
#include "models/gpt2.h"
#include "nn/layers.h"

namespace {

using namespace rbe;
using testutil::logits_of;

// Every parameter of a and b: the same names, dtypes, shapes and bytes.
void expect_same_parameters(const GPT2Model& a, const GPT2Model& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    const Tensor x = pa[i].second.contiguous(), y = pb[i].second.contiguous();
    ASSERT_EQ(pa[i].first, pb[i].first);
    ASSERT_EQ(x.dtype(), y.dtype()) << pa[i].first;
    ASSERT_EQ(x.shape(), y.shape()) << pa[i].first;
    EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), size_t(x.numel()) * dtype_size(x.dtype())), 0) << pa[i].first;
  }
}

// No parameter of a shares its storage with one of b.
void expect_separate_storage(const GPT2Model& a, const GPT2Model& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_NE(pa[i].second.raw_data(), pb[i].second.raw_data()) << pa[i].first;
}

TEST(InferenceCopy, F16CopyIsTheModelCastToF16AndLeavesTheOriginalAlone) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied head" : "separate head");
    LoadedModel m = testutil::tiny_model(tied, 11);
    m.model->set_kv_cache_dtype(DType::F16);
    const std::vector<float> before = logits_of(*m.model, *m.tokenizer);

    std::unique_ptr<GPT2Model> copy = m.model->inference_copy(DType::F16);
    LoadedModel cast = testutil::tiny_model(tied, 11);  // the same weights, cast in place
    cast.model->cast_parameters(DType::F16);
    expect_same_parameters(*copy, *cast.model);
    EXPECT_EQ(logits_of(*copy, *m.tokenizer), logits_of(*cast.model, *m.tokenizer));
    EXPECT_NE(logits_of(*copy, *m.tokenizer), before);  // rounded to f16, so not the f32 logits
    EXPECT_EQ(copy->kv_cache_dtype(), DType::F16);
    EXPECT_FALSE(copy->is_training());

    // The original: still f32, the same weights and logits, its own storage.
    expect_same_parameters(*m.model, *testutil::tiny_model(tied, 11).model);
    EXPECT_EQ(logits_of(*m.model, *m.tokenizer), before);
    expect_separate_storage(*m.model, *copy);
  }
}

TEST(InferenceCopy, F32CopyIsExact) {
  LoadedModel m = testutil::tiny_model(true, 5);
  std::unique_ptr<GPT2Model> copy = m.model->inference_copy(DType::F32);
  expect_same_parameters(*copy, *m.model);
  expect_separate_storage(*copy, *m.model);
  EXPECT_EQ(logits_of(*copy, *m.tokenizer), logits_of(*m.model, *m.tokenizer));
}

// A q8_0 model (every Linear and wte packed; wpe, norms and biases dense): the
// copy shares the packed layers, converts only the dense matrices (as loading
// a .rbe or GGUF file in f16 does), and leaves the packed layers' unused dense
// weights unconverted.
TEST(InferenceCopy, SharesPackedLayersAndConvertsTheDenseMatrices) {
  LoadedModel m = testutil::tiny_model(true, 9);
  const codec::CompressedModel cm = codec::compress_model(m, [] {
    codec::ModelCodecOptions o;
    o.defaults.codec = "q8_0";
    return o;
  }());
  LoadedModel packed = codec::instantiate(cm);
  std::unique_ptr<GPT2Model> copy = packed.model->inference_copy(DType::F16);

  std::unordered_map<std::string, std::shared_ptr<nn::Module>> copied;
  for (auto& [name, mod] : copy->named_modules()) copied.emplace(name, mod);
  int shared = 0;
  for (const auto& [name, mod] : packed.model->named_modules()) {
    if (const auto* lin = dynamic_cast<const nn::Linear*>(mod.get()); lin && lin->packed()) {
      const auto& c = dynamic_cast<const nn::Linear&>(*copied.at(name));
      EXPECT_EQ(c.packed().get(), lin->packed().get()) << name;
      EXPECT_EQ(c.weight.dtype(), DType::F32) << name;  // unused, so not converted
      ++shared;
    }
    if (const auto* emb = dynamic_cast<const nn::Embedding*>(mod.get()); emb && emb->packed()) {
      EXPECT_EQ(dynamic_cast<const nn::Embedding&>(*copied.at(name)).packed().get(), emb->packed().get()) << name;
      ++shared;
    }
  }
  EXPECT_EQ(shared, 1 + 4 * m.config.n_layer);  // wte and each block's four matrices
  for (auto& [name, t] : copy->named_parameters()) {
    if (name == "wpe.weight") {
      EXPECT_EQ(t.dtype(), DType::F16);
    }
  }

  LoadedModel cast = codec::instantiate(cm);
  EXPECT_EQ(cast.model->cast_matrices(DType::F16), 1);  // wpe: the only dense matrix
  EXPECT_EQ(logits_of(*copy, *m.tokenizer), logits_of(*cast.model, *m.tokenizer));
  EXPECT_EQ(logits_of(*packed.model->inference_copy(DType::F32), *m.tokenizer),
            logits_of(*packed.model, *m.tokenizer));
}

}  // namespace
