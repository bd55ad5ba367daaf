// Decoding's attention over the cache, head size 64, in 16-lane vectors
// (decode_attention_avx512.h). Compiled with AVX-512 flags where the build
// has them (files *_avx512.cpp); callers ask pointwise_avx512_usable() first.
//
// The same schedule as attention.cpp's decode_heads (blocks of 32 positions,
// keys scored then values summed with an online softmax, the same prefetches)
// with half the instructions: a key is four 16-lane products, and the scores
// of 16 keys come out of one butterfly of shuffles and adds as one vector,
// instead of a sum across lanes per key.
#include "nn/decode_attention_avx512.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#ifdef __AVX512F__
#include <immintrin.h>

// GCC 12's masked-move / reduce intrinsics trip -W(maybe-)uninitialized on their own internals.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "nn/vec16.h"
#endif

namespace rbe::nn::detail {

#ifndef __AVX512F__

void decode_heads64_avx512(const float* const*, const uint16_t* const*, const uint16_t* const*, int, int64_t, float,
                           float* const*) {
  std::abort();  // unreachable: callers ask pointwise_avx512_usable() first
}
void decode_heads64_avx512(const float* const*, const float* const*, const float* const*, int, int64_t, float,
                           float* const*) {
  std::abort();
}

#else

namespace {

constexpr int kD = 64;
constexpr int64_t kBlock = kDecodeBlock, kAhead = kDecodeAhead;  // as decode_heads
static_assert(kBlock == 32, "a block's scores are two 16-lane vectors");

inline __m512 load_row16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load_row16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Lane i: the sum of a[i]'s lanes, for a[] holding keys in kButterflyOrder
// (below). Four levels of shuffles and adds, each halving the vectors.
inline __m512 sum_lanes16(const __m512 (&a)[16]) {
  __m512 b[8], c[4], d[2];
  for (int i = 0; i < 8; ++i)
    b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; ++i)
    c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
  for (int i = 0; i < 2; ++i)
    d[i] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * i], c[2 * i + 1], 0x44), _mm512_shuffle_ps(c[2 * i], c[2 * i + 1], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
}
// The butterfly puts vector j's sum in lane kButterflyOrder[j]; that order is
// its own inverse, so loading key kButterflyOrder[j] into a[j] gives key i
// in lane i.
constexpr int kButterflyOrder[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

template <class T>
inline void prefetch_row(const T* row) {
  for (int b = 0; b < kD * int(sizeof(T)); b += 64) _mm_prefetch(reinterpret_cast<const char*>(row) + b, _MM_HINT_T1);
}

template <class T, int G>
void heads(const float* const* q, const T* const* K, const T* const* V, int64_t nv, float scale, float* const* out) {
  __m512 qv[G][4], o[G][4];
  alignas(64) float scores[G][kBlock] = {};
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < 4; ++c) qv[g][c] = _mm512_loadu_ps(q[g] + 16 * c), o[g][c] = _mm512_setzero_ps();
  float m[G];
  double l[G];
  for (int g = 0; g < G; ++g) m[g] = -INFINITY, l[g] = 0;
  for (int64_t j = 0; j < std::min(kBlock, nv); ++j)
    for (int g = 0; g < G; ++g) prefetch_row(K[g] + j * kD);
  for (int64_t j0 = 0; j0 < nv; j0 += kBlock) {
    const int64_t n = std::min(kBlock, nv - j0);
    for (int64_t k0 = 0; k0 < n; k0 += 16)  // scores of 16 keys at a time
      for (int g = 0; g < G; ++g) {
        const int64_t nk = std::min<int64_t>(16, n - k0);
        __m512 acc[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) {
          const int64_t key = kButterflyOrder[i];
          if (key >= nk) {
            acc[i] = _mm512_setzero_ps();
            continue;
          }
          const T* kj = K[g] + (j0 + k0 + key) * kD;
          const char* kp = reinterpret_cast<const char*>(kj);
          for (int b = 0; b < kD * int(sizeof(T)); b += 64) _mm_prefetch(kp + kAhead + b, _MM_HINT_T1);
          prefetch_row(V[g] + (j0 + k0 + key) * kD);
          __m512 a = _mm512_mul_ps(qv[g][0], load_row16(kj));
          for (int c = 1; c < 4; ++c) a = _mm512_fmadd_ps(qv[g][c], load_row16(kj + 16 * c), a);
          acc[i] = a;
        }
        _mm512_store_ps(scores[g] + k0, _mm512_mul_ps(_mm512_set1_ps(scale), sum_lanes16(acc)));
      }
    for (int g = 0; g < G; ++g) {  // the online softmax over this block's n scores
      const __mmask16 lo = n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
      const __mmask16 hi = n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
      const __m512 s0 = _mm512_load_ps(scores[g]), s1 = _mm512_load_ps(scores[g] + 16);
      const __m512 ninf = _mm512_set1_ps(-INFINITY);
      const float bm = std::max(m[g], _mm512_reduce_max_ps(_mm512_max_ps(_mm512_mask_mov_ps(ninf, lo, s0),
                                                                         _mm512_mask_mov_ps(ninf, hi, s1))));
      if (bm > m[g]) {  // a new maximum: rescale what has been summed so far
        const float f = m[g] == -INFINITY ? 0.f : exp16(v16f{} + (m[g] - bm))[0];
        for (int c = 0; c < 4; ++c) o[g][c] = _mm512_mul_ps(o[g][c], _mm512_set1_ps(f));
        l[g] *= f;
        m[g] = bm;
      }
      const v16f shift = v16f{} + m[g];
      v16f e0, e1;
      std::memcpy(&e0, &s0, sizeof e0);
      std::memcpy(&e1, &s1, sizeof e1);
      e0 = exp16(e0 - shift), e1 = exp16(e1 - shift);
      __m512 p0, p1;
      std::memcpy(&p0, &e0, sizeof p0);
      std::memcpy(&p1, &e1, sizeof p1);
      p0 = _mm512_maskz_mov_ps(lo, p0), p1 = _mm512_maskz_mov_ps(hi, p1);
      _mm512_store_ps(scores[g], p0);
      _mm512_store_ps(scores[g] + 16, p1);
      l[g] += double(_mm512_reduce_add_ps(_mm512_add_ps(p0, p1)));
    }
    const int64_t next = std::min(kBlock, nv - j0 - kBlock);  // positions of the next block
    for (int64_t j = 0; j < n; ++j)
      for (int g = 0; g < G; ++g) {
        const T* vj = V[g] + (j0 + j) * kD;
        if (j < next) prefetch_row(K[g] + (j0 + kBlock + j) * kD), prefetch_row(V[g] + (j0 + kBlock + j) * kD);
        const __m512 p = _mm512_set1_ps(scores[g][j]);
        for (int c = 0; c < 4; ++c) o[g][c] = _mm512_fmadd_ps(p, load_row16(vj + 16 * c), o[g][c]);
      }
  }
  for (int g = 0; g < G; ++g) {
    const __m512 inv = _mm512_set1_ps(float(1.0 / l[g]));
    for (int c = 0; c < 4; ++c) _mm512_storeu_ps(out[g] + 16 * c, _mm512_mul_ps(o[g][c], inv));
  }
}

template <class T>
void dispatch(const float* const* q, const T* const* K, const T* const* V, int G, int64_t nv, float scale,
              float* const* out) {
  if (G == 2) heads<T, 2>(q, K, V, nv, scale, out);
  else heads<T, 1>(q, K, V, nv, scale, out);
}

}  // namespace

void decode_heads64_avx512(const float* const* q, const uint16_t* const* K, const uint16_t* const* V, int G, int64_t nv,
                           float scale, float* const* out) {
  dispatch(q, K, V, G, nv, scale, out);
}
void decode_heads64_avx512(const float* const* q, const float* const* K, const float* const* V, int G, int64_t nv,
                           float scale, float* const* out) {
  dispatch(q, K, V, G, nv, scale, out);
}

#endif

}  // namespace rbe::nn::detail
