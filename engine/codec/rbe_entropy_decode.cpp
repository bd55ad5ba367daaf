// The entropy form's decoder: payload parsing and validation, block decode,
// full and row-range decode.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "codec/rbe_entropy.h"
#include "codec/rbe_entropy_format.h"
#include "codec/scratch.h"
#include "codec/tcq.h"
#include "codec/transforms.h"
#include "io/json_integer.h"
#include "tensor/dtype.h"

namespace rbe::codec {

RbeEntropyParams RbeEntropyParams::from_json(const nlohmann::json& j) {
  RbeEntropyParams p;
  try {
    const std::string what = "rbe entropy params: ";
    p.format_version = json_integer_or<int, CorruptData>(j, "format_version", 1, what + "format_version");
    p.block_size = json_integer<int, CorruptData>(j.at("block_size"), what + "block_size");
    if (j.contains("min_block_size"))
      p.min_block_size = json_integer<int, CorruptData>(j.at("min_block_size"), what + "min_block_size");
    p.rotate = j.value("rotate", true);
    p.tcq = j.value("quantizer", std::string("tcq")) == "tcq";
    p.seed = json_integer_or<uint64_t, CorruptData>(j, "seed", 0, what + "seed");
  } catch (const nlohmann::json::exception& ex) {
    throw CorruptData(std::string("rbe entropy params: ") + ex.what());
  }
  if (p.block_size < 1 || p.block_size > 4096) throw CorruptData("rbe entropy params: bad block_size");
  if (p.format_version == 1) {
    if (j.contains("min_block_size")) throw CorruptData("rbe entropy params: min_block_size needs format_version 2");
  } else if (p.format_version == 2) {
    const int m = p.min_block_size, B = p.block_size;
    if (!j.contains("min_block_size")) throw CorruptData("rbe entropy params: format_version 2 needs min_block_size");
    if (m < 1 || m >= B || B % m != 0 || ((B / m) & (B / m - 1)) != 0)
      throw CorruptData("rbe entropy params: min_block_size " + std::to_string(m) +
                        " is not block_size " + std::to_string(B) + " halved one or more times");
  } else {
    throw CorruptData("rbe entropy params: unsupported format_version " + std::to_string(p.format_version) +
                      " (this build reads 1 and 2)");
  }
  return p;
}

void reconstruct_block(const float* coeffs, int rb, int cb, Transform t, bool rotate, uint64_t seed, uint64_t key,
                       const DecodedParams* record, float* out) {
  const int64_t n = int64_t(rb) * cb;
  std::copy(coeffs, coeffs + n, out);
  inverse_transform(t, out, rb, cb);
  if (rotate) rotate_block(out, rb, cb, seed, key, true);
  if (record) {
    std::vector<float> g(static_cast<size_t>(n));
    generate_block(*record, rb, cb, g.data());
    for (int64_t i = 0; i < n; ++i) out[i] += g[size_t(i)];
  }
}

namespace {

// Reads split flags LSB first; running past the end is corruption.
class SplitBitReader {
 public:
  SplitBitReader(const uint8_t* p, uint64_t n) : p_(p), n_(n) {}
  bool get() {
    if (i_ >= 8 * n_) throw CorruptData("rbe entropy: split flags end before the quadtrees do");
    const bool b = (p_[i_ / 8] >> (i_ % 8)) & 1;
    ++i_;
    return b;
  }
  // Every byte used and the padding bits of the last one zero.
  void check_consumed() const {
    if ((i_ + 7) / 8 != n_) throw CorruptData("rbe entropy: " + std::to_string(n_) + " bytes of split flags, the quadtrees use " + std::to_string((i_ + 7) / 8));
    if (i_ % 8 && (p_[n_ - 1] >> (i_ % 8)) != 0) throw CorruptData("rbe entropy: nonzero padding after the split flags");
  }

