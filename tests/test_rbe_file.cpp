// The .rbe file (codec/rbe_file.h): round trips, and corrupt files rejected
// with a message naming the problem, never a crash.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "codec/checksum.h"
#include "codec/rbe_file.h"
#include "codec/settings_spec.h"
#include "model_codec_test_util.h"

namespace rbe::codec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Reference values from the system's libxxhash (XXH64 of bytes (i*131+7) & 255).
TEST(RbeFileChecksum, Xxh64MatchesTheReferenceImplementation) {
  struct Case {
    size_t n;
    uint64_t seed0, seed42;
  };
  const Case cases[] = {{0, 0xef46db3751d8e999ULL, 0x98b1582b0977e704ULL},  {1, 0xa96c7f0ce858bbb7ULL, 0xda6da76043d2a83eULL},
                        {3, 0xbed43740ee6332bbULL, 0x68adf3d78e6987c3ULL},  {4, 0xfa212ae44b3bb23dULL, 0xfb3ece73292eb1edULL},
                        {7, 0x2744460dd675d2c0ULL, 0x3755095d6e4d66daULL},  {8, 0x994b676b71ce94ddULL, 0x51901a87d2f93e8eULL},
                        {31, 0x6711d55e306b5d8fULL, 0x731846295f5bba81ULL}, {32, 0x07f7b8e3bc5d6e25ULL, 0xf3351b2160d55903ULL},
                        {33, 0x09f85eeb4e1cbe9fULL, 0x70e78138c9f35ca7ULL}, {63, 0xb7c9968c066cb6a5ULL, 0x7244b19db698f5cdULL},
                        {64, 0x50d4159a0411632eULL, 0x404d28e762d4a07fULL}, {100, 0x9ddada11d3dc2d8fULL, 0x42c8b9ebf60e6ba4ULL},
                        {1000, 0x0bf0bdbcc82eb373ULL, 0x7c85880fc74f7ffULL}};
  for (const Case& c : cases) {
    std::vector<uint8_t> b(c.n);
    for (size_t i = 0; i < c.n; ++i) b[i] = uint8_t((i * 131 + 7) & 255);
    EXPECT_EQ(xxh64(b.data(), b.size(), 0), c.seed0) << c.n;
    EXPECT_EQ(xxh64(b.data(), b.size(), 42), c.seed42) << c.n;
  }
}

// A small model in several forms: q8_0 by default, an f16 override, and one
// RBE entropy matrix (per-block statistics in the file).
CompressedModel sample_model() {
  static CompressedModel cm = [] {
    LoadedModel m = testutil::tiny_model();
    ModelCodecOptions o;
    o.defaults.codec = "q8_0";
    o.overrides.push_back(parse_override("h.0.attn.c_proj.weight=codec:f16", o.defaults));
    o.overrides.push_back(parse_override("h.1.attn.c_proj.weight=codec:rbe,storage:entropy,bpw:4,block-size:32", o.defaults));
    return compress_model(m, o);
  }();
  return cm;
}

class RbeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testutil::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    good_ = dir_ + "/good.rbe";
    write_rbe_file(good_, sample_model());
    bytes_ = testutil::read_bytes(good_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes b as a file and returns read_rbe_file's error ("" if it loads).
  std::string error_reading(const std::vector<uint8_t>& b) {
    const std::string p = dir_ + "/bad.rbe";
    testutil::write_bytes(p, b);
    try {
      read_rbe_file(p);
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      EXPECT_EQ(msg.rfind(p, 0), 0u) << "message does not start with the path: " << msg;
      return msg;
    }
    return "";
  }

  uint64_t header_len() const {
    uint64_t n;
    std::memcpy(&n, bytes_.data() + 12, 8);
    return n;
  }
  json header() const {
    return json::parse(bytes_.begin() + 20, bytes_.begin() + 20 + std::ptrdiff_t(header_len()));
  }
  // The file with its header JSON replaced (same length, checksum redone).
  std::vector<uint8_t> with_header(const std::string& text) const {
    std::string t = text;
    EXPECT_LE(t.size(), header_len());
    t.resize(header_len(), ' ');
    std::vector<uint8_t> b = bytes_;
    std::memcpy(b.data() + 20, t.data(), t.size());
    const uint64_t sum = xxh64(t.data(), t.size());
    std::memcpy(b.data() + 20 + header_len(), &sum, 8);
    return b;
  }

  std::string dir_, good_;
  std::vector<uint8_t> bytes_;
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Index of the n-th (0-based) encoded tensor with block statistics in a header.
size_t encoded_index(const json& h, int n) {
  const json& ts = h.at("tensors");
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].at("kind") == "encoded" && ts[i].contains("blocks") && n-- == 0) return i;
  ADD_FAILURE() << "no such encoded tensor";
  return 0;
}

