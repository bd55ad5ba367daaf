#pragma once
// The interface every tokenizer offers to the CLIs, the server and the GUI:
// text -> ids -> text. Implementations: CharTokenizer (models/char_tokenizer.h,
// the Mini GPT-2's) and GPT2Tokenizer (models/gpt2_tokenizer.h, byte-level BPE).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_config.h"

namespace rbe {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string type() const = 0;  // "char" or "gpt2"
  virtual int64_t vocab_size() const = 0;
  // Throws TokenizerError (char_tokenizer.h) on text it cannot encode.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Bytes of the ids, concatenated (a single BPE token may be part of a UTF-8
  // character; streaming callers concatenate the bytes before displaying).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual std::string decode_one(int32_t id) const = 0;
  // The end-of-text id, or -1 when the tokenizer has none.
  virtual int32_t eot_id() const { return -1; }
};

// Loads the tokenizer that belongs to a model folder: tokenizer.json for
// config.tokenizer == "char"; vocab.json + merges.txt for "gpt2".
// Throws TokenizerError naming the missing or malformed file.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir, const ModelConfig& config);

}  // namespace rbe
