// Sampling and generation with the KV cache.
#include <gtest/gtest.h>

#include <atomic>

#include "generate/generate.h"
#include "nn_test_util.h"

namespace {

using namespace rbe;

ModelConfig gen_config() {
  ModelConfig c;
  c.vocab_size = 48;
  c.n_positions = 24;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.tokenizer = "char";
  return c;
}

SamplingParams greedy(int n) {
  SamplingParams p;
  p.temperature = 0.f;
  p.max_tokens = n;
  return p;
}

TEST(Generate, GreedyIsDeterministicAndMatchesFullForward) {
  GPT2Model m(gen_config(), 2);
  std::vector<int32_t> prompt = {1, 2, 3};
  auto a = generate(m, prompt, greedy(6)), b = generate(m, prompt, greedy(6));
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a, b);
  // Re-derive each token by argmax of a full (uncached) forward.
  NoGradGuard ng;
  std::vector<int32_t> seq = prompt;
  for (int32_t tok : a) {
    Tensor logits = m.forward(Tensor::from_vector(seq, {1, int64_t(seq.size())}));
    Tensor last = rbe::slice(logits, 1, -1, int64_t(seq.size()));
    EXPECT_EQ(ops::argmax(last).item(), float(tok));
    seq.push_back(tok);
  }
}

TEST(Generate, SameSeedSameOutput) {
  GPT2Model m(gen_config(), 3);
  SamplingParams p;
  p.temperature = 1.5f;
  p.max_tokens = 15;
  p.seed = 42;
  auto a = generate(m, {5}, p), b = generate(m, {5}, p);
  EXPECT_EQ(a, b);
  p.seed = 43;
  EXPECT_NE(a, generate(m, {5}, p));
  p.top_p = 0.9f;
  p.top_k = 10;
  p.repetition_penalty = 1.3f;
  EXPECT_EQ(generate(m, {5}, p), generate(m, {5}, p));
}

TEST(Generate, TopK1IsGreedy) {
  GPT2Model m(gen_config(), 4);
  SamplingParams p;
  p.temperature = 1.f;
  p.top_k = 1;
  p.max_tokens = 8;
  p.seed = 7;
  EXPECT_EQ(generate(m, {9, 8}, p), generate(m, {9, 8}, greedy(8)));
}

TEST(Generate, CallbackAndCancelStop) {
  GPT2Model m(gen_config(), 5);
  std::vector<int32_t> streamed;
  auto out = generate(m, {1}, greedy(10), [&](int32_t t) {
    streamed.push_back(t);
    return streamed.size() < 4;
  });
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(out, streamed);

  std::atomic<bool> cancel{false};
  int n = 0;
  out = generate(m, {1}, greedy(10), [&](int32_t) {
    if (++n == 3) cancel = true;
    return true;
  }, &cancel);
  EXPECT_EQ(out.size(), 3u);
  cancel = true;
  EXPECT_TRUE(generate(m, {1}, greedy(10), nullptr, &cancel).empty());
}

TEST(Generate, StopsAtContextEndAndTruncatesPrompt) {
  GPT2Model m(gen_config(), 6);  // n_positions = 24
  std::vector<int32_t> prompt(20, 3);
  EXPECT_EQ(generate(m, prompt, greedy(100)).size(), 5u);  // positions 20..23 fed, 5 sampled
  std::vector<int32_t> long_prompt(40, 4);
  EXPECT_EQ(generate(m, long_prompt, greedy(100)).size(), 1u);
  EXPECT_THROW(generate(m, {}, greedy(3)), ShapeError);
  EXPECT_TRUE(generate(m, {1}, greedy(0)).empty());
}

TEST(SampleToken, GreedyPenaltyTopP) {
  Rng rng(1);
  SamplingParams p;
  p.temperature = 0.f;
  std::vector<float> l = {1.f, 3.f, 2.f, -1.f};
  EXPECT_EQ(sample_token(l.data(), 4, p, rng, {}), 1);
  // Penalty 2 on token 1: 3 -> 1.5 < 2.
  l = {1.f, 3.f, 2.f, -1.f};
  p.repetition_penalty = 2.f;
  EXPECT_EQ(sample_token(l.data(), 4, p, rng, {1, 1}), 2);
  EXPECT_FLOAT_EQ(l[1], 1.5f);
  // Negative logits are multiplied.
  l = {-1.f, -2.f};
  sample_token(l.data(), 2, p, rng, {0});
  EXPECT_FLOAT_EQ(l[0], -2.f);
  // A tiny top_p keeps only the most likely token.
  p = SamplingParams();
  p.top_p = 0.01f;
  for (int i = 0; i < 20; ++i) {
    l = {0.f, 0.5f, 0.2f, 0.1f};
    EXPECT_EQ(sample_token(l.data(), 4, p, rng, {}), 1);
  }
  // top_k = 2 never returns the others; sampling covers both.
  p = SamplingParams();
  p.top_k = 2;
  int seen[4] = {0, 0, 0, 0};
  for (int i = 0; i < 200; ++i) {
    l = {0.f, 1.f, 1.2f, 0.5f};
    ++seen[sample_token(l.data(), 4, p, rng, {})];
  }
  EXPECT_EQ(seen[0] + seen[3], 0);
  EXPECT_GT(seen[1], 20);
  EXPECT_GT(seen[2], 20);
}

}  // namespace