TEST_F(RbeFile, RoundTripKeepsTensorsAndReport) {
  const CompressedModel& a = sample_model();
  CompressedModel b = read_rbe_file(good_);
  EXPECT_EQ(b.config.to_json(), a.config.to_json());
  EXPECT_EQ(b.tokenizer, a.tokenizer);
  EXPECT_EQ(b.settings, a.settings);
  EXPECT_EQ(b.report(), a.report());
  ASSERT_EQ(a.encoded.size(), b.encoded.size());
  bool saw_blocks = false;
  for (size_t i = 0; i < a.encoded.size(); ++i) {
    const EncodedTensor &x = *a.encoded[i].second, &y = *b.encoded[i].second;
    EXPECT_EQ(a.encoded[i].first, b.encoded[i].first);
    EXPECT_EQ(x.codec, y.codec);
    EXPECT_EQ(x.storage, y.storage);
    EXPECT_EQ(x.params, y.params);
    ASSERT_EQ(x.size, y.size);
    EXPECT_EQ(std::memcmp(x.data, y.data, size_t(x.size)), 0);
    EXPECT_EQ(decode(x).to_vector(), decode(y).to_vector()) << a.encoded[i].first;
    EXPECT_EQ(x.meta.rmse, y.meta.rmse);
    ASSERT_EQ(x.blocks.size(), y.blocks.size());
    for (size_t k = 0; k < x.blocks.size(); ++k) {
      const BlockStats &p = x.blocks[k], &q = y.blocks[k];
      EXPECT_EQ(p.row0, q.row0);
      EXPECT_EQ(p.col0, q.col0);
      EXPECT_EQ(p.rows, q.rows);
      EXPECT_EQ(p.cols, q.cols);
      EXPECT_EQ(p.grade, q.grade);
      EXPECT_EQ(p.rmse, q.rmse);
      EXPECT_NEAR(p.rel_rmse, q.rel_rmse, 1e-3 * std::max(1.f, p.rel_rmse));  // stored as f16
      EXPECT_NEAR(p.bits, q.bits, 1e-3 * p.bits + 1e-3);
    }
    saw_blocks |= !x.blocks.empty();
    // Payloads are borrowed from the mapped file.
    EXPECT_TRUE(y.keepalive);
    EXPECT_TRUE(y.owned.empty());
  }
  EXPECT_TRUE(saw_blocks) << "no tensor had per-block statistics: the block section went untested";
  ASSERT_EQ(a.raw.size(), b.raw.size());
  for (size_t i = 0; i < a.raw.size(); ++i) EXPECT_EQ(a.raw[i].second.to_vector(), b.raw[i].second.to_vector());
  // Same logits from the model built from either.
  LoadedModel ma = instantiate(a), mb = instantiate(b);
  EXPECT_EQ(testutil::logits_of(*ma.model, *ma.tokenizer), testutil::logits_of(*mb.model, *mb.tokenizer));
  // And the layout rules hold: payloads 64-byte aligned, in order.
  uint64_t prev = 0;
  const json h = header();
  for (const json& t : h.at("tensors")) {
    EXPECT_EQ(t.at("offset").get<uint64_t>() % 64, 0u);
    EXPECT_GE(t.at("offset").get<uint64_t>(), prev);
    prev = t.at("offset").get<uint64_t>() + t.at("length").get<uint64_t>();
  }
  EXPECT_EQ(prev, bytes_.size());
}

