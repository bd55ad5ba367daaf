// F16 inference weights (Module::cast_parameters): cached forward and greedy
// generation against the F32 model, batched (GEMM) and batch-1 (GEMV) paths,
// and the inference-only guard.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "autodiff/node.h"
#include "generate/generate.h"
#include "models/gpt2.h"

namespace {

using namespace rbe;

ModelConfig small_config() {
  ModelConfig c;
  c.vocab_size = 101;
  c.n_positions = 48;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.tokenizer = "char";
  return c;
}

// Rounds every matrix of an F32 model to f16 precision (kept in F32), so that
// it computes what the F16 model computes, up to float summation order.
void round_matrices_to_f16(GPT2Model& m) {
  NoGradGuard ng;
  for (auto& [name, t] : m.named_parameters()) {
    if (t.dim() < 2) continue;
    Tensor r = t.to(DType::F16).to(DType::F32);
    std::memcpy(t.data<float>(), r.data<float>(), size_t(t.numel()) * sizeof(float));
  }
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::abs(x)));
  return m;
}

// Prompt of 7 tokens (batched path), then 6 single tokens (GEMV path); logits of every step.
std::vector<std::vector<float>> run_cached(GPT2Model& m) {
  nn::KVCache cache = m.make_cache(1, 20);
  std::vector<std::vector<float>> out;
  out.push_back(m.forward_cached(Tensor::from_vector(std::vector<int32_t>{5, 17, 3, 99, 42, 0, 64}, {1, 7}), cache)
                    .to_vector());
  for (int32_t id : {7, 100, 13, 13, 2, 77})
    out.push_back(m.forward_cached(Tensor::from_vector(std::vector<int32_t>{id}, {1, 1}), cache).to_vector());
  return out;
}

TEST(InferenceF16, CastConvertsMatricesOnlyAndSharesTheTiedHead) {
  GPT2Model m(small_config(), 3);
  const int64_t n = m.cast_parameters(DType::F16);
  int64_t matrices = 0;
  for (auto& [name, t] : m.named_parameters()) {
    EXPECT_EQ(t.dtype(), t.dim() >= 2 ? DType::F16 : DType::F32) << name;
    matrices += t.dim() >= 2;
  }
  EXPECT_EQ(n, matrices);  // wte (also the tied head) counted once
  EXPECT_EQ(m.cast_parameters(DType::F16), 0);  // idempotent
}

// The converted matrices under 2 MiB (here all of them) share one buffer, so
// that they sit on 2 MiB pages together, and each holds its own rounded values.
TEST(InferenceF16, SmallConvertedMatricesShareOneBuffer) {
  GPT2Model m(small_config(), 3), ref(small_config(), 3);
  m.cast_parameters(DType::F16);
  const auto params = m.named_parameters(), ref_params = ref.named_parameters();
  std::shared_ptr<rbe::Storage> shared;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, t] = params[i];
    if (t.dim() < 2) continue;
    if (!shared) shared = t.storage();
    EXPECT_EQ(t.storage(), shared) << name;
    EXPECT_EQ(t.to_vector(), ref_params[i].second.to(DType::F16).to_vector()) << name;
  }
  EXPECT_TRUE(shared);
}

// A matrix of 2 MiB or more gets a buffer of its own when values are
// converted (the heap can reuse its freed original). A loader's model
// (for_loading: nothing written yet) has every matrix in one buffer, in order,
// so that no 2 MiB page is left part empty at a matrix's end.
TEST(InferenceF16, LoadersMatricesShareOneBufferBigOnesToo) {
  ModelConfig c = small_config();
  c.vocab_size = 4096;
  c.n_embd = 256;  // wte: 4096 x 256 f16 = 2 MiB
  GPT2Model converted(c, 3);
  converted.cast_parameters(DType::F16);
  std::unique_ptr<GPT2Model> loaded = GPT2Model::for_loading(c, "test", DType::F16);
  std::shared_ptr<rbe::Storage> first;
  int64_t end = 0;  // elements
  for (auto& [name, t] : loaded->named_parameters()) {
    if (t.dim() < 2) {
      EXPECT_EQ(t.dtype(), DType::F32) << name;
      continue;
    }
    EXPECT_EQ(t.dtype(), DType::F16) << name;
    if (!first) first = t.storage();
    EXPECT_EQ(t.storage(), first) << name;
    EXPECT_GE(t.offset(), end) << name;
    end = t.offset() + t.numel();
  }
  EXPECT_LE(end * 2, int64_t(first->nbytes()));
  std::shared_ptr<rbe::Storage> wte, rest;
  for (auto& [name, t] : converted.named_parameters()) {
    if (t.dim() < 2) continue;
    (name == "wte.weight" ? wte : rest) = t.storage();
  }
  EXPECT_NE(wte, rest);
}

