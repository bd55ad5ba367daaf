// Entropy coding: varints, frequency tables (compact storage, validation),
// rANS round trips on random streams (RapidCheck), code length against the
// empirical entropy, and clean errors on corrupt input.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "codec/entropy.h"

namespace rbe::codec {
namespace {

TEST(CodecEntropy, VarintsRoundTripAndRejectTruncation) {
  std::vector<uint8_t> buf;
  const std::vector<uint64_t> vals = {0, 1, 127, 128, 300, 1u << 31, ~uint64_t(0)};
  for (uint64_t v : vals) put_varint(buf, v);
  const uint8_t* p = buf.data();
  for (uint64_t v : vals) EXPECT_EQ(get_varint(p, buf.data() + buf.size()), v);
  EXPECT_EQ(p, buf.data() + buf.size());
  std::vector<uint8_t> cut = {0x80, 0x80};
  p = cut.data();
  EXPECT_THROW(get_varint(p, cut.data() + cut.size()), CorruptData);
  for (int64_t v : {0LL, -1LL, 1LL, -1000000LL, 123456789LL}) EXPECT_EQ(unzigzag(zigzag(v)), v);
}

TEST(CodecEntropy, FreqTableNormalisesKeepsEverySymbolAndSerialises) {
  std::vector<uint64_t> counts = {1000000, 0, 0, 0, 1, 5, 0, 77};
  const FreqTable t = FreqTable::from_counts(-3, counts);
  uint32_t sum = 0;
  for (int32_t s = -3; s < -3 + 8; ++s) sum += t.contains(s) ? t.freq(s) : 0;
  EXPECT_EQ(sum, FreqTable::kTotal);
  EXPECT_TRUE(t.contains(1));  // count 1 keeps a slot
  EXPECT_FALSE(t.contains(-2));
  std::vector<uint8_t> buf;
  t.serialize(buf);
  EXPECT_LT(buf.size(), 16u);  // zero runs are compact
  const uint8_t* p = buf.data();
  const FreqTable u = FreqTable::deserialize(p, buf.data() + buf.size());
  for (int32_t s = -3; s < 5; ++s) EXPECT_EQ(t.contains(s) ? t.freq(s) : 0, u.contains(s) ? u.freq(s) : 0);
  // Corrupt tables are refused.
  auto bad = buf;
  bad.back() ^= 0x01;
  p = bad.data();
  EXPECT_THROW(FreqTable::deserialize(p, bad.data() + bad.size()), CorruptData);
  p = buf.data();
  EXPECT_THROW(FreqTable::deserialize(p, buf.data() + 2), CorruptData);
  EXPECT_THROW(FreqTable::from_counts(0, {0, 0}), std::invalid_argument);
}

RC_GTEST_PROP(CodecEntropyProps, RansRoundTripsRandomStreams, ()) {
  const int alphabet = *rc::gen::inRange(1, 300);
  const int n = *rc::gen::inRange(0, 3000);
  const double skew = *rc::gen::inRange(0, 30) / 10.0;
  std::mt19937_64 g(*rc::gen::arbitrary<uint64_t>());
  std::vector<double> w(alphabet);
  for (int i = 0; i < alphabet; ++i) w[i] = std::exp(-skew * i);
  std::discrete_distribution<int> d(w.begin(), w.end());
  const int32_t lo = *rc::gen::inRange(-500, 500);
  std::vector<int32_t> syms(n);
  std::vector<uint8_t> ctx(n);
  std::vector<uint64_t> counts[2] = {std::vector<uint64_t>(alphabet, 0), std::vector<uint64_t>(alphabet, 0)};
  for (int i = 0; i < n; ++i) {
    ctx[i] = uint8_t(g() & 1);
    syms[i] = lo + (ctx[i] ? alphabet - 1 - d(g) : d(g));
    ++counts[ctx[i]][size_t(syms[i] - lo)];
  }
  for (auto& c : counts)
    if (std::all_of(c.begin(), c.end(), [](uint64_t v) { return v == 0; })) c[0] = 1;
  const std::vector<FreqTable> tables = {FreqTable::from_counts(lo, counts[0]), FreqTable::from_counts(lo, counts[1])};
  const auto bytes = rans_encode(tables, ctx, syms);
  const auto back = rans_decode(tables, ctx, bytes.data(), bytes.data() + bytes.size());
  RC_ASSERT(back == syms);
}

// The plain rANS encoder (ryg_rans's, one division per symbol, the bytes
// collected in reverse): the reference for RansEncodeTables' reciprocals.
class DivisionEncoder {
 public:
  void put(uint32_t start, uint32_t freq, int scale_bits) {
    const uint32_t x_max = ((kLow >> scale_bits) << 8) * freq;
    while (x_ >= x_max) {
      rev_.push_back(uint8_t(x_ & 0xFF));
      x_ >>= 8;
    }
    x_ = ((x_ / freq) << scale_bits) + (x_ % freq) + start;
  }
  void put(const FreqTable& t, int32_t sym) { put(t.cum(sym), t.freq(sym), FreqTable::kScaleBits); }
  std::vector<uint8_t> finish() const {  // the state first, little-endian, then the bytes last one first
    std::vector<uint8_t> out;
    out.reserve(rev_.size() + 4);
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(x_ >> (8 * i)));
    out.insert(out.end(), rev_.rbegin(), rev_.rend());
    return out;
  }

