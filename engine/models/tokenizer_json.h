#pragma once
// A tokenizer as one JSON value, for files that carry their tokenizer inside
// (the .rbe file's header):
//   char: {"type": "char", "vocab": [...]}   (CharTokenizer::to_json, docs/formats.md)
//   gpt2: {"type": "gpt2", "vocab": [token strings by id, vocab.json spelling],
//          "merges": ["a b", ...] in rank order}
// No tokenizer (a GPT-2 model without BPE files) is JSON null.
#include <memory>

#include <nlohmann/json.hpp>

#include "models/tokenizer.h"

namespace rbe {

nlohmann::json tokenizer_to_json(const Tokenizer* tok);  // null tok -> null
inline nlohmann::json tokenizer_to_json(const Tokenizer& tok) { return tokenizer_to_json(&tok); }
// null -> nullptr. Throws TokenizerError naming the problem on anything malformed.
std::unique_ptr<Tokenizer> tokenizer_from_json(const nlohmann::json& j);

}  // namespace rbe
