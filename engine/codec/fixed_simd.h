#pragma once
// AVX2 unpacking of one 32-code sub-block (fixed_layout.h) into 32 signed
// int8 levels, and the constants of the AVX-512 unpacking. Included by the
// kernel files; everything here has internal linkage, so each file keeps
// the copy compiled with its own ISA flags.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "codec/fixed_layout.h"

namespace rbe::codec::fixed {
namespace {

// The 16 levels in both 128-bit lanes, for VPSHUFB lookups.
inline __m256i level_table(const Layout& L) {
  __m128i t;
  std::memcpy(&t, L.levels.data(), 16);
  return _mm256_broadcastsi128_si256(t);
}

// 32 codes of a sub-block (bits = 2, 3 or 4) as bytes.
template <int kBits>
inline __m256i unpack_codes(const uint8_t* p) {
  if constexpr (kBits == 4) {
    // The 16 bytes in both lanes, the high lane shifted down a nibble: low
    // nibbles (codes 0-15) below, high nibbles (16-31) above.
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_and_si256(_mm256_blend_epi32(v, _mm256_srli_epi16(v, 4), 0xF0), _mm256_set1_epi8(15));
  } else {
    int64_t v;
    std::memcpy(&v, p, 8);
    __m256i c = _mm256_and_si256(_mm256_srlv_epi64(_mm256_set1_epi64x(v), _mm256_set_epi64x(6, 4, 2, 0)),
                                 _mm256_set1_epi8(3));
    if constexpr (kBits == 3) {
      int32_t h;
      std::memcpy(&h, p + 8, 4);
      const __m256i spread = _mm256_shuffle_epi8(
          _mm256_set1_epi32(h), _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
      const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
      const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
      c = _mm256_or_si256(c, _mm256_and_si256(set, _mm256_set1_epi8(4)));
    }
    return c;
  }
}

// 32 signed levels of a sub-block. kBits = 8 is q8_0 (codes are the levels).
template <int kBits>
inline __m256i sub_levels(const uint8_t* p, __m256i table) {
  if constexpr (kBits == 8) {
    (void)table;
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  } else {
    return _mm256_shuffle_epi8(table, unpack_codes<kBits>(p));
  }
}

// GF2P8AFFINEQB with this matrix maps each byte x to (x >> shift) & (2^width
// - 1): bit i of the result is the parity of x AND the matrix's byte 7 - i.
// One instruction in place of a shift and a mask.
constexpr int64_t field_matrix(int shift, int width) {
  uint64_t m = 0;
  for (int i = 0; i < width; ++i) m |= uint64_t(1) << (shift + i) << (8 * (7 - i));
  return int64_t(m);
}

// VPSHUFBITQMB control for the 3-bit forms: in each 64-bit lane (rows 2j and
// 2j + 1, a 32-bit word of third bits each), byte t of each row's four takes
// bit 4n + t of that row's word: the third bits of columns 4n..4n+3.
constexpr int64_t third_bit_ctrl(int n) {
  uint64_t m = 0;
  for (int j = 0; j < 8; ++j) m |= uint64_t(32 * (j / 4) + 4 * n + j % 4) << (8 * j);
  return int64_t(m);
}

inline float load_scale(const uint8_t* g) {
  uint16_t h;
  std::memcpy(&h, g, 2);
  return _cvtsh_ss(h);
}

}  // namespace
}  // namespace rbe::codec::fixed
