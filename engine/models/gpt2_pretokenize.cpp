#include "models/gpt2_pretokenize.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace rbe {

namespace {

using C = Gpt2CharClass;

struct Range {
  uint32_t first, last, cls;
};
constexpr Range kRanges[] = {
#include "models/unicode_classes.inc"
};

// ASCII is looked up directly: it is most of the text we see.
constexpr std::array<C, 128> make_ascii() {
  std::array<C, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = C::Letter;
    else if (c >= '0' && c <= '9') t[c] = C::Number;
    else if (c == ' ' || (c >= 0x09 && c <= 0x0D)) t[c] = C::Space;
    else t[c] = C::Other;
  }
  return t;
}
constexpr std::array<C, 128> kAscii = make_ascii();

// The White_Space property outside ASCII (stable since Unicode 6.3).
bool is_white_space(uint32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

C class_of(uint32_t cp) {
  if (is_white_space(cp)) return C::Space;
  auto it = std::upper_bound(std::begin(kRanges), std::end(kRanges), cp,
                             [](uint32_t v, const Range& r) { return v < r.first; });
  if (it == std::begin(kRanges)) return C::Other;
  --it;
  if (cp > it->last) return C::Other;
  return it->cls == 1 ? C::Letter : C::Number;
}

// Strict UTF-8 decoding (RFC 3629). Returns the length of a valid sequence at
// p (1..4) and its code point, or 0 when the bytes are not valid UTF-8.
size_t decode_utf8(const unsigned char* p, size_t avail, uint32_t& cp) {
  unsigned char b0 = p[0];
  auto cont = [&](size_t i) { return i < avail && (p[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(1)) return 0;
    cp = (uint32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    cp = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;  // overlong, surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) | (uint32_t(p[2] & 0x3F) << 6) |
         (p[3] & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

inline C char_class(std::string_view s, size_t pos, size_t& len) {
  auto b = static_cast<unsigned char>(s[pos]);
  if (b < 0x80) {
    len = 1;
    return kAscii[b];
  }
  uint32_t cp = 0;
  len = decode_utf8(reinterpret_cast<const unsigned char*>(s.data()) + pos, s.size() - pos, cp);
  if (len == 0) {
    len = 1;
    return C::Invalid;
  }
  return class_of(cp);
}

// End of the run of class c that starts at pos (pos itself is of class c).
size_t run_end(std::string_view s, size_t pos, C c) {
  size_t len = 0;
  while (pos < s.size() && char_class(s, pos, len) == c) pos += len;
  return pos;
}

// Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, which holds '\''; 0 if none.
size_t contraction(std::string_view s, size_t pos) {
  if (pos + 1 >= s.size()) return 0;
  char a = s[pos + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= s.size()) return 0;
  char b = s[pos + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

Gpt2CharClass gpt2_char_class(std::string_view text, size_t pos, size_t& len) { return char_class(text, pos, len); }

bool Gpt2PreTokenizer::next(std::string_view& piece) {
  const std::string_view s = text_;
  const size_t i = pos_;
  if (i >= s.size()) return false;
  size_t len = 0;
  C c0 = char_class(s, i, len);
  size_t end = 0;
  if (s[i] == '\'' && (end = contraction(s, i)) != 0) {
    end += i;  // 's|'t|'re|'ve|'m|'ll|'d
  } else if (c0 == C::Invalid) {
    end = i + 1;  // a byte that is not UTF-8: a piece of its own
  } else if (c0 != C::Space) {
    end = run_end(s, i, c0);  // \p{L}+ | \p{N}+ | [^\s\p{L}\p{N}]+
  } else {
    size_t len1 = 0;
    C c1 = i + 1 < s.size() ? char_class(s, i + 1, len1) : C::Space;
    if (s[i] == ' ' && c1 != C::Space && c1 != C::Invalid) {
      end = run_end(s, i + 1, c1);  // ' ?' followed by a letter, number or other run
    } else {
      // \s+(?!\S): the whole white-space run at the end of the text, else the
      // run minus its last character; a single white-space character before
      // \S falls through to \s+.
      size_t last = i, p = i;
      while (p < s.size()) {
        C c = char_class(s, p, len);
        if (c != C::Space) break;
        last = p;
        p += len;
      }
      end = (p == s.size() || last == i) ? p : last;
    }
  }
  piece = s.substr(i, end - i);
  pos_ = end;
  return true;
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> out;
  Gpt2PreTokenizer pt(text);
  std::string_view piece;
  while (pt.next(piece)) out.push_back(piece);
  return out;
}

}  // namespace rbe
