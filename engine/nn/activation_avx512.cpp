// Compiled with AVX-512 flags where the build has them (files *_avx512.cpp,
// engine/CMakeLists.txt); without them it builds the "not available" answer.
#include "nn/activation_avx512.h"

#include <cstdlib>
#include <cstring>

#include "nn/exp_poly.h"

namespace rbe::nn::detail {

#ifdef __AVX512F__

namespace {

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

inline v16f exp16(v16f x) { return exp_cephes<v16f, v16i>(x); }

inline v16f gelu_tanh16(v16f v) {
  const v16f u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
  const v16f t = 1.f - 2.f / (exp16(2.f * u) + 1.f);
  return 0.5f * v * (1.f + t);
}

}  // namespace

const bool kGeluTanhAvx512Built = true;

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

const bool kGeluTanhAvx512Built = false;
void gelu_tanh_avx512(const float*, float*, int64_t) { std::abort(); }  // callers ask first

#endif

}  // namespace rbe::nn::detail
