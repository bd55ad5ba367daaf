// Text-level generation: stop strings, end-of-text, batched prompts.
#include <gtest/gtest.h>

#include <algorithm>

#include "generate/text_generation.h"
#include "models/char_tokenizer.h"

namespace {

using namespace rbe;

// Feeds pieces through a matcher; returns (shown text, stopped).
std::pair<std::string, bool> feed(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopStringMatcher m(stops);
  std::string shown;
  for (auto& p : pieces) shown += m.push(p);
  if (!m.stopped()) shown += m.finish();
  return {shown, m.stopped()};
}

TEST(StopStrings, CutBeforeTheStopString) {
  EXPECT_EQ(feed({"\n\n"}, {"Hello", "\n", "\n", "more"}), std::make_pair(std::string("Hello"), true));
  // Inside one token, followed by more bytes: still stops, nothing after is shown.
  EXPECT_EQ(feed({"END"}, {"abc", "xENDyz", "q"}), std::make_pair(std::string("abcx"), true));
  // Earliest occurrence among several stop strings.
  EXPECT_EQ(feed({"cd", "b"}, {"abcd"}), std::make_pair(std::string("a"), true));
  // A partial match that does not complete is shown in the end.
  EXPECT_EQ(feed({"STOP"}, {"ST", "O", "P!"}), std::make_pair(std::string(""), true));
  EXPECT_EQ(feed({"STOP"}, {"ST", "O", "x"}), std::make_pair(std::string("STOx"), false));
  EXPECT_EQ(feed({"STOP"}, {"a", "STO"}), std::make_pair(std::string("aSTO"), false));
  EXPECT_EQ(feed({}, {"a", "b"}), std::make_pair(std::string("ab"), false));
  EXPECT_EQ(feed({""}, {"a"}), std::make_pair(std::string("a"), false));  // empty stop strings ignored
}

TEST(StopStrings, HoldsBackOnlyPossiblePrefixes) {
  StopStringMatcher m({"xyz"});
  EXPECT_EQ(m.push("abx"), "ab");  // "x" might start "xyz"
  EXPECT_EQ(m.push("y"), "");
  EXPECT_EQ(m.push("a"), "xya");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("xxy"), "x");  // "xy" held
  EXPECT_EQ(m.push("z"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "xyz");
  EXPECT_EQ(m.push("more"), "");
}

ModelConfig char_config() {
  ModelConfig c;
  c.vocab_size = 5;  // 'a' 'b' 'c' 'd' '\n'
  c.n_positions = 32;
  c.n_embd = 16;
  c.n_layer = 1;
  c.n_head = 2;
  c.tokenizer = "char";
  return c;
}

TEST(GenerateText, StopStringMatchesTokensAndText) {
  CharTokenizer tok = CharTokenizer::from_text("abcd\n");
  GPT2Model m(char_config(), 4);
  TextGenerationParams p;
  p.sampling.temperature = 1.0f;
  p.sampling.seed = 7;
  p.sampling.max_tokens = 30;
  const std::vector<int32_t> prompt = tok.encode("ab");
  // Unstopped, the text is the decoded tokens.
  TextGenerationResult full = generate_text(m, tok, prompt, p);
  ASSERT_EQ(full.tokens.size(), 30u);
  EXPECT_EQ(full.text, tok.decode(full.tokens));
  EXPECT_EQ(full.reason, StopReason::MaxTokens);
  // Stop at the first two-character string that occurs in it.
  const std::string stop = full.text.substr(10, 2);
  const size_t at = full.text.find(stop);
  p.stop = {stop};
  std::string streamed;
  TextGenerationResult r = generate_text(m, tok, prompt, p, [&](std::string_view s) {
    streamed += s;
    return true;
  });
  EXPECT_EQ(r.reason, StopReason::StopString);
  EXPECT_EQ(r.text, full.text.substr(0, at));
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + long(at + 2)));
}

// A char tokenizer with one of its tokens declared end-of-text.
struct EotTokenizer : CharTokenizer {
  EotTokenizer(CharTokenizer t, int32_t eot) : CharTokenizer(std::move(t)), eot(eot) {}
  int32_t eot_id() const override { return eot; }
  int32_t eot;
};

TEST(GenerateText, EndOfTextStopsAndIsNotEmitted) {
  CharTokenizer base = CharTokenizer::from_text("abcd\n");
  GPT2Model m(char_config(), 4);
  TextGenerationParams p;
  p.sampling.seed = 7;
  p.sampling.max_tokens = 30;
  const std::vector<int32_t> prompt = base.encode("ab");
  TextGenerationResult full = generate_text(m, base, prompt, p);  // no eot: runs to max_tokens
  const int32_t eot = full.tokens[6];
  const size_t at = size_t(std::find(full.tokens.begin(), full.tokens.end(), eot) - full.tokens.begin());
  EotTokenizer tok(base, eot);
  TextGenerationResult r = generate_text(m, tok, prompt, p);
  EXPECT_EQ(r.reason, StopReason::EndOfText);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + long(at + 1)));
  EXPECT_EQ(r.text, full.text.substr(0, at));
  p.stop_at_eot = false;
  EXPECT_EQ(generate_text(m, tok, prompt, p).tokens, full.tokens);
}

TEST(GenerateBatch, EqualsOneAtATime) {
  GPT2Model m(char_config(), 5);
  SamplingParams p;
  p.temperature = 0.f;
  p.max_tokens = 12;
  const std::vector<std::vector<int32_t>> prompts = {{0, 1}, {2}, {3, 3}, {4, 0, 1, 2}, {1, 0}};
  auto batch = generate_batch(m, prompts, p);
  ASSERT_EQ(batch.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(batch[i], generate(m, prompts[i], p)) << "prompt " << i;

  // Sampling: sequence i uses seed + i, so equal prompts differ and each equals its single run.
  p.temperature = 1.f;
  p.seed = 3;
  auto same = generate_batch(m, {{1, 2}, {1, 2}}, p);
  EXPECT_NE(same[0], same[1]);
  SamplingParams p1 = p;
  p1.seed = 4;
  EXPECT_EQ(same[0], generate(m, {1, 2}, p));
  EXPECT_EQ(same[1], generate(m, {1, 2}, p1));
}

TEST(GenerateBatch, PerSequenceStopAndCallback) {
  GPT2Model m(char_config(), 6);
  SamplingParams p;
  p.temperature = 1.f;
  p.max_tokens = 10;
  std::vector<int> seen(3, 0);
  auto out = generate_batch(m, {{0}, {1}, {2}}, p, [&](size_t seq, int32_t) {
    ++seen[seq];
    return seq != 1 || seen[seq] < 3;  // sequence 1 stops after 3 tokens
  });
  EXPECT_EQ(out[0].size(), 10u);
  EXPECT_EQ(out[1].size(), 3u);
  EXPECT_EQ(out[2].size(), 10u);
  EXPECT_THROW(generate_batch(m, {{0}, {}}, p), std::exception);
}

}  // namespace
