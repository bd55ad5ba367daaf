#pragma once
// 16-lane float vectors (GCC vector extensions) for the nn kernels compiled
// with AVX-512 flags (files *_avx512.cpp): what kernel_util.h's v8f is to
// the 8-lane loops. Internal linkage; include only from those files.
#include <cstdint>
#include <cstring>

#include "nn/exp_poly.h"

namespace rbe::nn::detail {
namespace {

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

inline v16f load16(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, v16f v) { std::memcpy(p, &v, sizeof v); }

// exp(x), about 1 ulp (exp_poly.h).
inline v16f exp16(v16f x) { return exp_cephes<v16f, v16i>(x); }

}  // namespace
}  // namespace rbe::nn::detail
