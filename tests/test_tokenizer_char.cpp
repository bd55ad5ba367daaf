#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "models/char_tokenizer.h"

using namespace rbe;

TEST(CharTokenizer, BuildsSortedVocabulary) {
  auto tok = CharTokenizer::from_text("hello world\n");
  EXPECT_EQ(tok.size(), 9);  // \n space d e h l o r w
  EXPECT_EQ(tok.encode("\n")[0], 0);
  EXPECT_EQ(tok.encode(" ")[0], 1);
  EXPECT_EQ(tok.encode("w")[0], 8);
  EXPECT_THROW(CharTokenizer::from_text(""), TokenizerError);
}

TEST(CharTokenizer, RoundTrip) {
  std::string text = "First Citizen:\nBefore we proceed any further, hear me speak.\n";
  auto tok = CharTokenizer::from_text(text);
  auto ids = tok.encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(CharTokenizer, TinyShakespeareHas65) {
  std::ifstream in(RBE_SHARED_DIR "/data/tinyshakespeare.txt", std::ios::binary);
  if (!in) GTEST_SKIP() << "tinyshakespeare.txt not available";
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(CharTokenizer::from_text(text).size(), 65);
}

TEST(CharTokenizer, UnknownCharacterThrows) {
  auto tok = CharTokenizer::from_text("abc");
  try {
    tok.encode("abz");
    FAIL();
  } catch (const TokenizerError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'z'"), std::string::npos) << m;
    EXPECT_NE(m.find("offset 2"), std::string::npos) << m;
  }
  EXPECT_THROW(tok.decode({3}), TokenizerError);
  EXPECT_THROW(tok.decode({-1}), TokenizerError);
}

TEST(CharTokenizer, SaveLoadWithNonAsciiBytes) {
  std::string text = "caf\xc3\xa9 \x01\xff!";  // UTF-8 é plus raw bytes
  auto tok = CharTokenizer::from_text(text);
  auto path = (std::filesystem::temp_directory_path() / ("rbe_tok_" + std::to_string(::getpid()) + ".json")).string();
  tok.save(path);
  auto j = nlohmann::json::parse(std::ifstream(path));
  EXPECT_EQ(j["type"], "char");
  EXPECT_EQ(j["vocab"].size(), size_t(tok.size()));
  auto back = CharTokenizer::load(path);
  EXPECT_EQ(back.vocab(), tok.vocab());
  EXPECT_EQ(back.decode(back.encode(text)), text);
  std::filesystem::remove(path);
}

TEST(CharTokenizer, BadFiles) {
  using nlohmann::json;
  EXPECT_THROW(CharTokenizer::from_json(json{{"type", "bpe"}, {"vocab", {"a"}}}), TokenizerError);
  EXPECT_THROW(CharTokenizer::from_json(json{{"type", "char"}}), TokenizerError);
  EXPECT_THROW(CharTokenizer::from_json(json{{"type", "char"}, {"vocab", {"ab"}}}), TokenizerError);
  EXPECT_THROW(CharTokenizer::from_json(json{{"type", "char"}, {"vocab", {"a", "a"}}}), TokenizerError);
  EXPECT_THROW(CharTokenizer::from_json(json{{"type", "char"}, {"vocab", {1}}}), TokenizerError);
  try {
    CharTokenizer::load("/nonexistent/tokenizer.json");
    FAIL();
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.json"), std::string::npos);
  }
}