// Random small models, depths, widths, tying and codec mixes: what is read
// back decodes to exactly what was written.
TEST(RbeFileProps, RandomModelsRoundTrip) {
  const std::string dir = testutil::temp_dir("props");
  int run = 0;
  EXPECT_TRUE(rc::check([&] {
    ModelConfig c = ModelConfig::preset("mini");
    c.n_layer = *rc::gen::inRange<int64_t>(1, 3);
    c.n_head = *rc::gen::inRange<int64_t>(1, 3);
    c.n_embd = 32 * *rc::gen::inRange<int64_t>(1, 3) * c.n_head;
    c.n_positions = *rc::gen::inRange<int64_t>(1, 40);
    c.vocab_size = 65 + *rc::gen::inRange<int64_t>(0, 30);
    c.tie_word_embeddings = *rc::gen::arbitrary<bool>();
    LoadedModel m;
    m.config = c;
    m.model = std::make_unique<GPT2Model>(c, *rc::gen::inRange<uint64_t>(0, 1000));
    m.tokenizer = std::make_unique<CharTokenizer>(CharTokenizer::from_text(testutil::shakespeare()));
    ModelCodecOptions o;
    const char* codecs[] = {"f32", "f16", "q8_0", "q4_0"};
    o.defaults.codec = codecs[*rc::gen::inRange(0, 4)];
    if (*rc::gen::arbitrary<bool>()) o.overrides.push_back(parse_override("h.0.*=codec:f16", o.defaults));
    if (*rc::gen::arbitrary<bool>()) o.overrides.push_back(parse_override("wpe.weight=codec:f32", o.defaults));
    CompressedModel a = compress_model(m, o);
    const std::string path = dir + "/p" + std::to_string(run++) + ".rbe";
    write_rbe_file(path, a);
    CompressedModel b = read_rbe_file(path);
    RC_ASSERT(b.report() == a.report());
    RC_ASSERT(b.encoded.size() == a.encoded.size());
    for (size_t i = 0; i < a.encoded.size(); ++i) {
      RC_ASSERT(b.encoded[i].first == a.encoded[i].first);
      RC_ASSERT(decode(*b.encoded[i].second).to_vector() == decode(*a.encoded[i].second).to_vector());
    }
    RC_ASSERT(b.raw.size() == a.raw.size());
    for (size_t i = 0; i < a.raw.size(); ++i) RC_ASSERT(b.raw[i].second.to_vector() == a.raw[i].second.to_vector());
    fs::remove(path);
  }));
  fs::remove_all(dir);
}

TEST_F(RbeFile, TruncatedFilesAreRejected) {
  const uint64_t L = header_len();
  const json h = header();
  const json t0 = h.at("tensors")[0];
  const size_t mid_payload = size_t(t0.at("offset").get<uint64_t>() + t0.at("length").get<uint64_t>() / 2);
  for (size_t n : {size_t(0), size_t(3), size_t(12), size_t(19), size_t(20), size_t(20 + L / 2), size_t(20 + L + 4),
                   mid_payload, bytes_.size() - 1}) {
    std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + std::ptrdiff_t(n));
    const std::string e = error_reading(b);
    EXPECT_TRUE(contains(e, "truncated")) << "cut at " << n << ": " << e;
  }
}

TEST_F(RbeFile, BadPreambleIsRejected) {
  std::vector<uint8_t> b = bytes_;
  b[0] = 'X';
  EXPECT_TRUE(contains(error_reading(b), "bad magic"));
  b = bytes_;
  b[4] = 2;
  EXPECT_TRUE(contains(error_reading(b), "unsupported .rbe version 2"));
  b = bytes_;
  b[8] = 1;
  EXPECT_TRUE(contains(error_reading(b), "unknown flags"));
  b = bytes_;
  const uint64_t too_long = bytes_.size();
  std::memcpy(b.data() + 12, &too_long, 8);
  EXPECT_TRUE(contains(error_reading(b), "exceeds the file size"));
  const uint64_t huge = uint64_t(1) << 40;
  std::memcpy(b.data() + 12, &huge, 8);
  EXPECT_TRUE(contains(error_reading(b), "256 MB"));
}

