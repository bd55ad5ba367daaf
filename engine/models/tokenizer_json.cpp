#include "models/tokenizer_json.h"

#include <string>

#include "models/char_tokenizer.h"
#include "models/gpt2_tokenizer.h"

namespace rbe {

using nlohmann::json;

json tokenizer_to_json(const Tokenizer* tok) {
  if (!tok) return nullptr;
  if (auto* ch = dynamic_cast<const CharTokenizer*>(tok)) return ch->to_json();
  if (auto* bpe = dynamic_cast<const GPT2Tokenizer*>(tok)) {
    json merges = json::array();
    for (const auto& [a, b] : bpe->merges()) merges.push_back(a + " " + b);
    return json{{"type", "gpt2"}, {"vocab", bpe->vocab()}, {"merges", std::move(merges)}};
  }
  throw TokenizerError("tokenizer_to_json: no JSON form for tokenizer type '" + tok->type() + "'");
}

namespace {

// Rebuilds vocab.json / merges.txt text and lets the BPE parser validate them.
std::unique_ptr<Tokenizer> gpt2_from_json(const json& j) {
  auto vocab = j.find("vocab");
  auto merges = j.find("merges");
  if (vocab == j.end() || !vocab->is_array() || vocab->empty())
    throw TokenizerError("tokenizer (gpt2): missing or empty array 'vocab'");
  if (merges == j.end() || !merges->is_array()) throw TokenizerError("tokenizer (gpt2): missing array 'merges'");
  json by_token = json::object();
  for (size_t id = 0; id < vocab->size(); ++id) {
    const json& t = (*vocab)[id];
    if (!t.is_string())
      throw TokenizerError("tokenizer (gpt2): vocab entry " + std::to_string(id) + " is not a string");
    by_token[t.get<std::string>()] = id;
  }
  if (by_token.size() != vocab->size()) throw TokenizerError("tokenizer (gpt2): vocab has duplicate tokens");
  std::string merges_text = "#version: 0.2\n";
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& m = (*merges)[i];
    if (!m.is_string()) throw TokenizerError("tokenizer (gpt2): merges entry " + std::to_string(i) + " is not a string");
    merges_text += m.get<std::string>();
    merges_text += '\n';
  }
  return std::make_unique<GPT2Tokenizer>(GPT2Tokenizer::from_strings(by_token.dump(), merges_text));
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_json(const json& j) {
  if (j.is_null()) return nullptr;
  if (!j.is_object()) throw TokenizerError("tokenizer: expected a JSON object, got " + std::string(j.type_name()));
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) throw TokenizerError("tokenizer: missing string 'type'");
  if (*type == "char") return std::make_unique<CharTokenizer>(CharTokenizer::from_json(j));
  if (*type == "gpt2") return gpt2_from_json(j);
  throw TokenizerError("tokenizer: unknown type " + type->dump() + " (expected \"char\" or \"gpt2\")");
}

}  // namespace rbe