TEST(InferenceF16, CachedLogitsMatchF32) {
  GPT2Model ref(small_config(), 11), rounded(small_config(), 11), half(small_config(), 11);
  ref.eval(), rounded.eval(), half.eval();
  round_matrices_to_f16(rounded);
  half.cast_parameters(DType::F16);
  const auto lr = run_cached(ref), lq = run_cached(rounded), lh = run_cached(half);
  ASSERT_EQ(lh.size(), lr.size());
  for (size_t s = 0; s < lh.size(); ++s) {
    ASSERT_EQ(lh[s].size(), lr[s].size());
    const double scale = max_abs(lr[s]);
    ASSERT_GT(scale, 0);
    for (size_t i = 0; i < lh[s].size(); ++i) {
      // Same weights as the f16-rounded F32 model: only summation order differs.
      ASSERT_NEAR(lh[s][i], lq[s][i], 1e-5 * scale + 1e-6) << "step " << s << " logit " << i;
      // Against the original F32 weights: f16 rounding (2^-11 relative per weight).
      ASSERT_NEAR(lh[s][i], lr[s][i], 2e-2 * scale) << "step " << s << " logit " << i;
    }
  }
}

TEST(InferenceF16, BatchedPromptMatchesTokenByToken) {
  // The prompt's batched pass (f16 GEMM) and feeding it one token at a time (f16 GEMV) agree.
  GPT2Model m(small_config(), 5);
  m.cast_parameters(DType::F16);
  const std::vector<int32_t> prompt = {1, 2, 3, 50, 60, 70, 80, 90, 100};
  nn::KVCache a = m.make_cache(1, 16), b = m.make_cache(1, 16);
  const std::vector<float> batched =
      m.forward_cached(Tensor::from_vector(prompt, {1, int64_t(prompt.size())}), a).to_vector();
  const int64_t V = small_config().vocab_size;
  for (size_t t = 0; t < prompt.size(); ++t) {
    const std::vector<float> one = m.forward_cached(Tensor::from_vector(std::vector<int32_t>{prompt[t]}, {1, 1}), b).to_vector();
    const double scale = max_abs(one);
    for (int64_t i = 0; i < V; ++i) ASSERT_NEAR(batched[t * V + i], one[size_t(i)], 1e-5 * scale + 1e-6) << t << " " << i;
  }
}

TEST(InferenceF16, GreedyGenerationEqualsF32) {
  // Greedy decoding is a chain of argmaxes; with the weights rounded the same
  // way, the two models differ only in summation order (~1e-6 relative), far
  // below the top-2 logit gaps, so the tokens must be identical.
  GPT2Model rounded(small_config(), 21), half(small_config(), 21);
  rounded.eval(), half.eval();
  round_matrices_to_f16(rounded);
  half.cast_parameters(DType::F16);
  SamplingParams p;
  p.temperature = 0.f;
  p.max_tokens = 12;
  const std::vector<int32_t> prompt = {4, 8, 15, 16, 23, 42};
  const std::vector<int32_t> a = generate(rounded, prompt, p), b = generate(half, prompt, p);
  EXPECT_EQ(a.size(), size_t(12));
  EXPECT_EQ(a, b);
}

TEST(InferenceF16, TrainingAnF16ModelThrows) {
  GPT2Model m(small_config(), 2);
  m.cast_parameters(DType::F16);
  const Tensor ids = Tensor::from_vector(std::vector<int32_t>{1, 2, 3, 4}, {1, 4});
  try {
    m.forward(ids);  // gradients enabled: would record a graph through F16 weights
    FAIL() << "expected an inference-only error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("inference only"), std::string::npos) << e.what();
  }
  NoGradGuard ng;  // evaluation without a graph works
  EXPECT_EQ(m.forward(ids).shape(), (Shape{1, 4, 101}));
}

}  // namespace
