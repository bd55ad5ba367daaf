// Fused causal attention of a prompt, head size 64 (attention_avx512.h).
// Compiled with AVX-512 flags where the build has them (files *_avx512.cpp);
// callers ask pointwise_avx512_usable() first.
//
// Layout: 16 query rows ride in the lanes of a vector. Scores for 16 keys
// are 16 vectors s[j] (lane i: row i against key j), summed over the 64
// dimensions from Q^T (64 vectors, pre-scaled) and broadcast keys. Each
// row's running maximum, sum and rescaling are then lane-wise operations
// across those vectors, and the output O^T (64 vectors of 16 rows, 4 KiB,
// in L1) takes p[j] times broadcast values.
#include "nn/attention_avx512.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#ifdef __AVX512F__
#include "nn/vec16.h"  // 64-byte vectors: only where they are registers
#endif

namespace rbe::nn::detail {

#ifndef __AVX512F__

void attend_causal64_avx512(const float*, int64_t, int64_t, const float*, const float*, int64_t, float, float*,
                            int64_t) {
  std::abort();  // unreachable: callers ask pointwise_avx512_usable() first
}

#else

namespace {

constexpr int kD = 64;     // head size
constexpr int kRows = 16;  // query rows per block (vector lanes)
constexpr int kKeys = 16;  // keys per tile

// One block of up to 16 query rows (rows i < mr are real) over keys
// 0 .. nkeys - 1, where row i sees keys 0 .. first + i.
void attend_block(const float* q, int64_t ldq, int64_t mr, const float* K, const float* V, int64_t first,
                  int64_t nkeys, float scale, float* out, int64_t ldo) {
  alignas(64) float qt[kD][kRows];  // Q^T, scaled; rows past mr are zero
  alignas(64) float ot[kD][kRows] = {};
  alignas(64) float kpad[kKeys][kD], vpad[kKeys][kD];  // a last tile of fewer than 16 keys, zero-padded
  for (int d = 0; d < kD; ++d)
    for (int i = 0; i < kRows; ++i) qt[d][i] = i < mr ? scale * q[i * ldq + d] : 0.f;
  const float inf = __builtin_inff();
  v16f m = v16f{} - inf, l = v16f{};
  v16f lane;
  for (int i = 0; i < kRows; ++i) lane[i] = float(i);
  for (int64_t j0 = 0; j0 < nkeys; j0 += kKeys) {
    const int64_t kt = std::min<int64_t>(kKeys, nkeys - j0);
    const float* Kt = K + j0 * kD;
    const float* Vt = V + j0 * kD;
    if (kt < kKeys) {
      std::memset(kpad, 0, sizeof kpad);
      std::memset(vpad, 0, sizeof vpad);
      std::memcpy(kpad, Kt, size_t(kt * kD) * sizeof(float));
      std::memcpy(vpad, Vt, size_t(kt * kD) * sizeof(float));
      Kt = &kpad[0][0];
      Vt = &vpad[0][0];
    }
    v16f s[kKeys];
#pragma GCC unroll 16
    for (int j = 0; j < kKeys; ++j) s[j] = v16f{};
    for (int d = 0; d < kD; ++d) {
      const v16f qd = load16(qt[d]);
#pragma GCC unroll 16
      for (int j = 0; j < kKeys; ++j) s[j] += qd * Kt[j * kD + d];
    }
    // Key j0 + j is hidden from row i when j0 + j > first + i: whole tiles
    // left of the diagonal need no mask.
    if (j0 + kKeys - 1 > first) {
#pragma GCC unroll 16
      for (int j = 0; j < kKeys; ++j) s[j] = float(j0 + j - first) > lane ? v16f{} - inf : s[j];
    }
    v16f mx = m;
#pragma GCC unroll 16
    for (int j = 0; j < kKeys; ++j) mx = s[j] > mx ? s[j] : mx;
    // A row that has seen no key yet keeps m = -inf; its terms stay zero.
    const v16f base = mx == -inf ? v16f{} : mx;
    const v16f alpha = m == -inf ? v16f{} : exp16(m - base);
    v16f sum = v16f{};
#pragma GCC unroll 16
    for (int j = 0; j < kKeys; ++j) {
      s[j] = s[j] == -inf ? v16f{} : exp16(s[j] - base);
      sum += s[j];
    }
    l = l * alpha + sum;
    m = mx;
    for (int d = 0; d < kD; ++d) {
      v16f o = load16(ot[d]) * alpha;
#pragma GCC unroll 16
      for (int j = 0; j < kKeys; ++j) o += s[j] * Vt[j * kD + d];
      store16(ot[d], o);
    }
  }
  for (int i = 0; i < mr; ++i) {
    const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
    for (int d = 0; d < kD; ++d) out[i * ldo + d] = ot[d][i] * inv;
  }
}

}  // namespace

void attend_causal64_avx512(const float* q, int64_t ldq, int64_t M, const float* K, const float* V, int64_t first,
                            float scale, float* out, int64_t ldo) {
  for (int64_t i0 = 0; i0 < M; i0 += kRows) {
    const int64_t mr = std::min<int64_t>(kRows, M - i0);
    attend_block(q + i0 * ldq, ldq, mr, K, V, first + i0, first + i0 + mr, scale, out + i0 * ldo, ldo);
  }
}

#endif

}  // namespace rbe::nn::detail
