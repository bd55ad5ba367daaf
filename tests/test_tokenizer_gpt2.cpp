// GPT-2 byte-level BPE tokenizer: agreement with reference encodings
// (tokenizer_cases.jsonl, produced by HuggingFace/tiktoken; nanoGPT's Tiny
// Shakespeare token counts), the pre-tokenization regex against std::regex,
// round trips for any input, <|endoftext|>, and file errors.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "tensor/atomic_file.h"
#include "models/char_tokenizer.h"
#include "models/gpt2_pretokenize.h"
#include "models/gpt2_tokenizer.h"
#include "models/model_config.h"
#include "models/tokenizer.h"

namespace rbe {
namespace {

namespace fs = std::filesystem;
const std::string kGpt2Dir = RBE_SHARED_DIR "/data/gpt2";

// The real GPT-2 files, loaded once for the whole suite (~0.1-0.3 s).
const GPT2Tokenizer* gpt2() {
  static std::unique_ptr<GPT2Tokenizer> tok = [] {
    if (!fs::exists(kGpt2Dir + "/encoder.json")) return std::unique_ptr<GPT2Tokenizer>();
    return std::make_unique<GPT2Tokenizer>(
        GPT2Tokenizer::from_files(kGpt2Dir + "/encoder.json", kGpt2Dir + "/vocab.bpe"));
  }();
  return tok.get();
}
#define NEED_GPT2()                                                               \
  const GPT2Tokenizer* tok = gpt2();                                              \
  if (!tok) GTEST_SKIP() << "GPT-2 tokenizer files not found under " << kGpt2Dir; \
  (void)tok

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
  } else if (cp < 0x10000) {
    s += {char(0xE0 | (cp >> 12)), char(0x80 | ((cp >> 6) & 0x3F)), char(0x80 | (cp & 0x3F))};
  } else {
    s += {char(0xF0 | (cp >> 18)), char(0x80 | ((cp >> 12) & 0x3F)), char(0x80 | ((cp >> 6) & 0x3F)),
          char(0x80 | (cp & 0x3F))};
  }
  return s;
}

// A small byte-level vocabulary: the 256 byte tokens (ids 0..255 in byte
// order), then the given merged tokens, then <|endoftext|>.
std::string small_vocab(const std::vector<std::string>& extra) {
  nlohmann::json j = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) j[utf8(GPT2Tokenizer::byte_to_unicode(uint8_t(b)))] = b;
  int id = 256;
  for (const auto& t : extra) j[t] = id++;
  j["<|endoftext|>"] = id;
  return j.dump();
}

// ---------------------------------------------------------------- reference cases

TEST(GPT2Tokenizer, AgreesWithEveryReferenceCase) {
  NEED_GPT2();
  std::ifstream in(kGpt2Dir + "/tokenizer_cases.jsonl");
  ASSERT_TRUE(in) << "tokenizer_cases.jsonl missing";
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    std::string text = j.at("text");
    auto want = j.at("ids").get<std::vector<int32_t>>();
    auto got = tok->encode(text, j.value("special_tokens", false));
    EXPECT_EQ(got, want) << "text: " << nlohmann::json(text).dump();
    EXPECT_EQ(tok->decode(got), text);
    ++cases;
  }
  EXPECT_GE(cases, 59);
  std::cout << "[ reference ] " << cases << " cases checked\n";
}

TEST(GPT2Tokenizer, TinyShakespeareMatchesNanoGptCounts) {
  NEED_GPT2();
  std::string text;
  try {
    text = read_file(RBE_SHARED_DIR "/data/tinyshakespeare.txt");
  } catch (const IoError&) {
    GTEST_SKIP() << "tinyshakespeare.txt not available";
  }
  // nanoGPT's data/shakespeare/prepare.py (tiktoken "gpt2") splits at 90%
  // of the characters and reports 301,966 + 36,059 tokens.
  size_t split = size_t(double(text.size()) * 0.9);
  auto train = tok->encode(std::string_view(text).substr(0, split));
  auto val = tok->encode(std::string_view(text).substr(split));
  EXPECT_EQ(train.size(), 301966u);
  EXPECT_EQ(val.size(), 36059u);
  EXPECT_EQ(tok->decode(train) + tok->decode(val), text);
}

