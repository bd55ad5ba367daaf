#pragma once
// Shared by the GGUF tests: a little-endian byte assembler for hand-made
// files (independent of our writer), and a fixture with a scratch folder and
// an "expect this file to be refused" check.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "io/gguf.h"
#include "tensor/atomic_file.h"

namespace rbe::testing_gguf {

struct Bytes {
  std::string b;
  Bytes& u8(uint8_t v) { b.push_back(char(v)); return *this; }
  Bytes& u16(uint16_t v) { return u8(uint8_t(v)).u8(uint8_t(v >> 8)); }
  Bytes& u32(uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(char(v >> (8 * i))); return *this; }
  Bytes& u64(uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(char(v >> (8 * i))); return *this; }
  Bytes& f32(float v) { uint32_t u; std::memcpy(&u, &v, 4); return u32(u); }
  Bytes& str(const std::string& s) { u64(s.size()); b += s; return *this; }
  Bytes& pad(size_t a) { while (b.size() % a) b.push_back('\0'); return *this; }
  Bytes& raw(const void* p, size_t n) { b.append(static_cast<const char*>(p), n); return *this; }
};

class GgufFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("rbe_gguf_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string put(const std::string& name, const std::string& bytes) {
    write_file_atomic(path(name), bytes);
    return path(name);
  }
  // Expects gguf::File::open to throw a FormatError naming the file and containing each part.
  void expect_error(const std::string& bytes, std::initializer_list<std::string> parts) {
    const std::string p = put("bad.gguf", bytes);
    try {
      gguf::File::open(p);
      ADD_FAILURE() << "expected an error";
    } catch (const gguf::FormatError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(p), std::string::npos) << m;
      for (auto& part : parts) EXPECT_NE(m.find(part), std::string::npos) << "'" << part << "' not in: " << m;
    }
  }
  std::filesystem::path dir_;
};

}  // namespace rbe::testing_gguf