 private:
  static constexpr uint32_t kLow = 1u << 23;
  uint32_t x_ = kLow;
  std::vector<uint8_t> rev_;
};

// The stream as DivisionEncoder writes it.
std::vector<uint8_t> encode_with_divisions(const std::vector<FreqTable>& tables, const std::vector<uint8_t>& ctx,
                                           const std::vector<int32_t>& syms) {
  DivisionEncoder enc;
  for (size_t i = syms.size(); i-- > 0;) {
    const FreqTable& t = tables.at(ctx[i]);
    const int32_t e = escape_symbol(syms[i]);
    if (e == kEscape || e == -kEscape) {
      const uint32_t excess = uint32_t(std::abs(int64_t(syms[i])) - kEscape);
      enc.put(excess >> 16, 1, 16);
      enc.put(excess & 0xFFFF, 1, 16);
    }
    enc.put(t, e);
  }
  return enc.finish();
}

// Random skewed streams (a table of one symbol: frequency 2^15), escapes,
// two tables, and streams appended after bytes already in the buffer: the
// same bytes as the divisions. (Frequency 1, the reciprocal's special case,
// needs streams longer than these: the test after this one.)
RC_GTEST_PROP(CodecEntropyProps, ReciprocalEncoderWritesTheDivisionsBytes, ()) {
  const int alphabet = *rc::gen::inRange(1, 200);
  const int n = *rc::gen::inRange(0, 2000);
  const double skew = *rc::gen::inRange(0, 120) / 10.0;
  std::mt19937_64 g(*rc::gen::arbitrary<uint64_t>());
  std::vector<double> w(static_cast<size_t>(alphabet));
  for (int i = 0; i < alphabet; ++i) w[size_t(i)] = std::exp(-skew * i);
  std::discrete_distribution<int> d(w.begin(), w.end());
  const bool escapes = *rc::gen::arbitrary<bool>();
  const int32_t lo = escapes ? -kEscape : *rc::gen::inRange(-300, 300);
  std::vector<int32_t> syms(static_cast<size_t>(n));
  std::vector<uint8_t> ctx(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    ctx[size_t(i)] = uint8_t(g() % 2);
    int32_t s = lo + d(g);
    if (escapes && g() % 8 == 0) s = (g() % 2 ? 1 : -1) * int32_t(kEscape + g() % (uint64_t(1) << 30));
    syms[size_t(i)] = s;
  }
  std::vector<FreqTable> tables;
  for (uint8_t c = 0; c < 2; ++c) {
    std::vector<uint64_t> counts(size_t(escapes ? 2 * kEscape + 1 : alphabet), 0);
    for (int i = 0; i < n; ++i)
      if (ctx[size_t(i)] == c) ++counts[size_t(escape_symbol(syms[size_t(i)]) - lo)];
    if (std::all_of(counts.begin(), counts.end(), [](uint64_t v) { return v == 0; })) counts[0] = 1;
    tables.push_back(FreqTable::from_counts(lo, counts));
  }
  const std::vector<uint8_t> want = encode_with_divisions(tables, ctx, syms);
  RC_ASSERT(rans_encode(tables, ctx, syms) == want);
  std::vector<uint8_t> out = {1, 2, 3};
  RansEncodeTables(tables).encode_append(ctx.data(), syms.data(), syms.size(), out);
  RC_ASSERT(std::vector<uint8_t>(out.begin(), out.begin() + 3) == std::vector<uint8_t>({1, 2, 3}));
  RC_ASSERT(std::vector<uint8_t>(out.begin() + 3, out.end()) == want);
}

TEST(CodecEntropy, ReciprocalEncoderCoversEveryFrequency) {
  // Frequencies 1..600 and then every 37th up to 2^15 (the symbol at
  // frequency f, a filler taking the rest), in random streams: the same
  // bytes as the divisions. Then the errors rans_encode gives.
  std::mt19937_64 g(5);
  for (uint32_t f = 1; f <= FreqTable::kTotal; f += (f < 600 ? 1 : 37)) {
    std::vector<uint64_t> counts = {f, FreqTable::kTotal - f};
    if (f == FreqTable::kTotal) counts.pop_back();
    const std::vector<FreqTable> tables = {FreqTable::from_counts(0, counts)};
    ASSERT_EQ(tables[0].freq(0), f);
    std::vector<int32_t> syms(64);
    for (auto& s : syms) s = counts.size() > 1 && g() % 2 ? 1 : 0;
    const std::vector<uint8_t> ctx(syms.size(), 0);
    ASSERT_EQ(rans_encode(tables, ctx, syms), encode_with_divisions(tables, ctx, syms)) << "frequency " << f;
  }
  const std::vector<FreqTable> one = {FreqTable::from_counts(0, {3, 1})};
  EXPECT_THROW(rans_encode(one, {0, 0}, {0, 2}), std::invalid_argument);  // not in the table
  EXPECT_THROW(rans_encode(one, {0, 1}, {0, 1}), std::out_of_range);      // no table 1
  EXPECT_THROW(rans_encode(one, {0}, {0, 1}), std::invalid_argument);     // fewer contexts
}

TEST(CodecEntropy, CodeLengthIsWithinOnePercentOfTheEntropy) {
  // 2^20 symbols of a discretised Laplacian (entropy ~3.4 bits): the stream
  // plus its table must cost at most 1% more than n · H(empirical).
  const int n = 1 << 20;
  std::mt19937_64 g(11);
  std::exponential_distribution<double> e(0.35);
  std::vector<int32_t> syms(n);
  std::vector<uint8_t> ctx(n, 0);
  int32_t lo = 0, hi = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t m = int32_t(e(g)) * ((g() & 1) ? 1 : -1);
    syms[i] = m, lo = std::min(lo, m), hi = std::max(hi, m);
  }
  std::vector<uint64_t> counts(size_t(hi - lo + 1), 0);
  for (int32_t s : syms) ++counts[size_t(s - lo)];
  const std::vector<FreqTable> tables = {FreqTable::from_counts(lo, counts)};
  std::vector<uint8_t> side;
  tables[0].serialize(side);
  const auto bytes = rans_encode(tables, ctx, syms);
  const double h = entropy_bits(counts);
  const double coded = 8.0 * double(bytes.size() + side.size());
  EXPECT_GT(h / n, 3.0);
  EXPECT_LT(coded, h * 1.01) << "coded " << coded / n << " bits/symbol vs entropy " << h / n;
  EXPECT_GE(coded, h * 0.999);  // cannot beat the entropy
}

