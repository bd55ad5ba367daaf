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
#include "tensor/dtype.h"

namespace rbe::codec {

RbeEntropyParams RbeEntropyParams::from_json(const nlohmann::json& j) {
  RbeEntropyParams p;
  try {
    p.block_size = j.at("block_size").get<int>();
    p.rotate = j.value("rotate", true);
    p.tcq = j.value("quantizer", std::string("tcq")) == "tcq";
    p.seed = j.value("seed", uint64_t(0));
  } catch (const nlohmann::json::exception& ex) {
    throw CorruptData(std::string("rbe entropy params: ") + ex.what());
  }
  if (p.block_size < 1 || p.block_size > 4096) throw CorruptData("rbe entropy params: bad block_size");
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

RbeEntropyView::RbeEntropyView(const EncodedTensor& e) : rows_(e.rows), cols_(e.cols), data_(e.data) {
  if (rows_ <= 0 || cols_ <= 0) throw CorruptData("rbe entropy: bad shape");
  p_ = RbeEntropyParams::from_json(e.params);
  nbr_ = (rows_ + p_.block_size - 1) / p_.block_size;
  nbc_ = (cols_ + p_.block_size - 1) / p_.block_size;
  if (!e.data || e.size <= 0) throw CorruptData("rbe entropy: empty payload");
  const uint8_t* p = e.data;
  const uint8_t* end = e.data + e.size;
  const int contexts = *p++;
  if (contexts != (p_.tcq ? 2 : 1)) throw CorruptData("rbe entropy: context count does not match the quantizer");
  for (int c = 0; c < contexts; ++c) tables_.push_back(FreqTable::deserialize(p, end));
  const uint64_t nblocks = get_varint(p, end);
  if (nblocks != uint64_t(nbr_ * nbc_))
    throw CorruptData("rbe entropy: block count " + std::to_string(nblocks) + " does not match the shape");
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
  const int64_t bi = b / nbc_, bj = b % nbc_;
  r0 = bi * p_.block_size;
  c0 = bj * p_.block_size;
  rb = int(std::min<int64_t>(p_.block_size, rows_ - r0));
  cb = int(std::min<int64_t>(p_.block_size, cols_ - c0));
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
  reconstruct_block(coeffs.data(), rb, cb, Transform(tcode), p_.rotate, p_.seed, uint64_t(b), has_rec ? &rec : nullptr,
                    out);
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

// Decodes blocks of block-rows [bi0, bi1) and writes rows [r0, r1) of them into out (row stride cols).
void decode_range(const RbeEntropyView& v, int64_t r0, int64_t r1, float* out) {
  const int64_t B = v.block_size();
  const int64_t bi0 = r0 / B, bi1 = (r1 + B - 1) / B;
  const int64_t nb = (bi1 - bi0) * v.block_cols();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, nb, 1), [&](const tbb::blocked_range<int64_t>& rg) {
    std::vector<float> buf(static_cast<size_t>(B * B));
    for (int64_t k = rg.begin(); k < rg.end(); ++k) {
      const int64_t b = bi0 * v.block_cols() + k;
      int64_t br0, bc0;
      int rb, cb;
      v.block_geometry(b, br0, bc0, rb, cb);
      v.decode_block(b, buf.data());
      for (int i = 0; i < rb; ++i) {
        const int64_t r = br0 + i;
        if (r < r0 || r >= r1) continue;
        std::copy(buf.data() + int64_t(i) * cb, buf.data() + int64_t(i + 1) * cb, out + (r - r0) * v.cols() + bc0);
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
