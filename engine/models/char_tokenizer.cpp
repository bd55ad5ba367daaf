#include "models/char_tokenizer.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "tensor/atomic_file.h"

namespace rbe {

using nlohmann::json;

static std::string byte_desc(uint8_t b) {
  char buf[32];
  if (b >= 0x20 && b < 0x7f) std::snprintf(buf, sizeof buf, "'%c' (0x%02x)", char(b), b);
  else std::snprintf(buf, sizeof buf, "byte 0x%02x", b);
  return buf;
}

CharTokenizer CharTokenizer::from_text(std::string_view text) {
  if (text.empty()) throw TokenizerError("char tokenizer: cannot build a vocabulary from empty text");
  std::array<bool, 256> seen{};
  for (char c : text) seen[uint8_t(c)] = true;
  std::vector<uint8_t> vocab;
  for (int b = 0; b < 256; ++b)
    if (seen[b]) vocab.push_back(uint8_t(b));
  return from_bytes(vocab);
}

CharTokenizer CharTokenizer::from_bytes(const std::vector<uint8_t>& vocab) {
  CharTokenizer t;
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (t.id_of_[vocab[i]] >= 0) throw TokenizerError("char tokenizer: duplicate entry " + byte_desc(vocab[i]));
    t.id_of_[vocab[i]] = int32_t(i);
  }
  t.vocab_ = vocab;
  return t;
}

std::vector<int32_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int32_t id = id_of_[uint8_t(text[i])];
    if (id < 0)
      throw TokenizerError("char tokenizer: " + byte_desc(uint8_t(text[i])) + " at offset " + std::to_string(i) +
                           " is not in the vocabulary");
    ids[i] = id;
  }
  return ids;
}

std::string CharTokenizer::decode_one(int32_t id) const {
  if (id < 0 || id >= size())
    throw TokenizerError("char tokenizer: token id " + std::to_string(id) + " out of range [0, " +
                         std::to_string(size()) + ")");
  return std::string(1, char(vocab_[id]));
}

std::string CharTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int32_t id : ids) out += decode_one(id);
  return out;
}

// Byte b is stored as the UTF-8 encoding of code point U+00bb, so that every
// entry is valid JSON text.
static std::string byte_to_utf8(uint8_t b) {
  if (b < 0x80) return std::string(1, char(b));
  return {char(0xC0 | (b >> 6)), char(0x80 | (b & 0x3F))};
}

static int utf8_to_byte(const std::string& s) {
  if (s.size() == 1 && uint8_t(s[0]) < 0x80) return uint8_t(s[0]);
  if (s.size() == 2 && (uint8_t(s[0]) & 0xE0) == 0xC0 && (uint8_t(s[1]) & 0xC0) == 0x80) {
    int cp = ((uint8_t(s[0]) & 0x1F) << 6) | (uint8_t(s[1]) & 0x3F);
    if (cp >= 0x80 && cp <= 0xFF) return cp;
  }
  return -1;
}

json CharTokenizer::to_json() const {
  json vocab = json::array();
  for (uint8_t b : vocab_) vocab.push_back(byte_to_utf8(b));
  return json{{"type", "char"}, {"vocab", vocab}};
}

CharTokenizer CharTokenizer::from_json(const json& j) {
  if (!j.is_object()) throw TokenizerError("tokenizer.json: expected a JSON object");
  auto type = j.find("type");
  if (type == j.end() || !type->is_string() || *type != "char")
    throw TokenizerError("tokenizer.json: expected \"type\": \"char\"");
  auto vocab = j.find("vocab");
  if (vocab == j.end() || !vocab->is_array()) throw TokenizerError("tokenizer.json: missing array 'vocab'");
  if (vocab->empty()) throw TokenizerError("tokenizer.json: 'vocab' is empty");
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < vocab->size(); ++i) {
    const json& e = (*vocab)[i];
    int b = e.is_string() ? utf8_to_byte(e.get<std::string>()) : -1;
    if (b < 0)
      throw TokenizerError("tokenizer.json: vocab entry " + std::to_string(i) + " (" + e.dump() +
                           ") is not a single character in U+0000..U+00FF");
    bytes.push_back(uint8_t(b));
  }
  return from_bytes(bytes);
}

void CharTokenizer::save(const std::string& path) const { write_file_atomic(path, to_json().dump(1) + "\n"); }

CharTokenizer CharTokenizer::load(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const IoError& e) {
    throw TokenizerError(e.what());
  }
  try {
    return from_json(json::parse(text));
  } catch (const json::parse_error& e) {
    throw TokenizerError(path + ": invalid JSON: " + e.what());
  } catch (const TokenizerError& e) {
    throw TokenizerError(path + ": " + e.what());
  }
}

}  // namespace rbe
