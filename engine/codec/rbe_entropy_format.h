#pragma once
// Internal: the entropy form's payload, parsed (docs/format.md, "RBE entropy
// form"). Shared by the encoder (which decodes its own output to measure it),
// the decoders and the lazy decoder.
//
//   payload = u8 contexts (1: scalar, 2: trellis)
//             contexts × FreqTable (entropy.h serialisation)
//             [format_version 2 (params "min_block_size"): varint n, then n
//              bytes of split flags, LSB first: one bit per quadtree node
//              whose edge exceeds min_block_size, tiles row-major, nodes in
//              pre-order (children TL, TR, BL, BR that lie inside the matrix)]
//             varint block count, then one varint byte length per block
//             the blocks (the leaves; tiles row-major, pre-order inside a tile):
//               u8 flags: bits 0-1 transform (1 DCT, 2 Haar, 3 CDF97),
//                         bit 2 generator record present, bit 3 all-zero block
//               f32 step Δ (little-endian)
//               [u64 record hi, u16 f16 amplitude]   when bit 2
//               rANS stream (state first)            unless bit 3
#include <cstdint>
#include <vector>

#include "codec/codec.h"
#include "codec/entropy.h"
#include "codec/records.h"

namespace rbe::codec {

struct RbeEntropyParams {
  int format_version = 1;  // 2: quadtree blocks
  int block_size = 64;     // the tile edge
  int min_block_size = 0;  // format_version 2 only: the smallest leaf edge (< block_size)
  bool rotate = true;
  bool tcq = true;
  uint64_t seed = 0;
  bool quadtree() const { return format_version >= 2; }
  static RbeEntropyParams from_json(const nlohmann::json& j);  // throws CorruptData on bad values
};

enum BlockFlags : uint8_t { kFlagRecord = 4, kFlagZero = 8 };

// A leaf block: its place, size and rotation key.
struct LeafGeometry {
  int64_t r0 = 0, c0 = 0;
  int rows = 0, cols = 0;
  uint64_t key = 0;
};

// The rotation key of a block: the tile's row-major index for a whole tile
// (depth 0, as in format_version 1), else depth·2^56 ⊕ r0·2^28 ⊕ c0 — the
// encoder needs a key before it knows how the earlier tiles split.
inline uint64_t leaf_key(int64_t tile, int depth, int64_t r0, int64_t c0) {
  if (depth == 0) return uint64_t(tile);
  return (uint64_t(depth) << 56) ^ (uint64_t(r0) << 28) ^ uint64_t(c0);
}

// Split flags, one bit per node, least significant bit first.
class SplitBitWriter {
 public:
  void put(bool bit) {
    if (n_ % 8 == 0) bytes_.push_back(0);
    if (bit) bytes_.back() = uint8_t(bytes_.back() | (1u << (n_ % 8)));
    ++n_;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  uint64_t n_ = 0;
};

class RbeEntropyView {
 public:
  // Validates the whole directory (and the split flags); throws CorruptData
  // with a clear message.
  explicit RbeEntropyView(const EncodedTensor& e);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int block_size() const { return p_.block_size; }  // the tile edge (largest block)
  int min_block_size() const { return p_.quadtree() ? p_.min_block_size : p_.block_size; }
  int64_t tile_rows() const { return nbr_; }  // tiles down
  int64_t tile_cols() const { return nbc_; }  // tiles across
  int64_t tile_count() const { return nbr_ * nbc_; }
  // Blocks are the leaves; those of tiles [t0, t1) are [tile_first_block(t0), tile_first_block(t1)).
  int64_t block_count() const { return int64_t(leaves_.size()); }
  int64_t tile_first_block(int64_t tile) const { return tile_first_[size_t(tile)]; }
  int64_t block_bytes(int64_t b) const { return int64_t(offsets_[size_t(b) + 1] - offsets_[size_t(b)]); }
  int64_t side_bytes() const { return int64_t(offsets_[0]); }  // context byte, tables, split flags, directory
  // Block b's geometry and its decode (rows_b × cols_b, row-major, into out).
  const LeafGeometry& leaf(int64_t b) const { return leaves_[size_t(b)]; }
  void block_geometry(int64_t b, int64_t& r0, int64_t& c0, int& rb, int& cb) const;
  void decode_block(int64_t b, float* out) const;
  // Blocks b0 and b1 (each as decode_block would), their symbols decoded side by side.
  void decode_blocks(int64_t b0, float* out0, int64_t b1, float* out1) const;
  HybridEncodedBlock describe(int64_t b, const BlockStats* stats) const;  // header fields, no decode
  // The blocks that rows [r0, r1) touch, in payload order.
  std::vector<int64_t> blocks_touching_rows(int64_t r0, int64_t r1) const;

 private:
  // A block's header, parsed and checked; its rANS stream is [p, end).
  struct BlockStart {
    int64_t b = 0, n = 0;
    int rb = 0, cb = 0, tcode = 0;
    float step = 0;
    bool zero = false, has_rec = false;
    DecodedParams rec;
    const uint8_t *p = nullptr, *end = nullptr;
  };
  BlockStart start_block(int64_t b) const;
  void decode_symbols(const BlockStart& s, float* coeffs) const;
  void decode_symbols(const BlockStart& s0, float* c0, const BlockStart& s1, float* c1) const;
  void finish_block(const BlockStart& s, const float* coeffs, float* out) const;

  int64_t rows_, cols_, nbr_, nbc_;
  RbeEntropyParams p_;
  const uint8_t* data_;
  std::vector<FreqTable> tables_;
  std::vector<LeafGeometry> leaves_;
  std::vector<int64_t> tile_first_;  // first leaf of each tile, plus the leaf count
  std::vector<uint64_t> offsets_;    // block starts relative to data_, plus the end
};

// Reconstruction of one block from its parts, exactly as the decoder does it:
// coefficients -> inverse transform -> inverse rotation -> + generator.
void reconstruct_block(const float* coeffs, int rb, int cb, Transform t, bool rotate, uint64_t seed, uint64_t key,
                       const DecodedParams* record, float* out);

}  // namespace rbe::codec
