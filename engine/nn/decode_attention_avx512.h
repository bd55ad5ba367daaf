#pragma once
// Decoding's attention over the KV cache for one query row of G = 1 or 2
// heads of size 64 in 16-lane vectors (decode_attention_avx512.cpp), where
// the CPU has AVX-512 (pointwise_avx512_usable()); elsewhere attention.cpp's
// 8-lane decode_heads runs.
#include <cstdint>

namespace rbe::nn::detail {

// The schedule both decode loops share (attention.cpp's 8-lane decode_heads
// and these): blocks of kDecodeBlock positions, each key prefetched
// kDecodeAhead bytes ahead.
inline constexpr int64_t kDecodeBlock = 32, kDecodeAhead = 2048;

// out[g][0..64) = softmax(scale K[g] q[g]) V[g] over nv >= 1 cached
// positions (K[g], V[g] row-major [nv, 64]: f16 bits or f32).
void decode_heads64_avx512(const float* const* q, const uint16_t* const* K, const uint16_t* const* V, int G, int64_t nv,
                           float scale, float* const* out);
void decode_heads64_avx512(const float* const* q, const float* const* K, const float* const* V, int G, int64_t nv,
                           float scale, float* const* out);

// Whether decoding's attention runs these (attention.cpp): Intel CPUs with
// AVX-512 unless RBE_DECODE_ATTENTION says otherwise. Tests switch it to
// check both loops; it stays off where the CPU lacks AVX-512.
bool decode_attention_avx512();
void set_decode_attention_avx512(bool on);

}  // namespace rbe::nn::detail
