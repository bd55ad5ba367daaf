// Compiled with AVX-512 flags where the build has them (files *_avx512.cpp,
// engine/CMakeLists.txt); without them it builds the "not available" answer.
#include "nn/activation_avx512.h"

#include <cstdlib>
#include <cstring>

#include "tensor/kernels/cpu_features.h"

namespace rbe::nn::detail {

#ifdef __AVX512F__

namespace {

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

inline v16f splat16(float a) { return v16f{} + a; }

// exp(x) as kernel_util.h's exp8 computes it (Cephes polynomial), 16 lanes.
inline v16f exp16(v16f x) {
  x = x < -87.3f ? splat16(-87.3f) : x;
  x = x > 88.7f ? splat16(88.7f) : x;
  const float kShift = 12582912.f;  // n = round(x / ln2) by adding 1.5 * 2^23
  const v16f z = x * 1.44269504088896341f + kShift;
  const v16f n = z - kShift;
  v16f r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  v16f p = splat16(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const v16i e = ((v16i)z - 0x4B400000 + 127) << 23;
  return p * (v16f)e;
}

inline v16f gelu_tanh16(v16f v) {
  const v16f u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
  const v16f t = 1.f - 2.f / (exp16(2.f * u) + 1.f);
  return 0.5f * v * (1.f + t);
}

}  // namespace

bool gelu_tanh_avx512_available() {
  static const bool ok = kernels::cpu_has_avx512();
  return ok;
}

void gelu_tanh_avx512(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v16f v;
    std::memcpy(&v, x + i, sizeof v);
    v = gelu_tanh16(v);
    std::memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {  // the tail through a zero-padded vector
    v16f v = {};
    std::memcpy(&v, x + i, size_t(n - i) * sizeof(float));
    v = gelu_tanh16(v);
    std::memcpy(y + i, &v, size_t(n - i) * sizeof(float));
  }
}

#else

bool gelu_tanh_avx512_available() { return false; }
void gelu_tanh_avx512(const float*, float*, int64_t) { std::abort(); }  // callers ask first

#endif

}  // namespace rbe::nn::detail
