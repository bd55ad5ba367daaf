#pragma once
// Character-level tokenizer: one token per distinct byte of a training text,
// ids in byte order (Tiny Shakespeare gives 65). Saved as tokenizer.json:
//   {"type": "char", "vocab": ["\n", " ", "!", ...]}
// where entry i is a one-character string whose code point is the byte value
// of token i (so bytes >= 0x80 appear as U+0080..U+00FF). See docs/formats.md.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/tokenizer.h"

namespace rbe {

// Thrown for text the tokenizer cannot encode and for bad tokenizer files.
class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CharTokenizer : public Tokenizer {
 public:
  CharTokenizer() = default;
  // The sorted set of distinct bytes of text. Throws on empty text.
  static CharTokenizer from_text(std::string_view text);
  // vocab: distinct bytes in id order.
  static CharTokenizer from_bytes(const std::vector<uint8_t>& vocab);

  std::string type() const override { return "char"; }
  int64_t vocab_size() const override { return size(); }
  int64_t size() const { return int64_t(vocab_.size()); }
  bool contains(uint8_t byte) const { return id_of_[byte] >= 0; }
  const std::vector<uint8_t>& vocab() const { return vocab_; }

  // Throws TokenizerError naming the first byte not in the vocabulary and its offset.
  std::vector<int32_t> encode(std::string_view text) const override;
  // Throws TokenizerError on an id outside [0, size()).
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string decode_one(int32_t id) const override;

  nlohmann::json to_json() const;
  static CharTokenizer from_json(const nlohmann::json& j);  // throws TokenizerError
  void save(const std::string& path) const;                 // atomic
  static CharTokenizer load(const std::string& path);       // errors name the path

 private:
  std::vector<uint8_t> vocab_;
  std::array<int32_t, 256> id_of_ = filled();
  static std::array<int32_t, 256> filled() {
    std::array<int32_t, 256> a;
    a.fill(-1);
    return a;
  }
};

}  // namespace rbe
