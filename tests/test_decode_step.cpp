// Decoding steps on row buffers (nn/decode_step.h) against the tensor path
// they replace: the same logits and the same KV cache, bit for bit, for f32,
// f16 and packed weights, pre- and post-LN blocks, other activations, and
// batches with padded rows; and the tensor path wherever a block does not
// allow the buffers.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/node.h"
#include "codec/codec.h"
#include "models/gpt2.h"
#include "nn/decode_step.h"

namespace {

using namespace rbe;

ModelConfig small_config() {
  ModelConfig c;
  c.vocab_size = 40;
  c.n_positions = 32;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.tokenizer = "char";
  return c;
}

// Norm weights and biases and linear biases start as ones and zeros: random
// values, so that a norm or a bias taken for another shows.
void randomize_small_parameters(GPT2Model& m) {
  uint64_t seed = 100;
  for (auto& [name, p] : m.named_parameters())
    if (p.dim() == 1) {
      const Tensor r = Tensor::randn(p.shape(), ++seed, 0.5f, 0.3f);
      std::memcpy(p.data<float>(), r.data<float>(), size_t(p.numel()) * sizeof(float));
    }
}

// Restores the process-wide switch whatever a test does.
struct BufferStepsSwitch {
  bool was = nn::buffer_steps_enabled();
  ~BufferStepsSwitch() { nn::set_buffer_steps_enabled(was); }
};

struct Steps {
  std::vector<std::vector<float>> logits;
  std::vector<std::vector<float>> cache;  // every layer's keys and values after the steps
  uint64_t buffer_steps = 0;
};

// A prompt of 5 tokens per row (rows b < B start at row_start b: left
// padding), then 6 steps of one token per row.
Steps decode(GPT2Model& m, int64_t B, bool buffers, bool padded) {
  BufferStepsSwitch restore;
  nn::set_buffer_steps_enabled(buffers);
  NoGradGuard ng;
  nn::KVCache cache = m.make_cache(B, 16);
  if (padded)
    for (int64_t b = 0; b < B; ++b) cache.row_start[size_t(b)] = b;
  std::vector<int32_t> prompt(size_t(B * 5));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t((i * 7 + 3) % 40);
  Steps r;
  const uint64_t before = nn::buffer_steps_taken();
  Tensor logits = m.forward_cached(Tensor::from_vector(prompt, {B, 5}), cache, 1);
  for (int step = 0; step < 6; ++step) {
    r.logits.push_back(logits.to_vector());
    std::vector<int32_t> next(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) next[size_t(b)] = int32_t((step * 11 + b * 5 + 1) % 40);
    logits = m.forward_cached(Tensor::from_vector(next, {B, 1}), cache);
  }
  r.logits.push_back(logits.to_vector());
  r.buffer_steps = nn::buffer_steps_taken() - before;
  for (int64_t l = 0; l < cache.n_layer(); ++l)  // the filled positions of each (row, head)
    for (const Tensor* t : {&cache.k[size_t(l)], &cache.v[size_t(l)]}) {
      const std::vector<float> all = t->to(DType::F32).to_vector();
      const int64_t hd = t->size(3), block = cache.max_length * hd;
      for (int64_t bh = 0; bh < t->size(0) * t->size(1); ++bh)
        r.cache.emplace_back(all.begin() + bh * block, all.begin() + bh * block + cache.length * hd);
    }
  return r;
}

void expect_same_steps(GPT2Model& m, int64_t B, bool padded) {
  const Steps tensors = decode(m, B, false, padded), buffers = decode(m, B, true, padded);
  EXPECT_EQ(tensors.buffer_steps, 0u);
  EXPECT_EQ(buffers.buffer_steps, 6u);  // the six one-token steps, not the prompt
  ASSERT_EQ(tensors.logits.size(), buffers.logits.size());
  for (size_t s = 0; s < tensors.logits.size(); ++s) EXPECT_EQ(buffers.logits[s], tensors.logits[s]) << "step " << s;
  EXPECT_EQ(buffers.cache, tensors.cache);
}

TEST(DecodeStep, BufferStepsMatchTheTensorPathBitForBit) {
  for (bool pre_ln : {true, false})
    for (const char* act : {"gelu_new", "relu"}) {
      SCOPED_TRACE(std::string(pre_ln ? "pre-LN " : "post-LN ") + act);
      ModelConfig c = small_config();
      c.pre_ln = pre_ln;
      c.activation_function = act;
      GPT2Model m(c, 3);
      m.eval();
      randomize_small_parameters(m);
      expect_same_steps(m, 1, false);
      expect_same_steps(m, 3, true);  // the multi-row products and padded rows
    }
}

TEST(DecodeStep, F16WeightsAndCache) {
  GPT2Model m(small_config(), 4);
  m.eval();
  randomize_small_parameters(m);
  m.cast_parameters(DType::F16);
  m.set_kv_cache_dtype(DType::F16);
  expect_same_steps(m, 1, false);
  expect_same_steps(m, 2, true);
}

TEST(DecodeStep, PackedWeights) {
  GPT2Model m(small_config(), 5);
  m.eval();
  randomize_small_parameters(m);
  codec::CodecSettings s;
  s.codec = "q8_0";
  int packed = 0;
  for (auto& [name, mod] : m.named_modules())
    if (auto* l = dynamic_cast<nn::Linear*>(mod.get()); l && name.find("mlp") != std::string::npos) {
      l->set_packed(codec::make_packed(std::make_shared<const codec::EncodedTensor>(codec::encode(l->weight, s))));
      ++packed;
    }
  ASSERT_EQ(packed, 4);
  expect_same_steps(m, 1, false);
  expect_same_steps(m, 3, true);
}

// A block the buffers cannot run (a Linear with an observer, a norm with f16
// parameters) sends the whole step down the tensor path, with its results.
TEST(DecodeStep, BlocksTheBuffersCannotRunTakeTheTensorPath) {
  for (int which = 0; which < 2; ++which) {
    SCOPED_TRACE(which == 0 ? "observer" : "f16 norm");
    GPT2Model m(small_config(), 6);
    m.eval();
    const Steps before = decode(m, 1, false, false);
    int observed = 0;
    for (auto& [name, mod] : m.named_modules()) {
      if (auto* l = dynamic_cast<nn::Linear*>(mod.get()); which == 0 && l && name == "h.1.attn.c_proj")
        l->observer = [&](const Tensor&) { ++observed; };
      if (auto* n = dynamic_cast<nn::LayerNorm*>(mod.get()); which == 1 && n && name == "h.0.ln_2")
        n->cast_parameters(DType::F16, [](const std::string&, const Tensor&) { return true; });
    }
    const Steps after = decode(m, 1, true, false);
    EXPECT_EQ(after.buffer_steps, 0u);
    if (which == 0) {
      EXPECT_EQ(observed, 7);  // the prompt and six steps, all through forward()
      EXPECT_EQ(after.logits, before.logits);
    }
  }
}

}  // namespace
