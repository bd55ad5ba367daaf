#include "tensor/kernels/argmax.h"

#include <cmath>
#include <cstring>

namespace rbe::kernels {

namespace {
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
}  // namespace

int64_t argmax_f32(const float* x, int64_t n) {
  if (n <= 0) return 0;
  // Each lane keeps its own first maximum: a later equal value does not
  // replace it (strict >), and a NaN compares false.
  v8f best = v8f{} - INFINITY;
  v8i at = v8i{} - 1;
  v8i idx = {0, 1, 2, 3, 4, 5, 6, 7};
  int64_t i = 0;
  if (n < (int64_t(1) << 31))  // lane indices are 32-bit
    for (; i + 8 <= n; i += 8, idx += 8) {
      v8f v;
      std::memcpy(&v, x + i, sizeof v);
      const v8i gt = v > best;
      best = gt ? v : best;
      at = gt ? idx : at;
    }
  // Across lanes: the largest value, the smallest index among equals.
  float bv = -INFINITY;
  int64_t bi = -1;
  for (int l = 0; l < 8; ++l)
    if (at[l] >= 0 && (best[l] > bv || (best[l] == bv && at[l] < bi))) bv = best[l], bi = at[l];
  for (; i < n; ++i)  // later indices: only a larger value wins
    if (x[i] > bv) bv = x[i], bi = i;
  if (bi >= 0) return bi;
  // No lane or tail value beat -inf: the first -inf, else (all NaN) 0.
  for (int64_t j = 0; j < n; ++j)
    if (x[j] == -INFINITY) return j;
  return 0;
}

}  // namespace rbe::kernels
