#include "codec/lazy_decoder.h"

#include <algorithm>
#include <stdexcept>

#include "codec/rbe_entropy_format.h"

namespace rbe::codec {

LazyDecoder::LazyDecoder(std::shared_ptr<const EncodedTensor> e) : e_(std::move(e)) {
  if (!e_ || e_->codec != "rbe" || e_->storage != Storage::Entropy)
    throw std::invalid_argument("LazyDecoder: needs an rbe entropy tensor");
  view_ = std::make_unique<RbeEntropyView>(*e_);
  cache_.resize(size_t(view_->block_count()));
  once_ = std::vector<std::once_flag>(size_t(view_->block_count()));
}

LazyDecoder::~LazyDecoder() = default;

int64_t LazyDecoder::rows() const { return view_->rows(); }
int64_t LazyDecoder::cols() const { return view_->cols(); }
int64_t LazyDecoder::block_count() const { return view_->block_count(); }
int64_t LazyDecoder::blocks_decoded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return decoded_;
}

void LazyDecoder::block_geometry(int64_t b, int64_t& r0, int64_t& c0, int& rows_b, int& cols_b) const {
  if (b < 0 || b >= view_->block_count()) throw std::out_of_range("LazyDecoder: block index out of range");
  view_->block_geometry(b, r0, c0, rows_b, cols_b);
}

const std::vector<float>& LazyDecoder::block(int64_t b) {
  if (b < 0 || b >= view_->block_count()) throw std::out_of_range("LazyDecoder: block index out of range");
  std::call_once(once_[size_t(b)], [&] {
    const LeafGeometry& g = view_->leaf(b);
    auto v = std::make_unique<std::vector<float>>(size_t(g.rows) * size_t(g.cols));
    view_->decode_block(b, v->data());
    cache_[size_t(b)] = std::move(v);
    std::lock_guard<std::mutex> lock(mu_);
    ++decoded_;
  });
  return *cache_[size_t(b)];
}

void LazyDecoder::decode_rows(int64_t r0, int64_t r1, float* out) {
  if (r0 < 0 || r1 > rows() || r0 > r1) throw std::out_of_range("LazyDecoder::decode_rows: bad row range");
  const int64_t C = cols();
  for (int64_t b : view_->blocks_touching_rows(r0, r1)) {
    const LeafGeometry& g = view_->leaf(b);
    const auto& blk = block(b);
    for (int64_t r = std::max(r0, g.r0); r < std::min(r1, g.r0 + g.rows); ++r) {
      const auto src = blk.begin() + std::ptrdiff_t((r - g.r0) * g.cols);
      std::copy(src, src + g.cols, out + (r - r0) * C + g.c0);
    }
  }
}

}  // namespace rbe::codec
