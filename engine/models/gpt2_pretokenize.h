#pragma once
// GPT-2's pre-tokenization: the text is cut into pieces exactly as the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// would cut it (leftmost match, first alternative wins, greedy with
// backtracking), implemented by hand over a Unicode 14 category table.
// \s is the Unicode White_Space property. Bytes that are not part of valid
// UTF-8 (stray continuation bytes, overlongs, surrogates, > U+10FFFF,
// truncated sequences) are each a piece of their own and count as \S, so every
// byte of the input lands in exactly one piece and the pieces concatenate back
// to the input.
#include <cstddef>
#include <string_view>
#include <vector>

namespace rbe {

class Gpt2PreTokenizer {
 public:
  explicit Gpt2PreTokenizer(std::string_view text) : text_(text) {}
  // Sets piece to the next pre-token; false at the end of the text.
  bool next(std::string_view& piece);

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// Character classes the pattern distinguishes. Exposed for tests.
enum class Gpt2CharClass : unsigned char { Other, Letter, Number, Space, Invalid };
// Decodes the code point at text[pos]; sets len (>= 1). Invalid -> class Invalid, len 1.
Gpt2CharClass gpt2_char_class(std::string_view text, size_t pos, size_t& len);

}  // namespace rbe