TEST(GPT2Tokenizer, VocabAndMergesAccessors) {
  NEED_GPT2();
  EXPECT_EQ(tok->type(), "gpt2");
  EXPECT_EQ(tok->vocab_size(), 50257);
  ASSERT_EQ(tok->vocab().size(), 50257u);
  EXPECT_EQ(tok->vocab()[0], "!");
  EXPECT_EQ(tok->vocab()[220], "\xC4\xA0");  // "Ġ", the space byte
  EXPECT_EQ(tok->vocab()[50256], "<|endoftext|>");
  ASSERT_EQ(tok->merges().size(), 50000u);
  EXPECT_EQ(tok->merges()[0], (std::pair<std::string, std::string>{"\xC4\xA0", "t"}));
  EXPECT_EQ(tok->token_id("\xC4\xA0the"), 262);
  EXPECT_EQ(tok->token_id("no such token"), -1);
  EXPECT_EQ(tok->eot_id(), 50256);
}

// ---------------------------------------------------------------- <|endoftext|>

TEST(GPT2Tokenizer, EndOfTextIsSpecialByDefault) {
  NEED_GPT2();
  EXPECT_EQ(tok->encode("<|endoftext|>"), std::vector<int32_t>{50256});
  EXPECT_EQ(tok->encode("<|endoftext|><|endoftext|>"), (std::vector<int32_t>{50256, 50256}));
  auto ids = tok->encode("a<|endoftext|>b");
  EXPECT_EQ(ids, (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_EQ(tok->decode(ids), "a<|endoftext|>b");
  EXPECT_EQ(tok->decode_one(50256), "<|endoftext|>");
  // A partial marker is plain text.
  auto partial = tok->encode("<|endoftext|");
  EXPECT_EQ(std::count(partial.begin(), partial.end(), 50256), 0);
}

TEST(GPT2Tokenizer, EndOfTextAsPlainTextWhenSpecialIsOff) {
  NEED_GPT2();
  auto ids = tok->encode("x<|endoftext|>", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 50256), 0);
  EXPECT_GT(ids.size(), 3u);
  EXPECT_EQ(tok->decode(ids), "x<|endoftext|>");
}

// ---------------------------------------------------------------- BPE mechanics

TEST(GPT2Tokenizer, MergesApplyInRankOrder) {
  auto t = GPT2Tokenizer::from_strings(small_vocab({"he", "ll", "hell", "hello"}),
                                       "#version: 0.2\nh e\nl l\nhe ll\nhell o\n");
  EXPECT_EQ(t.encode("hello"), std::vector<int32_t>{259});
  EXPECT_EQ(t.encode("hellohe"), (std::vector<int32_t>{259, 256}));
  EXPECT_EQ(t.encode("lll"), (std::vector<int32_t>{257, 'l'}));  // leftmost pair first
  EXPECT_EQ(t.eot_id(), 260);
  // Order decides: "a b" before "b c" gives ab|c, the other way a|bc.
  auto ab_first = GPT2Tokenizer::from_strings(small_vocab({"ab", "bc"}), "a b\nb c\n");
  EXPECT_EQ(ab_first.encode("abc"), (std::vector<int32_t>{256, 'c'}));
  auto bc_first = GPT2Tokenizer::from_strings(small_vocab({"ab", "bc"}), "b c\na b\n");
  EXPECT_EQ(bc_first.encode("abc"), (std::vector<int32_t>{'a', 257}));
}

TEST(GPT2Tokenizer, LongWordIsFastAndExact) {
  NEED_GPT2();
  // One 200 kB pre-token: the heap-based merge must not be quadratic.
  std::string word;
  for (int i = 0; i < 20000; ++i) word += "abracadabr";
  auto ids = tok->encode(word);
  EXPECT_EQ(tok->decode(ids), word);
  EXPECT_LT(ids.size(), word.size() / 2);
}

TEST(GPT2Tokenizer, CacheGivesSameResultsAcrossThreads) {
  NEED_GPT2();
  std::string text;
  for (int i = 0; i < 200; ++i) text += "It's the " + std::to_string(i) + "th time, naïve café 日本語.\n";
  auto want = tok->encode(text);
  std::vector<std::vector<int32_t>> got(4);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) threads.emplace_back([&, k] { got[k] = tok->encode(text); });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
  EXPECT_EQ(tok->encode(text), want);
}

