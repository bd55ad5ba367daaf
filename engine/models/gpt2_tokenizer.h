#pragma once
// GPT-2's byte-level BPE tokenizer (the one HuggingFace's GPT2Tokenizer and
// OpenAI's encoder.py implement), built from vocab.json (token -> id, tokens
// spelled in GPT-2's byte-to-unicode alphabet) and merges.txt (one "a b" pair
// per line, rank = line order, a first "#version" line skipped).
//
// encode: pre-tokenize (gpt2_pretokenize.h), map each piece's bytes to their
// single-byte tokens, apply merges lowest rank first (leftmost on ties).
// Results per piece are cached. Any byte string encodes, valid UTF-8 or not,
// and decode(encode(s)) == s. See docs/tokenizer.md.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "models/char_tokenizer.h"  // TokenizerError
#include "models/tokenizer.h"

namespace rbe {

class GPT2Tokenizer : public Tokenizer {
 public:
  static constexpr std::string_view kEndOfText = "<|endoftext|>";

  // Errors (TokenizerError) name the file and the offending entry or line.
  static GPT2Tokenizer from_files(const std::string& vocab_path, const std::string& merges_path);
  // The same from the files' contents (e.g. a GGUF importer); errors say
  // "vocab.json" / "merges.txt".
  static GPT2Tokenizer from_strings(std::string_view vocab_json, std::string_view merges_text);

  GPT2Tokenizer(GPT2Tokenizer&&) noexcept;
  GPT2Tokenizer& operator=(GPT2Tokenizer&&) noexcept;
  ~GPT2Tokenizer() override;

  std::string type() const override { return "gpt2"; }
  int64_t vocab_size() const override { return int64_t(vocab_.size()); }
  // allow_special on: each "<|endoftext|>" in the text becomes eot_id(), as
  // HuggingFace does. Off: it is encoded as plain text.
  std::vector<int32_t> encode(std::string_view text) const override { return encode(text, true); }
  std::vector<int32_t> encode(std::string_view text, bool allow_special) const;
  // Throws TokenizerError naming an id outside [0, vocab_size()).
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string decode_one(int32_t id) const override;
  int32_t eot_id() const override { return eot_id_; }

  // Token strings by id, exactly as in vocab.json (byte-level alphabet).
  const std::vector<std::string>& vocab() const { return vocab_; }
  // Merge pairs in rank order, as in merges.txt.
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  // Id of a vocab.json token string, or -1.
  int32_t token_id(std::string_view token) const;

  // The byte-to-unicode map: byte b is spelled as code point byte_to_unicode(b).
  static uint32_t byte_to_unicode(uint8_t b);

 private:
  GPT2Tokenizer();
  struct MergeTable;
  struct Cache;
  struct Scratch;
  static GPT2Tokenizer build(std::vector<std::string> vocab, std::string_view merges_text,
                             const std::string& vocab_name, const std::string& merges_name);
  void bpe(std::string_view piece, Scratch& s, std::vector<int32_t>& out) const;
  void encode_text(std::string_view text, Cache* cache, Scratch& s, std::vector<int32_t>& out) const;

  std::vector<std::string> vocab_;     // id -> token string (vocab.json spelling)
  std::vector<std::string> id_bytes_;  // id -> the bytes it decodes to
  std::vector<std::pair<std::string, std::string>> merges_;
  struct StrHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>> token_to_id_;
  std::array<int32_t, 256> byte_id_{};  // byte -> id of its single-byte token
  std::unique_ptr<MergeTable> merge_table_;
  std::unique_ptr<Cache> cache_;  // piece -> ids; guarded by its own mutex
  int32_t eot_id_ = -1;
};

}  // namespace rbe
