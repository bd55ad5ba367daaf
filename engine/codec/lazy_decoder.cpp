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
int64_t LazyDecoder::blocks_decoded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return decoded_;
}

const std::vector<float>& LazyDecoder::block(int64_t bi, int64_t bj) {
  if (bi < 0 || bi >= view_->block_rows() || bj < 0 || bj >= view_->block_cols())
    throw std::out_of_range("LazyDecoder: block index out of range");
  const int64_t b = bi * view_->block_cols() + bj;
  std::call_once(once_[size_t(b)], [&] {
    int64_t r0, c0;
    int rb, cb;
    view_->block_geometry(b, r0, c0, rb, cb);
    auto v = std::make_unique<std::vector<float>>(size_t(rb) * size_t(cb));
    view_->decode_block(b, v->data());
    cache_[size_t(b)] = std::move(v);
    std::lock_guard<std::mutex> lock(mu_);
    ++decoded_;
  });
  return *cache_[size_t(b)];
}

void LazyDecoder::decode_rows(int64_t r0, int64_t r1, float* out) {
  if (r0 < 0 || r1 > rows() || r0 > r1) throw std::out_of_range("LazyDecoder::decode_rows: bad row range");
  const int64_t B = view_->block_size(), C = cols();
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t bi = r / B, i = r % B;
    for (int64_t bj = 0; bj < view_->block_cols(); ++bj) {
      const auto& blk = block(bi, bj);
      const int64_t c0 = bj * B, cb = std::min<int64_t>(B, C - c0);
      std::copy(blk.begin() + std::ptrdiff_t(i * cb), blk.begin() + std::ptrdiff_t((i + 1) * cb), out + (r - r0) * C + c0);
    }
  }
}

}  // namespace rbe::codec