// ---------------------------------------------------------------- decode errors

TEST(GPT2Tokenizer, UnknownIdIsNamed) {
  NEED_GPT2();
  for (int32_t bad : {50257, -1, 1 << 30}) {
    try {
      tok->decode({15496, bad});
      FAIL() << "no error for id " << bad;
    } catch (const TokenizerError& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(tok->decode_one(50257), TokenizerError);
}

// ---------------------------------------------------------------- pre-tokenization

TEST(GPT2PreTokenize, SplitsLikeTheRegex) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(gpt2_pretokenize("Hello  world"), (V{"Hello", " ", " world"}));
  EXPECT_EQ(gpt2_pretokenize("I'm 'tis x's"), (V{"I", "'m", " '", "tis", " x", "'s"}));
  EXPECT_EQ(gpt2_pretokenize("a  \n\tb  "), (V{"a", "  \n", "\t", "b", "  "}));
  EXPECT_EQ(gpt2_pretokenize(" 12ab!!'s"), (V{" 12", "ab", "!!'", "s"}));
  EXPECT_EQ(gpt2_pretokenize("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC"), (V{"caf\xC3\xA9", " \xE6\x97\xA5\xE6\x9C\xAC"}));
  EXPECT_EQ(gpt2_pretokenize(""), V{});
}

TEST(GPT2PreTokenize, UnicodeClasses) {
  auto cls = [](uint32_t cp) {
    std::string s = utf8(cp);
    size_t len = 0;
    auto c = gpt2_char_class(s, 0, len);
    EXPECT_EQ(len, s.size());
    return c;
  };
  using C = Gpt2CharClass;
  for (uint32_t cp : {0x41u, 0xE9u, 0xDFu, 0x3A9u, 0x416u, 0x5D0u, 0x627u, 0x65E5u, 0xD55Cu, 0x2B0u, 0x1D400u})
    EXPECT_EQ(cls(cp), C::Letter) << std::hex << cp;
  for (uint32_t cp : {0x30u, 0x663u, 0xBDu, 0x216Bu, 0xB2u, 0x1D7CEu}) EXPECT_EQ(cls(cp), C::Number) << std::hex << cp;
  for (uint32_t cp : {0x20u, 0x09u, 0x0Au, 0x0Du, 0x85u, 0xA0u, 0x1680u, 0x2003u, 0x2028u, 0x202Fu, 0x3000u})
    EXPECT_EQ(cls(cp), C::Space) << std::hex << cp;
  // Combining marks, format characters, symbols and emoji are "other".
  for (uint32_t cp : {0x21u, 0x27u, 0x301u, 0x200Bu, 0x200Du, 0x180Eu, 0x2014u, 0x20ACu, 0x1F600u, 0x1Fu})
    EXPECT_EQ(cls(cp), C::Other) << std::hex << cp;
  size_t len = 0;
  for (std::string bad : {"\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE6\x97", "\xFF"}) {
    EXPECT_EQ(gpt2_char_class(bad, 0, len), C::Invalid) << "byte 0x" << std::hex << int(uint8_t(bad[0]));
    EXPECT_EQ(len, 1u);
  }
}

TEST(GPT2PreTokenize, InvalidUtf8BytesArePiecesOfTheirOwn) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(gpt2_pretokenize("ab\xFF\xFE cd \x80"), (V{"ab", "\xFF", "\xFE", " cd", " ", "\x80"}));
  EXPECT_EQ(gpt2_pretokenize("\xE6\x97 x"), (V{"\xE6", "\x97", " x"}));  // truncated 3-byte sequence
}

// Code points drawn from the kinds of text the tokenizer meets.
rc::Gen<std::string> gen_char() {
  using namespace rc;
  auto cp = [](uint32_t lo, uint32_t hi) {
    return gen::map(gen::inRange(lo, hi + 1), [](uint32_t c) { return utf8(c); });
  };
  return gen::oneOf(cp(0x20, 0x7E), cp(0x20, 0x7E), cp('a', 'z'),
                    gen::elementOf(std::vector<std::string>{" ", " ", "\n", "\t", "\r\n", "  "}), cp('0', '9'),
                    cp(0xC0, 0xFF), cp(0x300, 0x36F), cp(0x4E00, 0x9FFF), cp(0x1F300, 0x1FAFF), cp(0x660, 0x669),
                    cp(0x2000, 0x200D),
                    gen::elementOf(std::vector<std::string>{"'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
                                                            "\xC2\xA0", "\xE3\x80\x80", "<|endoftext|>"}));
}

