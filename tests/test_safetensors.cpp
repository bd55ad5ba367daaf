#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "io/safetensors.h"
#include "tensor/atomic_file.h"
#include "tensor/ops.h"

using namespace rbe;
namespace st = rbe::safetensors;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rbe_st_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A file with the given header text, data bytes, and (optionally) a wrong length field.
  std::string raw_file(const std::string& name, const std::string& header, size_t data_bytes,
                       int64_t length_field = -1) {
    std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    uint64_t n = length_field >= 0 ? uint64_t(length_field) : header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(data_bytes, '\0');
    return p;
  }

  // Expects File::open(p) to throw a FormatError mentioning each part.
  void expect_error(const std::string& p, std::initializer_list<std::string> parts) {
    try {
      st::File::open(p);
      ADD_FAILURE() << "expected an error for " << p;
    } catch (const st::FormatError& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(p), std::string::npos) << m;
      for (auto& part : parts) EXPECT_NE(m.find(part), std::string::npos) << "'" << part << "' not in: " << m;
    }
  }

  fs::path dir_;
};

}  // namespace

TEST_F(SafetensorsTest, RoundTripEveryDtype) {
  Tensor f32 = Tensor::randn({3, 5}, 1);
  Tensor f16 = Tensor::randn({7}, 2).to(DType::F16);
  Tensor bf16 = Tensor::randn({2, 3, 1}, 3).to(DType::BF16);
  Tensor i32 = Tensor::from_vector(std::vector<int32_t>{1, -2, 3, 2147483647}, {2, 2});
  Tensor scalar = Tensor::scalar(4.5f);
  Tensor empty = Tensor::zeros({0, 4});
  Tensor strided = ops::transpose(Tensor::randn({4, 3}, 4), 0, 1);  // non-contiguous input
  std::string p = path("all.safetensors");
  st::save(p,
           {{"f16", f16}, {"f32", f32}, {"bf16", bf16}, {"i32", i32}, {"scalar", scalar}, {"empty", empty},
            {"strided", strided}},
           {{"format", "pt"}, {"note", "hello"}});

  st::File f = st::File::open(p);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "hello");
  EXPECT_EQ(f.tensors().size(), 7u);
  auto check = [&](const char* name, const Tensor& want) {
    Tensor got = f.tensor(name);
    EXPECT_EQ(got.dtype(), want.dtype()) << name;
    EXPECT_EQ(got.shape(), want.shape()) << name;
    if (want.dtype() == DType::I32) EXPECT_EQ(got.to_int_vector(), want.to_int_vector()) << name;
    else EXPECT_EQ(got.to_vector(), want.to_vector()) << name;
  };
  check("f32", f32);
  check("f16", f16);
  check("bf16", bf16);
  check("i32", i32);
  check("scalar", scalar);
  check("empty", empty);
  check("strided", strided);

  // Views are zero-copy into the mapping and keep it alive after the File is gone.
  Tensor kept;
  {
    st::File g = st::File::open(p);
    kept = g.tensor("f32");
  }
  EXPECT_EQ(kept.to_vector(), f32.to_vector());
  // Writing into a view never changes the file (private mapping).
  kept.data<float>()[0] = 123.f;
  EXPECT_EQ(st::load(p).at("f32").to_vector(), f32.to_vector());
}

TEST_F(SafetensorsTest, HeaderIsStandard) {
  std::string p = path("std.safetensors");
  st::save(p, {{"a", Tensor::ones({2})}, {"b", Tensor::zeros({3}, DType::F16)}});
  std::ifstream in(p, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);  // padded: data starts 8-byte aligned
  std::string header(n, '\0');
  in.read(header.data(), std::streamsize(n));
  json j = json::parse(header);
  EXPECT_EQ(j["a"]["dtype"], "F32");
  EXPECT_EQ(j["a"]["shape"], json::array({2}));
  EXPECT_EQ(j["a"]["data_offsets"], json::array({0, 8}));
  EXPECT_EQ(j["b"]["data_offsets"], json::array({8, 14}));
  EXPECT_EQ(fs::file_size(p), 8 + n + 14);
  // No temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SafetensorsTest, RejectsBadNames) {
  EXPECT_THROW(st::save(path("x"), {{"a", Tensor::ones({1})}, {"a", Tensor::ones({1})}}), st::FormatError);
  EXPECT_THROW(st::save(path("x"), {{"__metadata__", Tensor::ones({1})}}), st::FormatError);
}

TEST_F(SafetensorsTest, TruncatedFile) {
  std::string p = path("trunc.safetensors");
  st::save(p, {{"w", Tensor::ones({16})}});
  fs::resize_file(p, fs::file_size(p) - 10);
  expect_error(p, {"'w'", "past the end", "truncated"});
  fs::resize_file(p, 5);
  expect_error(p, {"too small"});
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanFile) {
  expect_error(raw_file("long.safetensors", "{}", 0, 1000), {"header length 1000", "larger than the file"});
  expect_error(raw_file("huge.safetensors", "{}", 0, int64_t(1) << 40), {"100 MB"});
}

