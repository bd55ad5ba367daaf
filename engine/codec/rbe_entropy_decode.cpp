// The entropy form's decoder: payload parsing and validation, block decode,
// full and row-range decode.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "codec/rbe_entropy.h"
#include "codec/rbe_entropy_format.h"
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

void RbeEntropyView::decode_block(int64_t b, float* out) const {
  if (b < 0 || b >= block_count()) throw std::out_of_range("rbe entropy: block index out of range");
  int64_t r0, c0;
  int rb, cb;
  block_geometry(b, r0, c0, rb, cb);
  const int64_t n = int64_t(rb) * cb;
  const uint8_t* p = data_ + offsets_[size_t(b)];
  const uint8_t* end = data_ + offsets_[size_t(b) + 1];
  const uint8_t flags = *p++;
  const int tcode = flags & 3;
  if (tcode == 0 || (flags & 0xF0)) throw CorruptData("rbe entropy: bad block flags");
  float step;
  std::memcpy(&step, p, 4);
  p += 4;
  if (!std::isfinite(step) || step <= 0) throw CorruptData("rbe entropy: bad step");
  DecodedParams rec;
  bool has_rec = flags & kFlagRecord;
  if (has_rec) {
    if (end - p < 10) throw CorruptData("rbe entropy: truncated record");
    Packed128 pk;
    std::memcpy(&pk.hi, p, 8);
    uint16_t a;
    std::memcpy(&a, p + 8, 2);
    p += 10;
    if (PoincarePackedBit128(pk.hi).reserved() != 0) throw CorruptData("rbe entropy: bad record");
    rec = pk.params();
    rec.amplitude = f16_to_f32(a);
  }
  std::vector<float> coeffs(static_cast<size_t>(n), 0.f);
  if (!(flags & kFlagZero)) {
    RansDecoder dec(p, end);
    if (p_.tcq) {
      TcqTracker tr;
      for (int64_t i = 0; i < n; ++i) coeffs[size_t(i)] = tr.next(rans_get_escaped(dec, tables_[size_t(tr.context())]), step);
    } else {
      for (int64_t i = 0; i < n; ++i) coeffs[size_t(i)] = float(double(rans_get_escaped(dec, tables_[0])) * step);
    }
  } else if (p != end) {
    throw CorruptData("rbe entropy: trailing bytes in a zero block");
  }
  reconstruct_block(coeffs.data(), rb, cb, Transform(tcode), p_.rotate, p_.seed, leaves_[size_t(b)].key,
                    has_rec ? &rec : nullptr, out);
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

// Decodes the blocks rows [r0, r1) touch and writes those rows of them into out (row stride cols).
void decode_range(const RbeEntropyView& v, int64_t r0, int64_t r1, float* out) {
  const std::vector<int64_t> which = v.blocks_touching_rows(r0, r1);
  const int64_t B = v.block_size();
  tbb::parallel_for(tbb::blocked_range<size_t>(0, which.size(), 1), [&](const tbb::blocked_range<size_t>& rg) {
    std::vector<float> buf(static_cast<size_t>(B * B));
    for (size_t k = rg.begin(); k < rg.end(); ++k) {
      const LeafGeometry& g = v.leaf(which[k]);
      v.decode_block(which[k], buf.data());
      for (int i = 0; i < g.rows; ++i) {
        const int64_t r = g.r0 + i;
        if (r < r0 || r >= r1) continue;
        std::copy(buf.data() + int64_t(i) * g.cols, buf.data() + int64_t(i + 1) * g.cols, out + (r - r0) * v.cols() + g.c0);
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