TEST_F(RbeFile, CorruptHeaderIsRejected) {
  std::vector<uint8_t> b = bytes_;
  b[20 + 5] ^= 0x20;  // one character of the JSON, checksum not redone
  EXPECT_TRUE(contains(error_reading(b), "header checksum mismatch"));
  std::string text = header().dump();
  text[0] = '[';
  EXPECT_TRUE(contains(error_reading(with_header(text)), "bad header JSON"));
  text = header().dump();
  text.pop_back();  // the closing brace
  EXPECT_TRUE(contains(error_reading(with_header(text)), "bad header JSON"));
  json h = header();
  h["config"]["n_head"] = 5;  // 64 is not divisible by 5
  EXPECT_TRUE(contains(error_reading(with_header(h.dump())), "config"));
  h = header();
  const size_t enc = encoded_index(h, 1);
  h["tensors"][enc]["codec"] = "q3_k";
  std::string e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "tensor '" + h["tensors"][enc]["name"].get<std::string>() + "': unknown codec 'q3_k'")) << e;
  h = header();
  h["tensors"][enc].erase("rows");
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "missing 'rows'")) << e;
  h = header();
  h["tensors"][enc]["rows"] = -3;
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "'rows' = -3 is outside")) << e;
  h = header();
  h["tensors"][enc]["blocks"]["count"] = h["tensors"][enc]["blocks"]["count"].get<int>() + 1;
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "does not match the grid") || contains(e, "block records")) << e;
  h = header();
  h["tensors"][1]["shape"] = {256, 3};
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "does not match shape")) << e;
  h = header();
  h["config"]["n_embd"] = 128;
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "tensor 'wte.weight' is [65, 64] but config implies [65, 128]")) << e;
  h = header();
  h["config"]["n_layer"] = 1000000;
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "n_layer 1000000 needs more tensors")) << e;
  h = header();
  h["tensors"].erase(h["tensors"].size() - 1);
  EXPECT_TRUE(contains(error_reading(with_header(h.dump())), "missing tensor 'ln_f.bias'"));
}

TEST_F(RbeFile, BadPayloadChecksumNamesTheTensor) {
  const json h = header();
  const json t = h.at("tensors")[encoded_index(h, 0)];
  std::vector<uint8_t> b = bytes_;
  b[size_t(t.at("offset").get<uint64_t>() + 7)] ^= 1;
  const std::string e = error_reading(b);
  EXPECT_TRUE(contains(e, "checksum mismatch")) << e;
  EXPECT_TRUE(contains(e, t.at("name").get<std::string>())) << e;
}

TEST_F(RbeFile, BadOffsetsAreRejected) {
  json h = header();
  h["tensors"][4]["offset"] = bytes_.size() + 64 * 10;
  std::string e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "lies outside the file")) << e;
  h = header();
  h["tensors"][4]["offset"] = h["tensors"][3]["offset"];
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "overlaps")) << e;
  h = header();
  h["tensors"][4]["offset"] = h["tensors"][4]["offset"].get<uint64_t>() + 4;
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "not 64-byte aligned")) << e;
  h = header();
  h["tensors"][0]["offset"] = 0;
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "points into the header")) << e;
  h = header();
  h["tensors"][1]["length"] = uint64_t(1) << 62;
  e = error_reading(with_header(h.dump()));
  EXPECT_TRUE(contains(e, "lies outside the file")) << e;
}