TEST(CodecEntropy, HugeSymbolsTravelAsEscapes) {
  const std::vector<int32_t> syms = {0, 1, kEscape - 1, kEscape, -kEscape, 123456789, -2000000000, 2147483647, 5, -1};
  std::vector<uint8_t> ctx(syms.size(), 0);
  int32_t lo = 0, hi = 0;
  for (int32_t s : syms) lo = std::min(lo, escape_symbol(s)), hi = std::max(hi, escape_symbol(s));
  std::vector<uint64_t> counts(size_t(hi - lo + 1), 0);
  for (int32_t s : syms) ++counts[size_t(escape_symbol(s) - lo)];
  const std::vector<FreqTable> tables = {FreqTable::from_counts(lo, counts)};
  EXPECT_LE(tables[0].size(), 2 * kEscape + 1);
  const auto bytes = rans_encode(tables, ctx, syms);
  EXPECT_EQ(rans_decode(tables, ctx, bytes.data(), bytes.data() + bytes.size()), syms);
}

TEST(CodecEntropy, TruncatedOrEmptyStreamsThrow) {
  std::vector<uint64_t> counts = {5, 3, 2};
  const std::vector<FreqTable> tables = {FreqTable::from_counts(0, counts)};
  std::vector<int32_t> syms(5000);
  std::mt19937 g(1);
  for (auto& s : syms) s = int32_t(g() % 3);
  std::vector<uint8_t> ctx(syms.size(), 0);
  const auto bytes = rans_encode(tables, ctx, syms);
  EXPECT_THROW(rans_decode(tables, ctx, bytes.data(), bytes.data() + bytes.size() / 2), CorruptData);
  EXPECT_THROW(rans_decode(tables, ctx, bytes.data(), bytes.data() + 3), CorruptData);
  std::vector<uint8_t> ctx_bad(syms.size(), 3);
  EXPECT_THROW(rans_decode(tables, ctx_bad, bytes.data(), bytes.data() + bytes.size()), CorruptData);
}

}  // namespace
}  // namespace rbe::codec
