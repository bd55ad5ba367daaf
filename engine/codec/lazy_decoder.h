#pragma once
// Decodes an entropy-form tensor block by block on first use and keeps the
// decoded blocks (for viewers and row lookups that touch a small part of a
// large tensor). Blocks are the form's leaf blocks (the tiles, or the quadtree
// leaves with min_block_size), in payload order. Thread-safe; gives the same
// numbers as the full decode.
#include <memory>
#include <mutex>
#include <vector>

#include "codec/codec.h"

namespace rbe::codec {

class RbeEntropyView;

class LazyDecoder {
 public:
  explicit LazyDecoder(std::shared_ptr<const EncodedTensor> e);  // rbe entropy only
  ~LazyDecoder();

  int64_t rows() const;
  int64_t cols() const;
  int64_t block_count() const;
  int64_t blocks_decoded() const;  // how many blocks have been decoded so far
  // Block b's place and size, and its values, row-major [rows_b, cols_b]; decoded on first use.
  void block_geometry(int64_t b, int64_t& r0, int64_t& c0, int& rows_b, int& cols_b) const;
  const std::vector<float>& block(int64_t b);
  // Rows [r0, r1) into out[(r1 - r0) * cols]; decodes only the blocks they touch.
  void decode_rows(int64_t r0, int64_t r1, float* out);

 private:
  std::shared_ptr<const EncodedTensor> e_;
  std::unique_ptr<RbeEntropyView> view_;
  std::vector<std::unique_ptr<std::vector<float>>> cache_;
  std::vector<std::once_flag> once_;
  mutable std::mutex mu_;
  int64_t decoded_ = 0;
};

}  // namespace rbe::codec
