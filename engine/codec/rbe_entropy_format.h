#pragma once
// Internal: the entropy form's payload, parsed (docs/format.md, "RBE entropy
// form"). Shared by the encoder (which decodes its own output to measure it),
// the decoders and the lazy decoder.
//
//   payload = u8 contexts (1: scalar, 2: trellis)
//             contexts × FreqTable (entropy.h serialisation)
//             varint block count, then one varint byte length per block
//             the blocks, row-major over the block grid:
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
  int block_size = 64;
  bool rotate = true;
  bool tcq = true;
  uint64_t seed = 0;
  static RbeEntropyParams from_json(const nlohmann::json& j);  // throws CorruptData on bad values
};

enum BlockFlags : uint8_t { kFlagRecord = 4, kFlagZero = 8 };

class RbeEntropyView {
 public:
  // Validates the whole directory; throws CorruptData with a clear message.
  explicit RbeEntropyView(const EncodedTensor& e);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int block_size() const { return p_.block_size; }
  int64_t block_rows() const { return nbr_; }  // blocks down
  int64_t block_cols() const { return nbc_; }  // blocks across
  int64_t block_count() const { return nbr_ * nbc_; }
  int64_t block_bytes(int64_t b) const { return int64_t(offsets_[size_t(b) + 1] - offsets_[size_t(b)]); }
  int64_t side_bytes() const { return int64_t(offsets_[0]); }  // context byte, tables, directory
  // Block b's geometry and its decode (rows_b × cols_b, row-major, into out).
  void block_geometry(int64_t b, int64_t& r0, int64_t& c0, int& rb, int& cb) const;
  void decode_block(int64_t b, float* out) const;
  HybridEncodedBlock describe(int64_t b, const BlockStats* stats) const;  // header fields, no decode

 private:
  int64_t rows_, cols_, nbr_, nbc_;
  RbeEntropyParams p_;
  const uint8_t* data_;
  std::vector<FreqTable> tables_;
  std::vector<uint64_t> offsets_;  // block starts relative to data_, plus the end
};

// Reconstruction of one block from its parts, exactly as the decoder does it:
// coefficients -> inverse transform -> inverse rotation -> + generator.
void reconstruct_block(const float* coeffs, int rb, int cb, Transform t, bool rotate, uint64_t seed, uint64_t key,
                       const DecodedParams* record, float* out);

}  // namespace rbe::codec
