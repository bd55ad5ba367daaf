#include "io/gguf_blocks.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tensor/dtype.h"

namespace rbe::gguf {

int64_t block_elements(GgmlType t) { return is_quantized(t) ? kQuantBlock : 1; }

int64_t block_bytes(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: return 2;
    case GgmlType::Q4_0: return 2 + kQuantBlock / 2;
    case GgmlType::Q8_0: return 2 + kQuantBlock;
  }
  throw std::invalid_argument("unknown ggml type " + std::to_string(uint32_t(t)));
}

namespace {
float scale_of(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return f16_to_f32(h);
}
}  // namespace

void dequantize(GgmlType t, const uint8_t* src, int64_t n, float* out) {
  if (!is_quantized(t) || n % kQuantBlock != 0)
    throw std::invalid_argument(std::string("dequantize: ") + ggml_type_name(t) + " of " + std::to_string(n) +
                                " elements (a quantized type and a multiple of 32 expected)");
  const int64_t bb = block_bytes(t);
  for (int64_t b = 0; b < n / kQuantBlock; ++b, src += bb, out += kQuantBlock) {
    const float d = scale_of(src);
    const uint8_t* qs = src + 2;
    if (t == GgmlType::Q8_0) {
      for (int j = 0; j < kQuantBlock; ++j) out[j] = d * float(int8_t(qs[j]));
    } else {
      for (int j = 0; j < kQuantBlock / 2; ++j) {
        out[j] = d * float(int(qs[j] & 15) - 8);
        out[j + kQuantBlock / 2] = d * float(int(qs[j] >> 4) - 8);
      }
    }
  }
}

int64_t first_bad_scale(GgmlType t, const uint8_t* src, int64_t n) {
  const int64_t bb = block_bytes(t);
  for (int64_t b = 0; b < n / kQuantBlock; ++b)
    if (!std::isfinite(scale_of(src + b * bb))) return b;
  return -1;
}

}  // namespace rbe::gguf