TEST_F(SafetensorsTest, BadJson) {
  expect_error(raw_file("badjson.safetensors", "{\"a\": {\"dtype\": ", 0), {"not valid JSON"});
  expect_error(raw_file("array.safetensors", "[1, 2]", 0), {"not a JSON object"});
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  json h = {{"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
            {"b", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {4, 12}}}}};
  expect_error(raw_file("overlap.safetensors", h.dump(), 12), {"'a'", "'b'", "overlap"});
}

TEST_F(SafetensorsTest, BeginAfterEnd) {
  json h = {{"a", {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {8, 4}}}}};
  expect_error(raw_file("order.safetensors", h.dump(), 12), {"'a'", "begin > end"});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  json h = {{"a", {{"dtype", "F8_E4M3"}, {"shape", {2}}, {"data_offsets", {0, 2}}}}};
  expect_error(raw_file("dtype.safetensors", h.dump(), 2), {"'a'", "unknown dtype 'F8_E4M3'"});
}

TEST_F(SafetensorsTest, ShapeSizeMismatch) {
  json h = {{"w", {{"dtype", "F16"}, {"shape", {3, 2}}, {"data_offsets", {0, 8}}}}};
  expect_error(raw_file("size.safetensors", h.dump(), 8), {"'w'", "size mismatch", "12 bytes", "give 8"});
  json h2 = {{"w", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}};
  expect_error(raw_file("neg.safetensors", h2.dump(), 4), {"'w'", "shape"});
  json h3 = {{"w", {{"dtype", "F32"}, {"shape", {1ll << 40, 1ll << 40}}, {"data_offsets", {0, 4}}}}};
  expect_error(raw_file("big.safetensors", h3.dump(), 4), {"'w'", "size mismatch"});
}

TEST_F(SafetensorsTest, MissingFieldsAndMetadata) {
  expect_error(raw_file("nodtype.safetensors", json{{"w", {{"shape", {1}}, {"data_offsets", {0, 4}}}}}.dump(), 4),
               {"'w'", "dtype"});
  expect_error(raw_file("nooff.safetensors", json{{"w", {{"dtype", "F32"}, {"shape", {1}}}}}.dump(), 4),
               {"'w'", "data_offsets"});
  expect_error(raw_file("meta.safetensors", json{{"__metadata__", {{"k", 1}}}}.dump(), 0), {"__metadata__"});
  expect_error(path("missing.safetensors"), {"cannot open"});
}

TEST_F(SafetensorsTest, MisalignedDataIsCopied) {
  // Another writer may leave data unaligned: one F16 then an F32, no padding, odd header length.
  std::string header = json{{"h", {{"dtype", "F16"}, {"shape", {1}}, {"data_offsets", {0, 2}}}},
                            {"f", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {2, 6}}}}}.dump();
  if (header.size() % 2 == 0) header += " ";
  std::string p = raw_file("misaligned.safetensors", header, 0);
  {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    uint16_t h = f32_to_f16(1.5f);
    float f = -2.25f;
    out.write(reinterpret_cast<const char*>(&h), 2);
    out.write(reinterpret_cast<const char*>(&f), 4);
  }
  st::File file = st::File::open(p);
  EXPECT_EQ(file.tensor("h").to_vector(), std::vector<float>{1.5f});
  EXPECT_EQ(file.tensor("f").to_vector(), std::vector<float>{-2.25f});
  EXPECT_THROW(file.tensor("nope"), st::FormatError);
}

// Random damage: the file cut short, bytes changed in its length field and
// header, or bytes changed anywhere. File::open either rejects the file with
// a FormatError naming it, or every tensor it lists reads back in its listed
// shape; never a crash or another kind of exception.
TEST_F(SafetensorsTest, RandomDamageIsRejectedOrReadsBack) {
  const std::string good = path("good.safetensors");
  st::save(good,
           {{"a", Tensor::randn({5, 7}, 1)}, {"b", Tensor::randn({3}, 2).to(DType::F16)},
            {"c", Tensor::randn({2, 2, 2}, 3).to(DType::BF16)}, {"d", Tensor::randn({16}, 4)}},
           {{"format", "pt"}});
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const std::string p = path("damaged.safetensors");
  std::mt19937_64 rng(11);
  int rejected = 0, read = 0;
  for (int i = 0; i < 400; ++i) {
    std::string b = bytes;
    if (i % 3 == 0) {
      b.resize(size_t(rng() % b.size()));
    } else {
      const size_t span = i % 3 == 1 ? size_t(8 + header_len) : b.size();
      for (int f = 0, flips = 1 + int(rng() % 3); f < flips; ++f) b[rng() % span] ^= char(1 + rng() % 255);
    }
    {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out.write(b.data(), std::streamsize(b.size()));
    }
    try {
      const st::File f = st::File::open(p);
      for (const st::TensorInfo& t : f.tensors()) {
        const Tensor x = f.tensor(t.name);
        ASSERT_EQ(x.shape(), t.shape) << "damage " << i << ", tensor " << t.name;
        if (x.dtype() != DType::I32 && x.dtype() != DType::Bool) (void)x.to(DType::F32).to_vector();
      }
      ++read;  // e.g. a changed weight byte, or a changed metadata value
    } catch (const st::FormatError& e) {
      ++rejected;
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "damage " << i << " threw something other than a FormatError: " << e.what();
    }
  }
  EXPECT_GT(rejected, 200);
  std::printf("random damage: %d rejected, %d read back\n", rejected, read);
}

