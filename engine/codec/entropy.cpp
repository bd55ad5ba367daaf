#include "codec/entropy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace rbe::codec {

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(uint8_t(v | 0x80));
    v >>= 7;
  }
  out.push_back(uint8_t(v));
}

uint64_t get_varint(const uint8_t*& p, const uint8_t* end) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) throw CorruptData("truncated varint");
    const uint8_t b = *p++;
    v |= uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  throw CorruptData("varint longer than 64 bits");
}

double entropy_bits(const std::vector<uint64_t>& counts) {
  double n = 0, h = 0;
  for (uint64_t c : counts) n += double(c);
  for (uint64_t c : counts)
    if (c) h -= double(c) * std::log2(double(c) / n);
  return h;
}

FreqTable FreqTable::from_counts(int32_t lo, const std::vector<uint64_t>& counts) {
  if (counts.empty() || int64_t(counts.size()) > kMaxSymbols)
    throw std::invalid_argument("FreqTable: need 1.." + std::to_string(kMaxSymbols) + " symbols, got " +
                                std::to_string(counts.size()));
  uint64_t total = 0;
  int nonzero = 0;
  for (uint64_t c : counts) total += c, nonzero += c > 0;
  if (total == 0) throw std::invalid_argument("FreqTable: all counts are zero");
  if (nonzero > int(kTotal)) throw std::invalid_argument("FreqTable: too many distinct symbols");
  FreqTable t;
  t.lo_ = lo;
  t.freq_.assign(counts.size(), 0);
  // Proportional scaling, every present symbol >= 1; then fix the sum by
  // adjusting the largest frequencies (the cheapest place to absorb the error).
  int64_t sum = 0;
  for (size_t i = 0; i < counts.size(); ++i)
    if (counts[i]) {
      const double f = double(counts[i]) * kTotal / double(total);
      t.freq_[i] = uint32_t(std::max<double>(1.0, std::floor(f + 0.5)));
      sum += t.freq_[i];
    }
  std::vector<size_t> order;
  for (size_t i = 0; i < counts.size(); ++i)
    if (counts[i]) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.freq_[a] > t.freq_[b]; });
  while (sum != int64_t(kTotal)) {
    bool changed = false;
    for (size_t i : order) {
      if (sum > int64_t(kTotal) && t.freq_[i] > 1) { --t.freq_[i]; --sum; changed = true; }
      else if (sum < int64_t(kTotal)) { ++t.freq_[i]; ++sum; changed = true; }
      if (sum == int64_t(kTotal)) break;
    }
    if (!changed) throw std::logic_error("FreqTable: cannot normalise");
  }
  t.finish();
  return t;
}

void FreqTable::finish() {
  cum_.assign(freq_.size(), 0);
  slot_sym_.assign(kTotal, 0);
  uint32_t c = 0;
  for (size_t i = 0; i < freq_.size(); ++i) {
    cum_[i] = c;
    for (uint32_t k = 0; k < freq_[i]; ++k) slot_sym_[c + k] = uint16_t(i);
    c += freq_[i];
  }
}

double FreqTable::bits(int32_t s) const {
  if (!contains(s)) return std::numeric_limits<double>::infinity();
  return kScaleBits - std::log2(double(freq(s)));
}

void FreqTable::serialize(std::vector<uint8_t>& out) const {
  put_varint(out, zigzag(lo_));
  put_varint(out, freq_.size());
  for (size_t i = 0; i < freq_.size();) {
    if (freq_[i] == 0) {
      size_t run = 0;
      while (i + run < freq_.size() && freq_[i + run] == 0) ++run;
      put_varint(out, 0);
      put_varint(out, run - 1);
      i += run;
    } else {
      put_varint(out, freq_[i]);
      ++i;
    }
  }
}

FreqTable FreqTable::deserialize(const uint8_t*& p, const uint8_t* end) {
  FreqTable t;
  const int64_t lo = unzigzag(get_varint(p, end));
  const uint64_t n = get_varint(p, end);
  if (n == 0 || n > uint64_t(kMaxSymbols)) throw CorruptData("frequency table: bad symbol count");
  if (lo < std::numeric_limits<int32_t>::min() || lo + int64_t(n) > std::numeric_limits<int32_t>::max())
    throw CorruptData("frequency table: bad symbol range");
  t.lo_ = int32_t(lo);
  t.freq_.reserve(n);
  uint64_t sum = 0;
  while (t.freq_.size() < n) {
    const uint64_t f = get_varint(p, end);
    if (f == 0) {
      const uint64_t run = get_varint(p, end) + 1;
      if (run > n - t.freq_.size()) throw CorruptData("frequency table: zero run too long");
      t.freq_.insert(t.freq_.end(), size_t(run), 0);
    } else {
      if (f > kTotal) throw CorruptData("frequency table: frequency too large");
      t.freq_.push_back(uint32_t(f));
      sum += f;
    }
  }
  if (sum != kTotal) throw CorruptData("frequency table: frequencies do not sum to 2^15");
  t.finish();
  return t;
}