rc::Gen<std::string> gen_text() {
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(gen_char()), [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& p : v) s += p;
    return s;
  });
}

// The same pattern in std::regex over a shadow string with one ASCII stand-in
// per code point: letters, digits, white space and others keep their class
// (and ASCII keeps its value, so contractions and ' ' still match).
RC_GTEST_PROP(GPT2PreTokenizeProps, MatchesStdRegexReference, ()) {
  std::string text = *rc::gen::resize(60, gen_text());
  std::string shadow;
  std::vector<size_t> offset;  // byte offset of each shadow char, plus the end
  for (size_t pos = 0, len = 0; pos < text.size(); pos += len) {
    auto c = gpt2_char_class(text, pos, len);
    offset.push_back(pos);
    unsigned char b = text[pos];
    if (b < 0x80)
      shadow += char(b);
    else
      shadow += c == Gpt2CharClass::Letter   ? 'a'
                : c == Gpt2CharClass::Number ? '0'
                : c == Gpt2CharClass::Space  ? '\t'
                                             : '#';
  }
  offset.push_back(text.size());
  static const std::regex re(R"('s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+)");
  std::vector<std::string_view> want;
  size_t expect_pos = 0;
  for (auto it = std::sregex_iterator(shadow.begin(), shadow.end(), re); it != std::sregex_iterator(); ++it) {
    size_t a = size_t(it->position()), b = a + size_t(it->length());
    RC_ASSERT(a == expect_pos);
    want.push_back(std::string_view(text).substr(offset[a], offset[b] - offset[a]));
    expect_pos = b;
  }
  RC_ASSERT(gpt2_pretokenize(text) == want);
}

RC_GTEST_PROP(GPT2TokenizerProps, RoundTripsUtf8Text, ()) {
  const GPT2Tokenizer* tok = gpt2();
  RC_PRE(tok != nullptr);
  std::string text = *gen_text();
  RC_ASSERT(tok->decode(tok->encode(text)) == text);
  RC_ASSERT(tok->decode(tok->encode(text, false)) == text);
}

RC_GTEST_PROP(GPT2TokenizerProps, RoundTripsArbitraryBytes, ()) {
  const GPT2Tokenizer* tok = gpt2();
  RC_PRE(tok != nullptr);
  auto bytes = *rc::gen::container<std::vector<std::string>>(rc::gen::oneOf(
      gen_char(), rc::gen::map(rc::gen::inRange(0, 256), [](int b) { return std::string(1, char(b)); })));
  std::string text;
  for (const auto& b : bytes) text += b;
  auto ids = tok->encode(text);
  for (int32_t id : ids) RC_ASSERT(id >= 0 && id < tok->vocab_size());
  RC_ASSERT(tok->decode(ids) == text);
}

// ---------------------------------------------------------------- file errors

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GPT2TokenizerFiles, MalformedVocabIsReported) {
  const std::string merges = "#version: 0.2\n";
  auto err = [&](const std::string& vocab) { return error_of([&] { GPT2Tokenizer::from_strings(vocab, merges); }); };
  EXPECT_NE(err("{\"a\": 0,").find("vocab.json: invalid JSON"), std::string::npos) << err("{\"a\": 0,");
  EXPECT_NE(err("[1, 2]").find("vocab.json: expected a JSON object"), std::string::npos);
  EXPECT_NE(err("{}").find("empty"), std::string::npos);
  EXPECT_NE(err("{\"a\": \"x\"}").find("token \"a\""), std::string::npos) << err("{\"a\": \"x\"}");
  EXPECT_NE(err("{\"a\": 1.5}").find("not an integer"), std::string::npos);
  EXPECT_NE(err("{\"a\": 5}").find("outside [0, 1)"), std::string::npos);
  EXPECT_NE(err("{\"a\": 0, \"b\": 0}").find("id 0 is used by both"), std::string::npos);
  // Every byte needs its token.
  EXPECT_NE(err("{\"a\": 0}").find("no token for byte 0x00"), std::string::npos) << err("{\"a\": 0}");
}

