#include "models/gpt2_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "tensor/atomic_file.h"
#include "models/gpt2_pretokenize.h"

namespace rbe {

namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
// the other 68 bytes are shifted to U+0100.. so that every token is printable.
struct ByteAlphabet {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 512> to_byte{};  // code point -> byte, -1 if none
  ByteAlphabet() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? uint32_t(b) : uint32_t(256 + extra++);
      to_byte[to_cp[b]] = int16_t(b);
    }
  }
};
const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// The bytes a vocab.json token stands for. Tokens with characters outside the
// byte alphabet (added tokens) decode to their own UTF-8 text.
std::string token_bytes(const std::string& token) {
  std::string out;
  const auto& a = alphabet();
  for (size_t i = 0; i < token.size();) {
    auto b = static_cast<unsigned char>(token[i]);
    size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (i + len > token.size()) return token;
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(token[i + k]) & 0x3F);
    if (cp >= a.to_byte.size() || a.to_byte[cp] < 0) return token;
    out += char(a.to_byte[cp]);
    i += len;
  }
  return out;
}

std::string json_quote(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

// (left id, right id) -> (rank, merged id), open addressing: the hot lookup.
struct GPT2Tokenizer::MergeTable {
  struct Slot {
    uint64_t key = ~uint64_t(0);
    int32_t rank = 0, id = 0;
  };
  std::vector<Slot> slots;
  uint64_t mask = 0;

  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  static uint64_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
  }
  explicit MergeTable(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots.resize(cap);
    mask = cap - 1;
  }
  // Keeps the first (lowest-rank) entry of a duplicated pair.
  void insert(int32_t a, int32_t b, int32_t rank, int32_t id) {
    uint64_t k = key(a, b);
    for (uint64_t i = hash(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return;
      if (slots[i].key == ~uint64_t(0)) {
        slots[i] = {k, rank, id};
        return;
      }
    }
  }
  const Slot* find(int32_t a, int32_t b) const {
    uint64_t k = key(a, b);
    for (uint64_t i = hash(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return &slots[i];
      if (slots[i].key == ~uint64_t(0)) return nullptr;
    }
  }
};

// piece -> ids, bounded: cleared when full. Only one encode() at a time uses
// it (try_lock); concurrent callers encode without it rather than wait.
struct GPT2Tokenizer::Cache {
  static constexpr size_t kMaxEntries = 1 << 16;
  static constexpr size_t kMaxPieceBytes = 256;
  std::mutex mutex;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StrHash, std::equal_to<>> map;  // -> pool span
  std::vector<int32_t> pool;
};

struct GPT2Tokenizer::Scratch {
  std::vector<int32_t> id, prev, next;
  struct Cand {
    int32_t rank, pos;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Cand> heap;
};

GPT2Tokenizer::GPT2Tokenizer() : cache_(std::make_unique<Cache>()) {}
GPT2Tokenizer::GPT2Tokenizer(GPT2Tokenizer&&) noexcept = default;
GPT2Tokenizer& GPT2Tokenizer::operator=(GPT2Tokenizer&&) noexcept = default;
GPT2Tokenizer::~GPT2Tokenizer() = default;

uint32_t GPT2Tokenizer::byte_to_unicode(uint8_t b) { return alphabet().to_cp[b]; }

int32_t GPT2Tokenizer::token_id(std::string_view token) const {
  auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

// vocab.json is read with a SAX handler: a DOM of 50k keys costs more than
// the rest of loading together.
namespace {
class VocabReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit VocabReader(const std::string& name) : name_(name) {}
  std::vector<std::pair<std::string, int64_t>> entries;

  bool start_object(size_t) override {
    if (depth_++ > 0) fail("value of " + json_quote(key_) + " is an object, not an integer id");
    return true;
  }
  bool end_object() override { return --depth_, true; }
  bool key(string_t& k) override { return key_ = std::move(k), true; }
  bool number_integer(number_integer_t v) override { return id(v); }
  bool number_unsigned(number_unsigned_t v) override { return id(v > uint64_t(INT64_MAX) ? -1 : int64_t(v)); }
  bool null() override { return bad("null"); }
  bool boolean(bool) override { return bad("a boolean"); }
  bool number_float(number_float_t, const string_t& s) override { return bad(s); }
  bool string(string_t&) override { return bad("a string"); }
  bool binary(binary_t&) override { return bad("binary"); }
  bool start_array(size_t) override { return bad("an array"); }
  bool end_array() override { return true; }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail(std::string("invalid JSON: ") + e.what());
  }

 private:
  [[noreturn]] void fail(const std::string& msg) { throw TokenizerError(name_ + ": " + msg); }
  bool bad(const std::string& what) {
    if (depth_ == 0) fail("expected a JSON object mapping token strings to ids");
    fail("token " + json_quote(key_) + " has id " + what + ", not an integer");
  }
  bool id(int64_t v) {
    if (depth_ == 0) fail("expected a JSON object mapping token strings to ids");
    entries.emplace_back(std::move(key_), v);
    return true;
  }
  const std::string& name_;
  std::string key_;
  int depth_ = 0;
};
}  // namespace

static std::vector<std::string> parse_vocab(std::string_view text, const std::string& name) {
  VocabReader reader(name);
  nlohmann::json::sax_parse(text, &reader);
  auto& entries = reader.entries;
  if (entries.empty()) throw TokenizerError(name + ": the vocabulary is empty");
  std::vector<std::string> vocab(entries.size());
  std::vector<bool> seen(entries.size());
  for (auto& [token, id] : entries) {
    if (id < 0 || id >= int64_t(vocab.size()))
      throw TokenizerError(name + ": token " + json_quote(token) + " has id " + std::to_string(id) + " outside [0, " +
                           std::to_string(vocab.size()) + ") (ids must be 0..size-1)");
    if (seen[id])
      throw TokenizerError(name + ": id " + std::to_string(id) + " is used by both " + json_quote(vocab[id]) + " and " +
                           json_quote(token));
    seen[id] = true;
    vocab[id] = std::move(token);
  }
  return vocab;
}

GPT2Tokenizer GPT2Tokenizer::from_strings(std::string_view vocab_json, std::string_view merges_text) {
  return build(parse_vocab(vocab_json, "vocab.json"), merges_text, "vocab.json", "merges.txt");
}

GPT2Tokenizer GPT2Tokenizer::from_files(const std::string& vocab_path, const std::string& merges_path) {
  std::string vocab_text, merges_text;
  try {
    vocab_text = read_file(vocab_path);
    merges_text = read_file(merges_path);
  } catch (const IoError& e) {
    throw TokenizerError(e.what());
  }
  return build(parse_vocab(vocab_text, vocab_path), merges_text, vocab_path, merges_path);
}

GPT2Tokenizer GPT2Tokenizer::build(std::vector<std::string> vocab, std::string_view merges_text,
                                   const std::string& vocab_name, const std::string& merges_name) {
  GPT2Tokenizer t;
  t.vocab_ = std::move(vocab);
  t.token_to_id_.reserve(t.vocab_.size());
  t.id_bytes_.reserve(t.vocab_.size());
  for (size_t id = 0; id < t.vocab_.size(); ++id) {
    if (!t.token_to_id_.emplace(t.vocab_[id], int32_t(id)).second)
      throw TokenizerError(vocab_name + ": token " + json_quote(t.vocab_[id]) + " appears twice");
    t.id_bytes_.push_back(token_bytes(t.vocab_[id]));
  }
  for (int b = 0; b < 256; ++b) {
    int32_t id = t.token_id(utf8(alphabet().to_cp[b]));
    if (id < 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", b);
      throw TokenizerError(vocab_name + ": no token for byte " + hex + " (" + json_quote(utf8(alphabet().to_cp[b])) +
                           "); a byte-level vocabulary needs all 256");
    }
    t.byte_id_[b] = id;
  }
  t.eot_id_ = t.token_id(GPT2Tokenizer::kEndOfText);

  // One "a b" pair per line; rank = order. A leading "#version" line is skipped.
  std::vector<std::pair<int32_t, int32_t>> pair_ids;
  std::vector<int32_t> merged_ids;
  size_t line_no = 0;
  for (size_t pos = 0; pos < merges_text.size();) {
    size_t eol = merges_text.find('\n', pos);
    if (eol == std::string_view::npos) eol = merges_text.size();
    std::string_view line = merges_text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    auto where = [&] { return merges_name + " line " + std::to_string(line_no) + ": "; };
    size_t sp = line.find(' ');
    if (sp == 0 || sp == std::string_view::npos || sp + 1 == line.size() || line.find(' ', sp + 1) != line.npos)
      throw TokenizerError(where() + "expected two tokens separated by one space, got " + json_quote(line));
    std::string a(line.substr(0, sp)), b(line.substr(sp + 1));
    int32_t ia = t.token_id(a), ib = t.token_id(b), im = t.token_id(a + b);
    for (auto [tok, id] : {std::pair{&a, ia}, std::pair{&b, ib}})
      if (id < 0) throw TokenizerError(where() + "token " + json_quote(*tok) + " is not in " + vocab_name);
    if (im < 0) throw TokenizerError(where() + "merged token " + json_quote(a + b) + " is not in " + vocab_name);
    t.merges_.emplace_back(std::move(a), std::move(b));
    pair_ids.emplace_back(ia, ib);
    merged_ids.push_back(im);
  }
  t.merge_table_ = std::make_unique<GPT2Tokenizer::MergeTable>(pair_ids.size());
  for (size_t r = 0; r < pair_ids.size(); ++r)
    t.merge_table_->insert(pair_ids[r].first, pair_ids[r].second, int32_t(r), merged_ids[r]);
  return t;
}

// BPE over one pre-token: symbols in a linked list, candidate pairs in a
// min-heap by (rank, position); stale candidates are skipped when popped.
void GPT2Tokenizer::bpe(std::string_view piece, Scratch& s, std::vector<int32_t>& out) const {
  const int32_t n = int32_t(piece.size());
  s.id.resize(n);
  s.prev.resize(n);
  s.next.resize(n);
  s.heap.clear();
  for (int32_t i = 0; i < n; ++i) {
    s.id[i] = byte_id_[static_cast<unsigned char>(piece[i])];
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }
  auto push = [&](int32_t pos) {
    if (const auto* m = merge_table_->find(s.id[pos], s.id[s.next[pos]])) {
      s.heap.push_back({m->rank, pos});
      std::push_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
    auto c = s.heap.back();
    s.heap.pop_back();
    int32_t r = s.next[c.pos];
    if (s.id[c.pos] < 0 || r < 0) continue;
    const auto* m = merge_table_->find(s.id[c.pos], s.id[r]);
    if (!m || m->rank != c.rank) continue;  // the pair changed since it was queued
    s.id[c.pos] = m->id;
    s.id[r] = -1;  // dead
    s.next[c.pos] = s.next[r];
    if (s.next[r] >= 0) s.prev[s.next[r]] = c.pos;
    if (s.prev[c.pos] >= 0) push(s.prev[c.pos]);
    if (s.next[c.pos] >= 0) push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = s.next[i]) out.push_back(s.id[i]);
}

void GPT2Tokenizer::encode_text(std::string_view text, Cache* cache, Scratch& s, std::vector<int32_t>& out) const {
  Gpt2PreTokenizer pt(text);
  std::string_view piece;
  while (pt.next(piece)) {
    if (piece.size() == 1) {
      out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
      continue;
    }
    if (!cache || piece.size() > Cache::kMaxPieceBytes) {
      bpe(piece, s, out);
      continue;
    }
    auto it = cache->map.find(piece);
    if (it != cache->map.end()) {
      const int32_t* p = cache->pool.data() + it->second.first;
      out.insert(out.end(), p, p + it->second.second);
      continue;
    }
    size_t start = out.size();
    bpe(piece, s, out);
    if (cache->map.size() >= Cache::kMaxEntries) {
      cache->map.clear();
      cache->pool.clear();
    }
    cache->map.emplace(std::string(piece), std::pair{uint32_t(cache->pool.size()), uint32_t(out.size() - start)});
    cache->pool.insert(cache->pool.end(), out.begin() + std::ptrdiff_t(start), out.end());
  }
}

std::vector<int32_t> GPT2Tokenizer::encode(std::string_view text, bool allow_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 8);
  Scratch scratch;
  std::unique_lock lock(cache_->mutex, std::try_to_lock);
  Cache* cache = lock.owns_lock() ? cache_.get() : nullptr;
  if (!allow_special || eot_id_ < 0) {
    encode_text(text, cache, scratch, out);
    return out;
  }
  for (size_t pos = 0;;) {
    size_t hit = text.find(kEndOfText, pos);
    encode_text(text.substr(pos, hit == text.npos ? text.npos : hit - pos), cache, scratch, out);
    if (hit == text.npos) break;
    out.push_back(eot_id_);
    pos = hit + kEndOfText.size();
  }
  return out;
}

std::string GPT2Tokenizer::decode_one(int32_t id) const {
  if (id < 0 || id >= int32_t(id_bytes_.size()))
    throw TokenizerError("gpt2 tokenizer: unknown token id " + std::to_string(id) + " (vocabulary has " +
                         std::to_string(id_bytes_.size()) + " tokens)");
  return id_bytes_[id];
}

std::string GPT2Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    if (id < 0 || id >= int32_t(id_bytes_.size())) decode_one(id);  // throws
    out += id_bytes_[id];
  }
  return out;
}

}  // namespace rbe