RansDecoder::RansDecoder(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {
  if (end - p < 4) throw CorruptData("rANS stream shorter than its state");
  x_ = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  p_ += 4;
  if (x_ < kRansLow) throw CorruptData("rANS stream: bad initial state");
}

void RansDecoder::truncated() { throw CorruptData("rANS stream truncated"); }

void RansDecoder::empty_table() { throw CorruptData("rANS: empty frequency table"); }

uint32_t RansDecoder::get_raw(int scale_bits) {
  const uint32_t v = x_ & ((1u << scale_bits) - 1);
  x_ = x_ >> scale_bits;
  renorm();
  return v;
}

int32_t rans_escaped_symbol(RansDecoder& dec, int32_t s) {
  const uint32_t lo = dec.get_raw(16), hi = dec.get_raw(16);
  const int64_t mag = int64_t(kEscape) + ((int64_t(hi) << 16) | lo);
  if (mag > std::numeric_limits<int32_t>::max()) throw CorruptData("rANS: escaped symbol out of range");
  return s > 0 ? int32_t(mag) : int32_t(-mag);
}

std::vector<uint8_t> rans_encode(const std::vector<FreqTable>& tables, const std::vector<uint8_t>& ctx,
                                 const std::vector<int32_t>& syms) {
  if (ctx.size() < syms.size()) throw std::invalid_argument("rans_encode: fewer contexts than symbols");
  std::vector<uint8_t> out;
  RansEncodeTables(tables).encode_append(ctx.data(), syms.data(), syms.size(), out);
  return out;
}

RansEncodeTables::RansEncodeTables(const std::vector<FreqTable>& tables) {
  for (const FreqTable& ft : tables) {
    Table t;
    t.lo = ft.lo();
    t.sym.assign(size_t(ft.size()), Symbol{});
    for (int32_t i = 0; i < ft.size(); ++i) {
      if (!ft.contains(ft.lo() + i)) continue;
      const uint32_t f = ft.freq(ft.lo() + i), start = ft.cum(ft.lo() + i);
      Symbol& y = t.sym[size_t(i)];
      y.x_max = ((kRansLow >> FreqTable::kScaleBits) << 8) * f;
      y.cmpl_freq = uint16_t(FreqTable::kTotal - f);
      if (f == 1) {  // q = x - 1 from the all-ones reciprocal; the bias adds what that misses
        y.rcp_freq = ~0u, y.rcp_shift = 0, y.bias = start + FreqTable::kTotal - 1;
      } else {
        uint32_t shift = 0;
        while (f > (1u << shift)) ++shift;
        y.rcp_freq = uint32_t(((uint64_t(1) << (shift + 31)) + f - 1) / f);
        y.rcp_shift = uint16_t(shift - 1);
        y.bias = start;
      }
    }
    tables_.push_back(std::move(t));
  }
}

void RansEncodeTables::encode_append(const uint8_t* ctx, const int32_t* syms, size_t n,
                                     std::vector<uint8_t>& out) const {
  // Every put writes at most 2 bytes (the state stays below 2^31 and a put
  // renormalises it below 2^16 * freq), an escape is 3 puts, the state 4 bytes.
  size_t escapes = 0;
  for (size_t i = 0; i < n; ++i) escapes += syms[i] >= kEscape || syms[i] <= -kEscape;
  const size_t base = out.size(), cap = 4 + 2 * (n + 2 * escapes);
  out.resize(base + cap);
  uint8_t* const end = out.data() + out.size();
  uint8_t* p = end;  // bytes go back to front: the decoder reads the last one written first
  uint32_t x = kRansLow;
  auto put_raw16 = [&](uint32_t v) {  // v at frequency 1 of 2^16: read back by RansDecoder::get_raw(16)
    while (x >= ((kRansLow >> 16) << 8)) *--p = uint8_t(x), x >>= 8;
    x = (x << 16) + v;
  };
  for (size_t i = n; i-- > 0;) {
    if (ctx[i] >= tables_.size()) throw std::out_of_range("rans_encode: context without a table");
    const Table& t = tables_[ctx[i]];
    const int32_t e = escape_symbol(syms[i]);
    const int64_t k = int64_t(e) - t.lo;
    if (k < 0 || k >= int64_t(t.sym.size()) || t.sym[size_t(k)].x_max == 0)
      throw std::invalid_argument("rans_encode: symbol not in its table");
    if (e == kEscape || e == -kEscape) {  // the excess is decoded after the symbol: put first (LIFO)
      const uint32_t excess = uint32_t(std::abs(int64_t(syms[i])) - kEscape);
      put_raw16(excess >> 16);
      put_raw16(excess & 0xFFFF);
    }
    const Symbol& y = t.sym[size_t(k)];
    while (x >= y.x_max) *--p = uint8_t(x), x >>= 8;
    const uint32_t q = uint32_t((uint64_t(x) * y.rcp_freq) >> 32) >> y.rcp_shift;
    x += y.bias + q * y.cmpl_freq;
  }
  for (int b = 3; b >= 0; --b) *--p = uint8_t(x >> (8 * b));  // the state first, little-endian
  const size_t len = size_t(end - p);
  std::memmove(out.data() + base, p, len);
  out.resize(base + len);
}

std::vector<int32_t> rans_decode(const std::vector<FreqTable>& tables, const std::vector<uint8_t>& ctx,
                                 const uint8_t* p, const uint8_t* end) {
  RansDecoder dec(p, end);
  std::vector<int32_t> out(ctx.size());
  for (size_t i = 0; i < ctx.size(); ++i) {
    if (ctx[i] >= tables.size()) throw CorruptData("rANS: bad context");
    out[i] = rans_get_escaped(dec, tables[ctx[i]]);
  }
  return out;
}

}  // namespace rbe::codec