TEST(GPT2TokenizerFiles, MalformedMergesAreReported) {
  const std::string vocab = small_vocab({"ab"});
  auto err = [&](const std::string& merges) { return error_of([&] { GPT2Tokenizer::from_strings(vocab, merges); }); };
  EXPECT_NE(err("#version: 0.2\na b\nab\n").find("merges.txt line 3: expected two tokens"), std::string::npos)
      << err("#version: 0.2\na b\nab\n");
  EXPECT_NE(err("a b c\n").find("line 1"), std::string::npos);
  EXPECT_NE(err("a zz\n").find("token \"zz\" is not in vocab.json"), std::string::npos) << err("a zz\n");
  EXPECT_NE(err("a c\n").find("merged token \"ac\""), std::string::npos);
  EXPECT_EQ(err("#version: 0.2\r\na b\r\n"), "(no error)");  // CRLF files are fine
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("rbe_tok_" + std::to_string(::getpid()) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(GPT2TokenizerFiles, MissingFilesAreNamed) {
  TempDir dir;
  const std::string vocab = (dir.path / "vocab.json").string(), merges = (dir.path / "merges.txt").string();
  EXPECT_NE(error_of([&] { GPT2Tokenizer::from_files(vocab, merges); }).find(vocab), std::string::npos);
  write_file_atomic(vocab, "{\"a\": 0");
  write_file_atomic(merges, "");
  auto e = error_of([&] { GPT2Tokenizer::from_files(vocab, merges); });
  EXPECT_NE(e.find(vocab + ": invalid JSON"), std::string::npos) << e;

  ModelConfig config;
  config.tokenizer = "gpt2";
  fs::remove(merges);
  write_file_atomic(vocab, small_vocab({}));
  e = error_of([&] { load_tokenizer(dir.path.string(), config); });
  EXPECT_NE(e.find("merges.txt"), std::string::npos) << e;
  write_file_atomic(merges, "#version: 0.2\nh e\n");
  e = error_of([&] { load_tokenizer(dir.path.string(), config); });
  EXPECT_NE(e.find("merged token \"he\""), std::string::npos) << e;
  EXPECT_NE(e.find(merges), std::string::npos) << e;
  config.tokenizer = "sentencepiece";
  EXPECT_NE(error_of([&] { load_tokenizer(dir.path.string(), config); }).find("unknown tokenizer type"),
            std::string::npos);
}

TEST(GPT2TokenizerFiles, LoadTokenizerGivesEitherKind) {
  TempDir dir;
  ModelConfig config;
  config.tokenizer = "gpt2";
  write_file_atomic((dir.path / "vocab.json").string(), small_vocab({"he", "ll"}));
  write_file_atomic((dir.path / "merges.txt").string(), "#version: 0.2\nh e\nl l\n");
  std::unique_ptr<Tokenizer> t = load_tokenizer(dir.path.string(), config);
  EXPECT_EQ(t->type(), "gpt2");
  EXPECT_EQ(t->vocab_size(), 259);
  EXPECT_EQ(t->encode("hell<|endoftext|>"), (std::vector<int32_t>{256, 257, 258}));
  EXPECT_EQ(t->decode({256, 257}), "hell");
  EXPECT_EQ(t->eot_id(), 258);

  config.tokenizer = "char";
  auto e = error_of([&] { load_tokenizer(dir.path.string(), config); });
  EXPECT_NE(e.find("tokenizer.json"), std::string::npos) << e;
  CharTokenizer::from_text("abc\n").save((dir.path / "tokenizer.json").string());
  t = load_tokenizer(dir.path.string(), config);
  EXPECT_EQ(t->type(), "char");
  EXPECT_EQ(t->vocab_size(), 4);
  EXPECT_EQ(t->eot_id(), -1);
  auto ids = t->encode("cab\n");
  EXPECT_EQ(ids, (std::vector<int32_t>{3, 1, 2, 0}));
  EXPECT_EQ(t->decode(ids), "cab\n");
  EXPECT_EQ(t->decode_one(1), "a");
  EXPECT_THROW(t->encode("z"), TokenizerError);
  EXPECT_THROW(t->decode({4}), TokenizerError);
}

}  // namespace
}  // namespace rbe