// A loader that has copied a tensor gives back its mapped pages: the process's
// file-backed resident memory drops, and the tensor still reads back whole.
// (RssShmem too: a file on tmpfs, as /tmp may be, is counted there.)
TEST_F(SafetensorsTest, ReleaseDropsPagesAndTheDataReadsBack) {
  auto rss_file_kb = [] {
    std::ifstream status("/proc/self/status");
    std::string line;
    long kb = -1;
    while (std::getline(status, line))
      for (const char* key : {"RssFile:", "RssShmem:"})
        if (line.rfind(key, 0) == 0) kb = std::max(kb, 0L) + std::stol(line.substr(std::strlen(key)));
    return kb;
  };
  const int64_t n = 4 << 20;  // 16 MiB of f32
  Tensor w = Tensor::empty({n}, DType::F32);
  for (int64_t i = 0; i < n; ++i) w.data<float>()[i] = float(i % 1000003);
  st::save(path("w.safetensors"), {{"w", w}});
  w = Tensor();
  st::File f = st::File::open(path("w.safetensors"));
  auto sum = [&] {
    Tensor t = f.tensor("w");
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += t.data<float>()[i];
    return s;
  };
  const double expected = sum();  // every page of the tensor now mapped in
  const long before = rss_file_kb();
  if (before < 0) GTEST_SKIP() << "no RssFile in /proc/self/status";
  f.release("w");
  const long after = rss_file_kb();
  EXPECT_LT(after, before - 12 * 1024) << "RssFile + RssShmem " << before << " -> " << after << " kB";
  EXPECT_EQ(sum(), expected);
}

// Stored as another float dtype while writing: the same bytes as saving
// converted copies; integer tensors as they are; shards sized by the stored
// bytes; a non-float target refused.
TEST_F(SafetensorsTest, StoresFloatsAsAskedWhileWriting) {
  Tensor a = Tensor::randn({6, 10}, 1), b = Tensor::randn({3, 4}, 2);
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{1, 2, 3}, {3});
  Tensor at = ops::transpose(a, 0, 1);  // a strided view: made contiguous as it is written
  st::save(path("as.safetensors"), {{"a", at}, {"b", b}, {"ids", ids}}, {}, DType::F16);
  st::save(path("copies.safetensors"),
           {{"a", at.contiguous().to(DType::F16)}, {"b", b.to(DType::F16)}, {"ids", ids}});
  EXPECT_EQ(read_file(path("as.safetensors")), read_file(path("copies.safetensors")));
  st::File f = st::File::open(path("as.safetensors"));
  EXPECT_EQ(f.info("a").dtype, DType::F16);
  EXPECT_EQ(f.info("ids").dtype, DType::I32);

  // 60 + 12 weights: one shard for both as F16 (144 bytes), two as F32 (288).
  fs::create_directories(path("sh"));
  st::save_sharded(path("sh"), "m", {{"a", a}, {"b", b}}, 150, {}, DType::F16);
  EXPECT_TRUE(fs::exists(path("sh/m-00001-of-00001.safetensors")));
  st::save_sharded(path("sh"), "n", {{"a", a}, {"b", b}}, 150);
  EXPECT_TRUE(fs::exists(path("sh/n-00002-of-00002.safetensors")));
  EXPECT_THROW(st::save(path("bad.safetensors"), {{"b", b}}, {}, DType::I32), st::FormatError);
}

// Tensors over the writer's 1 MiB panel are converted a panel of rows at a
// time: a transposed view, a permuted 3-D view and a contiguous f32 matrix
// (several panels each, the last one short) come out as their whole copies.
TEST_F(SafetensorsTest, WritesBigViewsPanelByPanel) {
  Tensor w = Tensor::randn({700, 611}, 3), cube = Tensor::randn({5, 300, 277}, 4);
  const std::vector<std::pair<std::string, Tensor>> views = {
      {"wt", ops::transpose(w, 0, 1)}, {"cube", ops::permute(cube, {1, 0, 2})}, {"w", w}};
  for (DType as : {DType::F32, DType::F16, DType::BF16}) {
    SCOPED_TRACE(dtype_name(as));
    std::vector<std::pair<std::string, Tensor>> copies;
    for (const auto& [name, t] : views) copies.emplace_back(name, t.contiguous().to(as));
    st::save(path("views.safetensors"), views, {}, as);
    st::save(path("copies.safetensors"), copies);
    EXPECT_TRUE(read_file(path("views.safetensors")) == read_file(path("copies.safetensors")));
  }
}
