// Host side of the GPU decode: the rotation step, and the fallback when this
// build has no CUDA (the kernel itself is in cuda/fixed_decode.cu).
#include "codec/fixed_decode_gpu.h"

#include <stdexcept>
#include <vector>

#include "codec/fixed_internal.h"
#include "codec/hadamard.h"

namespace rbe::codec::gpu {

#ifndef RBE_HAVE_CUDA
bool available(std::string* why) {
  if (why) *why = "this build has no CUDA (nvcc was not found when it was configured)";
  return false;
}

void decode_fixed_stored(const fixed::Layout&, const uint8_t*, float*) {
  throw std::runtime_error("GPU decode: this build has no CUDA (nvcc was not found when it was configured)");
}
#endif

Tensor decode_fixed_gpu(const EncodedTensor& e) {
  const fixed::Layout L = fixed::layout_of(e);
  Tensor w = Tensor::empty({L.rows, L.cols});
  float* out = w.data<float>();
  decode_fixed_stored(L, e.data, out);
  if (L.kind == fixed::Kind::Rbe) {
    const RandomizedHadamard R(L.cols, fixed::rotation_seed(e));
    for (int64_t r = 0; r < L.rows; ++r) R.inverse(out + r * L.cols);
  }
  return w;
}

}  // namespace rbe::codec::gpu
