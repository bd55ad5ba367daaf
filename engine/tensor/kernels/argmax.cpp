#include "tensor/kernels/argmax.h"

#include <cmath>
#include <cstring>

namespace rbe::kernels {

namespace {
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

// Four 8-lane (value, index) pairs: each step's compare and blends depend on
// the previous step of the same pair only, so four chains run at once
// instead of one waiting on the last (in L1: 14.0 -> 5.1 us over GPT-2's
// 50257 logits, Emerald Rapids; docs/performance.md).
constexpr int kChains = 4;
// Floats read ahead of the scan. A token's logits were just written by the
// head's two threads, half of them into the other core's cache, where the
// hardware prefetcher does not reach far enough: 4 KiB ahead took the 124M
// f16 token's argmax from 21-23 to 12-15 us (Emerald Rapids VM, thirty-ninth
// session; 1, 2, 8 and 16 KiB measured no better).
constexpr int64_t kAhead = 1024;
}  // namespace

int64_t argmax_f32(const float* x, int64_t n) {
  if (n <= 0) return 0;
  // Each lane keeps its own first maximum: a later equal value does not
  // replace it (strict >), and a NaN compares false.
  v8f best[kChains];
  v8i at[kChains], idx[kChains];
  for (int c = 0; c < kChains; ++c) {
    best[c] = v8f{} - INFINITY;
    at[c] = v8i{} - 1;
    idx[c] = v8i{0, 1, 2, 3, 4, 5, 6, 7} + 8 * c;
  }
  auto step = [&](int c, int64_t i) {
    v8f v;
    std::memcpy(&v, x + i, sizeof v);
    const v8i gt = v > best[c];
    best[c] = gt ? v : best[c];
    at[c] = gt ? idx[c] : at[c];
  };
  int64_t i = 0;
  if (n < (int64_t(1) << 31)) {  // lane indices are 32-bit
    for (; i + 8 * kChains <= n; i += 8 * kChains) {
      if (i + kAhead + 8 * kChains <= n) {  // the two lines of a step kAhead on, inside x
        __builtin_prefetch(x + i + kAhead, 0, 3);
        __builtin_prefetch(x + i + kAhead + 16, 0, 3);
      }
      for (int c = 0; c < kChains; ++c) {
        step(c, i + 8 * c);
        idx[c] += 8 * kChains;
      }
    }
    for (; i + 8 <= n; i += 8) {  // the last whole 8s: chain 0 (its idx is at i)
      step(0, i);
      idx[0] += 8;
    }
  }
  // Across lanes and chains: the largest value, the smallest index among equals.
  float bv = -INFINITY;
  int64_t bi = -1;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < 8; ++l)
      if (at[c][l] >= 0 && (best[c][l] > bv || (best[c][l] == bv && at[c][l] < bi))) bv = best[c][l], bi = at[c][l];
  for (; i < n; ++i)  // later indices: only a larger value wins
    if (x[i] > bv) bv = x[i], bi = i;
  if (bi >= 0) return bi;
  // No lane or tail value beat -inf: the first -inf, else (all NaN) 0.
  for (int64_t j = 0; j < n; ++j)
    if (x[j] == -INFINITY) return j;
  return 0;
}

}  // namespace rbe::kernels