// Random damage: every outcome is a loaded model or a std::runtime_error.
TEST_F(RbeFile, RandomCorruptionNeverCrashes) {
  std::mt19937_64 rng(2026);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> b = bytes_;
    if (i % 3 == 0) {
      b.resize(size_t(rng() % b.size()));
    } else {
      const size_t at = i % 3 == 1 ? size_t(rng() % std::min<size_t>(b.size(), 20 + header_len() + 8))
                                   : size_t(rng() % b.size());
      b[at] ^= uint8_t(1 + rng() % 255);
    }
    const std::string p = dir_ + "/random.rbe";
    testutil::write_bytes(p, b);
    try {
      LoadedModel m = load_any_model(p);
      testutil::logits_of(*m.model, *m.tokenizer);
      ++loaded;  // e.g. a flipped padding byte
    } catch (const std::runtime_error&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "damage " << i << " threw a non-runtime_error: " << e.what();
    }
  }
  EXPECT_GT(rejected, 250);
  std::printf("random corruption: %d rejected, %d loaded\n", rejected, loaded);
}

// Damage the checksum cannot see (the checksum redone): decoders get garbage
// records and must still either run or throw std::runtime_error.
TEST_F(RbeFile, DamagedPayloadsWithValidChecksumsNeverCrash) {
  const json h = header();
  std::mt19937_64 rng(7);
  for (const char* codec : {"q8_0", "f16", "rbe"}) {
    size_t idx = 0;
    for (size_t i = 0; i < h.at("tensors").size(); ++i)
      if (h["tensors"][i].value("codec", "") == codec) idx = i;
    ASSERT_NE(idx, 0u) << codec;
    const uint64_t off = h["tensors"][idx]["offset"], len = h["tensors"][idx]["length"];
    for (int i = 0; i < 40; ++i) {
      std::vector<uint8_t> b = bytes_;
      for (int k = 0; k < 1 + i % 4; ++k) b[size_t(off + rng() % len)] ^= uint8_t(1 + rng() % 255);
      json hh = h;
      hh["tensors"][idx]["checksum"] = [&] {
        char buf[24];
        std::snprintf(buf, sizeof buf, "0x%016llx", (unsigned long long)xxh64(b.data() + off, len));
        return std::string(buf);
      }();
      std::string text = hh.dump();
      text.resize(header_len(), ' ');
      std::memcpy(b.data() + 20, text.data(), text.size());
      const uint64_t sum = xxh64(text.data(), text.size());
      std::memcpy(b.data() + 20 + header_len(), &sum, 8);
      const std::string p = dir_ + "/damaged.rbe";
      testutil::write_bytes(p, b);
      try {
        LoadedModel m = load_any_model(p);
        testutil::logits_of(*m.model, *m.tokenizer);
      } catch (const std::runtime_error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << codec << " damage " << i << " threw a non-runtime_error: " << e.what();
      }
    }
  }
}

TEST_F(RbeFile, FailedWritesLeaveNothingBehind) {
  const std::string target = dir_ + "/out.rbe";
  // A tensor without a payload fails before anything is renamed into place.
  CompressedModel cm = sample_model();
  auto broken = std::make_shared<EncodedTensor>(*cm.encoded[0].second);
  broken->data = nullptr;
  cm.encoded[0].second = broken;
  EXPECT_THROW(write_rbe_file(target, cm), std::runtime_error);
  EXPECT_FALSE(fs::exists(target));
  // An existing file survives a failed overwrite untouched.
  write_rbe_file(target, sample_model());
  const auto before = testutil::read_bytes(target);
  EXPECT_THROW(write_rbe_file(target, cm), std::runtime_error);
  EXPECT_EQ(testutil::read_bytes(target), before);
  // A cancelled compression never reaches the writer.
  LoadedModel m = testutil::tiny_model();
  const std::string cancelled = dir_ + "/cancelled.rbe";
  EXPECT_THROW(
      {
        CompressedModel c = compress_model(m, ModelCodecOptions{}, {}, [] { return true; });
        write_rbe_file(cancelled, c);
      },
      Cancelled);
  EXPECT_FALSE(fs::exists(cancelled));
  // Only good.rbe and out.rbe: no temporary files left.
  int files = 0;
  for (auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().extension(), ".rbe") << e.path();
  }
  EXPECT_EQ(files, 2);
  EXPECT_THROW(write_rbe_file(dir_ + "/no/such/dir/x.rbe", sample_model()), std::runtime_error);
}

}  // namespace
}  // namespace rbe::codec
