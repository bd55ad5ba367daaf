// Compiled with AVX-512 flags where the build has them (files *_avx512.cpp,
// engine/CMakeLists.txt); without them it builds the "not available" answer.
#include "nn/pointwise_avx512.h"

#include <cstdlib>
#include <cstring>

#ifdef __AVX512F__
#include "nn/vec16.h"  // 64-byte vectors: only where they are registers
#endif

namespace rbe::nn::detail {

#ifdef __AVX512F__

namespace {

inline v16f gelu_tanh16(v16f v) {
  const v16f u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
  const v16f t = 1.f - 2.f / (exp16(2.f * u) + 1.f);
  return 0.5f * v * (1.f + t);
}

// The first k < 16 lanes of p, the rest `fill`.
inline v16f load_part(const float* p, int64_t k, float fill) {
  v16f v = v16f{} + fill;
  std::memcpy(&v, p, size_t(k) * sizeof(float));
  return v;
}

inline float hmax16(v16f v) {
  float m = v[0];
  for (int i = 1; i < 16; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

}  // namespace

const bool kPointwiseAvx512Built = true;

void softmax_row_avx512(float* row, int64_t n, int64_t len) {
  const int64_t full = n / 16 * 16, rest = n - full;
  v16f mx = v16f{} - __builtin_inff();
  for (int64_t i = 0; i < full; i += 16) {
    const v16f v = load16(row + i);
    mx = v > mx ? v : mx;
  }
  if (rest) {
    const v16f v = load_part(row + full, rest, -__builtin_inff());
    mx = v > mx ? v : mx;
  }
  const float m = hmax16(mx);
  v16f sum = {};
  for (int64_t i = 0; i < full; i += 16) {
    const v16f e = exp16(load16(row + i) - m);
    store16(row + i, e);
    sum += e;
  }
  v16f tail = {};
  if (rest) {  // the lanes past n give exp(-87.3) ~ 1e-38 (exp_poly.h's floor): nothing next to the maximum's 1
    tail = exp16(load_part(row + full, rest, -__builtin_inff()) - m);
    sum += tail;
  }
  double s = 0;
  for (int i = 0; i < 16; ++i) s += double(sum[i]);
  const float inv = float(1.0 / s);
  for (int64_t i = 0; i < full; i += 16) store16(row + i, load16(row + i) * inv);
  if (rest) {
    tail *= inv;
    std::memcpy(row + full, &tail, size_t(rest) * sizeof(float));
  }
  for (int64_t i = n; i < len; ++i) row[i] = 0.f;
}

void gelu_tanh_avx512(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store16(y + i, gelu_tanh16(load16(x + i)));
  if (i < n) {  // the tail through a zero-padded vector
    const v16f v = gelu_tanh16(load_part(x + i, n - i, 0.f));
    std::memcpy(y + i, &v, size_t(n - i) * sizeof(float));
  }
}

#else

const bool kPointwiseAvx512Built = false;
void gelu_tanh_avx512(const float*, float*, int64_t) { std::abort(); }  // callers ask first
void softmax_row_avx512(float*, int64_t, int64_t) { std::abort(); }

#endif

}  // namespace rbe::nn::detail
