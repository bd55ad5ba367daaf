#pragma once
// Entropy coding of quantizer indices: a byte-wise rANS coder (32-bit state,
// Duda's asymmetric numeral systems as in ryg_rans) over static frequency
// tables that are stored compactly beside the data, plus LEB128 varints.
// Decoders validate every length and table and throw CorruptData instead of
// reading out of bounds.
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace rbe::codec {

struct CorruptData : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// LEB128 varints; zigzag maps signed to unsigned (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...).
void put_varint(std::vector<uint8_t>& out, uint64_t v);
uint64_t get_varint(const uint8_t*& p, const uint8_t* end);  // throws CorruptData
inline uint64_t zigzag(int64_t v) { return (uint64_t(v) << 1) ^ uint64_t(v >> 63); }
inline int64_t unzigzag(uint64_t u) { return int64_t(u >> 1) ^ -int64_t(u & 1); }

// Static model over the symbols [lo, lo + size()), frequencies summing to
// 2^kScaleBits; every symbol with a nonzero count keeps a frequency >= 1.
class FreqTable {
 public:
  static constexpr int kScaleBits = 15;
  static constexpr uint32_t kTotal = 1u << kScaleBits;
  static constexpr int32_t kMaxSymbols = 1 << 16;

  FreqTable() = default;
  // counts[i] counts symbol lo + i; at least one count must be nonzero.
  static FreqTable from_counts(int32_t lo, const std::vector<uint64_t>& counts);
  // Serialised: zigzag(lo), n, then the frequencies as varints, a zero
  // frequency followed by the length of its run of zeros.
  void serialize(std::vector<uint8_t>& out) const;
  static FreqTable deserialize(const uint8_t*& p, const uint8_t* end);

  int32_t lo() const { return lo_; }
  int32_t size() const { return int32_t(freq_.size()); }
  bool empty() const { return freq_.empty(); }
  bool contains(int32_t s) const { return s >= lo_ && s - lo_ < size() && freq_[size_t(s - lo_)] > 0; }
  uint32_t freq(int32_t s) const { return freq_[size_t(s - lo_)]; }
  uint32_t cum(int32_t s) const { return cum_[size_t(s - lo_)]; }
  int32_t symbol_at(uint32_t slot) const { return lo_ + int32_t(slot_sym_[slot]); }
  double bits(int32_t s) const;  // -log2(freq / total); +inf when absent

 private:
  void finish();  // cumulative sums and the slot -> symbol lookup
  int32_t lo_ = 0;
  std::vector<uint32_t> freq_, cum_;
  std::vector<uint16_t> slot_sym_;
};

// Empirical entropy of counts in bits (sum over symbols of -c log2(c / n)).
double entropy_bits(const std::vector<uint64_t>& counts);

// The rANS state's lower bound: states lie in [2^23, 2^31), renormalised a
// byte at a time. A stream is the final state (4 bytes, little-endian), then
// the bytes the encoder shifted out, last one first.
constexpr uint32_t kRansLow = 1u << 23;

// get() and renorm() are here, inline: a block's decode is one chain of
// them, symbol after symbol, which calls would only lengthen.
class RansDecoder {
 public:
  RansDecoder(const uint8_t* p, const uint8_t* end);  // reads the 4-byte state
  int32_t get(const FreqTable& t) {                  // next symbol
    if (t.empty()) empty_table();
    const uint32_t slot = x_ & (FreqTable::kTotal - 1);
    const int32_t s = t.symbol_at(slot);
    x_ = t.freq(s) * (x_ >> FreqTable::kScaleBits) + slot - t.cum(s);
    renorm();
    return s;
  }
  uint32_t get_raw(int scale_bits);  // a value of scale_bits bits put with frequency 1 (an escape's excess)
  bool exhausted() const { return p_ == end_; }

 private:
  void renorm() {
    while (x_ < kRansLow) {
      if (p_ >= end_) truncated();
      x_ = (x_ << 8) | *p_++;
    }
  }
  [[noreturn]] static void truncated();
  [[noreturn]] static void empty_table();
  uint32_t x_ = 0;
  const uint8_t* p_;
  const uint8_t* end_;
};

// Symbols with |s| >= kEscape go through the table as ±kEscape followed by
// the excess |s| - kEscape as two raw 16-bit rANS chunks; tables therefore
// only ever hold symbols in [-kEscape, kEscape]. escape_symbol() is the
// table symbol of s.
constexpr int32_t kEscape = 1 << 14;
inline int32_t escape_symbol(int32_t s) { return s >= kEscape ? kEscape : s <= -kEscape ? -kEscape : s; }

// Convenience: symbols coded with one table each (tables[ctx[i]]), in order,
// escapes included.
std::vector<uint8_t> rans_encode(const std::vector<FreqTable>& tables, const std::vector<uint8_t>& ctx,
                                 const std::vector<int32_t>& syms);

int32_t rans_escaped_symbol(RansDecoder& dec, int32_t s);  // ±kEscape's full value, read after it
inline int32_t rans_get_escaped(RansDecoder& dec, const FreqTable& t) {  // one symbol, escapes resolved
  const int32_t s = dec.get(t);
  return s != kEscape && s != -kEscape ? s : rans_escaped_symbol(dec, s);
}
std::vector<int32_t> rans_decode(const std::vector<FreqTable>& tables, const std::vector<uint8_t>& ctx,
                                 const uint8_t* p, const uint8_t* end);

// rANS encoding for many streams over the same tables. rANS is last-in
// first-out: symbols go in reverse decode order, the bytes back to front
// straight into place. Each symbol's division of the state by its frequency
// is a multiply and shifts by a reciprocal computed once (exact for states
// below 2^31, as in ryg_rans); tests check the bytes against plain divisions.
class RansEncodeTables {
 public:
  explicit RansEncodeTables(const std::vector<FreqTable>& tables);
  // Appends the stream of syms (n of them, tables[ctx[i]] each, escapes
  // included) to out. Throws as rans_encode does: std::out_of_range for a
  // context without a table, std::invalid_argument for a symbol its table lacks.
  void encode_append(const uint8_t* ctx, const int32_t* syms, size_t n, std::vector<uint8_t>& out) const;

  struct Symbol {
    uint32_t x_max;      // renormalise while the state is at least this
    uint32_t rcp_freq;   // ceil(2^(32 + rcp_shift) / freq); ~0 for freq 1
    uint32_t bias;       // start (for freq 1: start + total - 1)
    uint16_t cmpl_freq;  // total - freq
    uint16_t rcp_shift;  // ceil(log2 freq) - 1 (0 for freq 1); an absent symbol has x_max 0
  };

 private:
  struct Table {
    int32_t lo = 0;
    std::vector<Symbol> sym;  // symbol lo + i
  };
  std::vector<Table> tables_;
};

}  // namespace rbe::codec