 private:
  const uint8_t* p_;
  uint64_t n_, i_ = 0;
};

// Appends the leaves of the node at (r0, c0) with edge S (clipped to the
// matrix), in pre-order.
void parse_node(SplitBitReader& bits, int64_t tile, int depth, int64_t r0, int64_t c0, int S, int min_size,
                int64_t rows, int64_t cols, std::vector<LeafGeometry>& out) {
  if (S > min_size && bits.get()) {
    const int h = S / 2;
    for (int dr : {0, h})
      for (int dc : {0, h})
        if (r0 + dr < rows && c0 + dc < cols)
          parse_node(bits, tile, depth + 1, r0 + dr, c0 + dc, h, min_size, rows, cols, out);
    return;
  }
  LeafGeometry g;
  g.r0 = r0, g.c0 = c0;
  g.rows = int(std::min<int64_t>(S, rows - r0)), g.cols = int(std::min<int64_t>(S, cols - c0));
  g.key = leaf_key(tile, depth, r0, c0);
  out.push_back(g);
}

}  // namespace

RbeEntropyView::RbeEntropyView(const EncodedTensor& e) : rows_(e.rows), cols_(e.cols), data_(e.data) {
  if (rows_ <= 0 || cols_ <= 0) throw CorruptData("rbe entropy: bad shape");
  p_ = RbeEntropyParams::from_json(e.params);
  const int B = p_.block_size;
  nbr_ = (rows_ + B - 1) / B;
  nbc_ = (cols_ + B - 1) / B;
  if (!e.data || e.size <= 0) throw CorruptData("rbe entropy: empty payload");
  const uint8_t* p = e.data;
  const uint8_t* end = e.data + e.size;
  const int contexts = *p++;
  if (contexts != (p_.tcq ? 2 : 1)) throw CorruptData("rbe entropy: context count does not match the quantizer");
  for (int c = 0; c < contexts; ++c) tables_.push_back(FreqTable::deserialize(p, end));
  const int64_t tiles = nbr_ * nbc_;
  tile_first_.resize(size_t(tiles) + 1);
  if (p_.quadtree()) {
    const uint64_t nbytes = get_varint(p, end);
    if (nbytes > uint64_t(end - p)) throw CorruptData("rbe entropy: split flags run past the payload");
    // Every tile holds at least one flag: a bound on the tiles before anything is allocated.
    if (uint64_t(tiles) > 8 * nbytes) throw CorruptData("rbe entropy: too few split flags for " + std::to_string(tiles) + " tiles");
    SplitBitReader bits(p, nbytes);
    for (int64_t t = 0; t < tiles; ++t) {
      tile_first_[size_t(t)] = int64_t(leaves_.size());
      parse_node(bits, t, 0, (t / nbc_) * B, (t % nbc_) * B, B, p_.min_block_size, rows_, cols_, leaves_);
    }
    bits.check_consumed();
    p += nbytes;
  } else {
    if (uint64_t(tiles) > uint64_t(end - p)) throw CorruptData("rbe entropy: payload too short for " + std::to_string(tiles) + " blocks");
    leaves_.resize(size_t(tiles));
    for (int64_t t = 0; t < tiles; ++t) {
      tile_first_[size_t(t)] = t;
      LeafGeometry& g = leaves_[size_t(t)];
      g.r0 = (t / nbc_) * B, g.c0 = (t % nbc_) * B;
      g.rows = int(std::min<int64_t>(B, rows_ - g.r0)), g.cols = int(std::min<int64_t>(B, cols_ - g.c0));
      g.key = uint64_t(t);
    }
  }
  tile_first_[size_t(tiles)] = int64_t(leaves_.size());
  const uint64_t nblocks = get_varint(p, end);
  if (nblocks != uint64_t(leaves_.size()))
    throw CorruptData("rbe entropy: block count " + std::to_string(nblocks) + " does not match the " +
                      (p_.quadtree() ? "split flags (" : "shape (") + std::to_string(leaves_.size()) + " blocks)");
  std::vector<uint64_t> lengths(nblocks);
  for (auto& l : lengths) l = get_varint(p, end);
  offsets_.resize(nblocks + 1);
  uint64_t off = uint64_t(p - e.data);
  for (size_t b = 0; b < nblocks; ++b) {
    offsets_[b] = off;
    if (lengths[b] < 5 || lengths[b] > uint64_t(e.size)) throw CorruptData("rbe entropy: bad block length");
    off += lengths[b];
  }
  offsets_[nblocks] = off;
  if (off != uint64_t(e.size)) throw CorruptData("rbe entropy: block lengths do not add up to the payload size");
}

void RbeEntropyView::block_geometry(int64_t b, int64_t& r0, int64_t& c0, int& rb, int& cb) const {
  const LeafGeometry& g = leaves_[size_t(b)];
  r0 = g.r0, c0 = g.c0, rb = g.rows, cb = g.cols;
}

std::vector<int64_t> RbeEntropyView::blocks_touching_rows(int64_t r0, int64_t r1) const {
  std::vector<int64_t> out;
  if (r0 >= r1) return out;
  const int64_t B = p_.block_size;
  const int64_t first = tile_first_[size_t((r0 / B) * nbc_)], last = tile_first_[size_t(std::min(nbr_, (r1 + B - 1) / B) * nbc_)];
  for (int64_t b = first; b < last; ++b) {
    const LeafGeometry& g = leaves_[size_t(b)];
    if (g.r0 < r1 && g.r0 + g.rows > r0) out.push_back(b);
  }
  return out;
}

RbeEntropyView::BlockStart RbeEntropyView::start_block(int64_t b) const {
  if (b < 0 || b >= block_count()) throw std::out_of_range("rbe entropy: block index out of range");
  BlockStart s;
  s.b = b;
  int64_t r0, c0;
  block_geometry(b, r0, c0, s.rb, s.cb);
  s.n = int64_t(s.rb) * s.cb;
  const uint8_t* p = data_ + offsets_[size_t(b)];
  s.end = data_ + offsets_[size_t(b) + 1];
  const uint8_t flags = *p++;
  s.tcode = flags & 3;
  if (s.tcode == 0 || (flags & 0xF0)) throw CorruptData("rbe entropy: bad block flags");
  std::memcpy(&s.step, p, 4);
  p += 4;
  if (!std::isfinite(s.step) || s.step <= 0) throw CorruptData("rbe entropy: bad step");
  s.has_rec = flags & kFlagRecord;
  if (s.has_rec) {
    if (s.end - p < 10) throw CorruptData("rbe entropy: truncated record");
    Packed128 pk;
    std::memcpy(&pk.hi, p, 8);
    uint16_t a;
    std::memcpy(&a, p + 8, 2);
    p += 10;
    if (PoincarePackedBit128(pk.hi).reserved() != 0) throw CorruptData("rbe entropy: bad record");
    s.rec = pk.params();
    s.rec.amplitude = f16_to_f32(a);
  }
  s.zero = flags & kFlagZero;
  if (s.zero && p != s.end) throw CorruptData("rbe entropy: trailing bytes in a zero block");
  s.p = p;
  return s;
}

// One block's coefficients from its rANS stream, the trellis choosing each
// symbol's table. Zero blocks have none.
void RbeEntropyView::decode_symbols(const BlockStart& s, float* coeffs) const {
  if (s.zero) {
    std::fill(coeffs, coeffs + s.n, 0.f);
    return;
  }
  RansDecoder dec(s.p, s.end);
  if (p_.tcq) {
    TcqTracker tr;
    for (int64_t i = 0; i < s.n; ++i) coeffs[i] = tr.next(rans_get_escaped(dec, tables_[size_t(tr.context())]), s.step);
  } else {
    for (int64_t i = 0; i < s.n; ++i) coeffs[i] = float(double(rans_get_escaped(dec, tables_[0])) * s.step);
  }
}

// Two blocks' coefficients, their symbols taken in turns: each stream is a
// chain (state, table, next state), and two chains side by side keep the
// core busy where one waits on its own loads. The same symbols as one at a time.
void RbeEntropyView::decode_symbols(const BlockStart& s0, float* c0, const BlockStart& s1, float* c1) const {
  if (s0.zero || s1.zero || !p_.tcq) {
    decode_symbols(s0, c0);
    decode_symbols(s1, c1);
    return;
  }
  RansDecoder d0(s0.p, s0.end), d1(s1.p, s1.end);
  TcqTracker t0, t1;
  const int64_t both = std::min(s0.n, s1.n);
  for (int64_t i = 0; i < both; ++i) {
    c0[i] = t0.next(rans_get_escaped(d0, tables_[size_t(t0.context())]), s0.step);
    c1[i] = t1.next(rans_get_escaped(d1, tables_[size_t(t1.context())]), s1.step);
  }
  for (int64_t i = both; i < s0.n; ++i) c0[i] = t0.next(rans_get_escaped(d0, tables_[size_t(t0.context())]), s0.step);
  for (int64_t i = both; i < s1.n; ++i) c1[i] = t1.next(rans_get_escaped(d1, tables_[size_t(t1.context())]), s1.step);
}

void RbeEntropyView::finish_block(const BlockStart& s, const float* coeffs, float* out) const {
  reconstruct_block(coeffs, s.rb, s.cb, Transform(s.tcode), p_.rotate, p_.seed, leaves_[size_t(s.b)].key,
                    s.has_rec ? &s.rec : nullptr, out);
}

void RbeEntropyView::decode_block(int64_t b, float* out) const {
  const BlockStart s = start_block(b);
  thread_local std::vector<float> kept;
  std::vector<float> own;
  float* coeffs = scratch(kept, own, size_t(s.n));
  decode_symbols(s, coeffs);
  finish_block(s, coeffs, out);
}

void RbeEntropyView::decode_blocks(int64_t b0, float* out0, int64_t b1, float* out1) const {
  const BlockStart s0 = start_block(b0), s1 = start_block(b1);
  thread_local std::vector<float> kept;
  std::vector<float> own;
  float* coeffs = scratch(kept, own, size_t(s0.n + s1.n));
  decode_symbols(s0, coeffs, s1, coeffs + s0.n);
  finish_block(s0, coeffs, out0);
  finish_block(s1, coeffs + s0.n, out1);
}

HybridEncodedBlock describe_rbe_entropy_block(const EncodedTensor& e, int64_t b) {
  const RbeEntropyView v(e);
  if (b < 0 || b >= v.block_count()) throw std::out_of_range("describe block: index out of range");
  return v.describe(b, b < int64_t(e.blocks.size()) ? &e.blocks[size_t(b)] : nullptr);
}

HybridEncodedBlock RbeEntropyView::describe(int64_t b, const BlockStats* stats) const {
  const uint8_t* p = data_ + offsets_[size_t(b)];
  const uint8_t* end = data_ + offsets_[size_t(b) + 1];
  HybridEncodedBlock h;
  const uint8_t flags = *p++;
  h.transform = flags & 3;
  std::memcpy(&h.step, p, 4);
  p += 4;
  h.has_record = flags & kFlagRecord;
  if (h.has_record) {
    if (end - p < 10) throw CorruptData("rbe entropy: truncated record");
    std::memcpy(&h.record.hi, p, 8);
    uint16_t a;
    std::memcpy(&a, p + 8, 2);
    p += 10;
    h.amplitude = f16_to_f32(a);
    h.coefficients = {h.amplitude};
  }
  h.residual.assign(p, end);
  if (stats) h.grade = uint8_t(stats->grade), h.rmse = stats->rmse, h.rel_rmse = stats->rel_rmse, h.bits = stats->bits;
  return h;
}

namespace {

// Decodes the blocks rows [r0, r1) touch and writes those rows of them into out (row stride cols),
// two blocks at a time (RbeEntropyView::decode_blocks).
void decode_range(const RbeEntropyView& v, int64_t r0, int64_t r1, float* out) {
  const std::vector<int64_t> which = v.blocks_touching_rows(r0, r1);
  const int64_t B = v.block_size();
  auto place = [&](int64_t b, const float* buf) {
    const LeafGeometry& g = v.leaf(b);
    for (int i = 0; i < g.rows; ++i) {
      const int64_t r = g.r0 + i;
      if (r < r0 || r >= r1) continue;
      std::copy(buf + int64_t(i) * g.cols, buf + int64_t(i + 1) * g.cols, out + (r - r0) * v.cols() + g.c0);
    }
  };
  const size_t pairs = (which.size() + 1) / 2;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, pairs, 1), [&](const tbb::blocked_range<size_t>& rg) {
    std::vector<float> buf(static_cast<size_t>(2 * B * B));
    for (size_t k = 2 * rg.begin(); k < std::min(which.size(), 2 * rg.end()); k += 2) {
      if (k + 1 < which.size()) {
        v.decode_blocks(which[k], buf.data(), which[k + 1], buf.data() + B * B);
        place(which[k], buf.data());
        place(which[k + 1], buf.data() + B * B);
      } else {
        v.decode_block(which[k], buf.data());
        place(which[k], buf.data());
      }
    }
  });
}

}  // namespace

void decode_rbe_entropy(const EncodedTensor& e, float* out) {
  const RbeEntropyView v(e);
  decode_range(v, 0, e.rows, out);
}

void decode_rbe_entropy_rows(const EncodedTensor& e, int64_t r0, int64_t r1, float* out) {
  if (r0 < 0 || r1 > e.rows || r0 > r1) throw std::out_of_range("decode_rows: bad row range");
  if (r0 == r1) return;
  const RbeEntropyView v(e);
  decode_range(v, r0, r1, out);
}

}  // namespace rbe::codec
