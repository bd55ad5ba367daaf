#pragma once
// Byte layouts of the fixed-rate forms (docs/format.md, "Fixed-rate forms"),
// shared by the encoders, the decoders and the fused kernels.
//
// Every form stores each row as a run of scale groups, rows back to back:
//   group = f16 scale d (little-endian) + S sub-blocks of 32 codes,
//   weight = d * level[code].
//   q8_0        S = 1, 32 int8 codes (the level is the code itself)      34 bytes / 32 weights
//   q4_0        S = 1, 16 bytes of nibbles, level = code - 8             18 bytes / 32 weights
//   rbe fixed   S = G/32 (G = 32 or 64), b-bit codes (b = 2, 3, 4) into
//               a Lloyd-Max codebook for N(0,1) rounded to int8 levels   2 + 4b*S bytes / 32S weights
// A sub-block's codes are packed so that SIMD can unpack them in place:
//   b = 8: byte j = code j
//   b = 4: byte j (j < 16): code j in bits 0-3, code j+16 in bits 4-7 (as ggml Q4_0)
//   b = 2: byte j (j < 8): code j + 8k in bits 2k..2k+1, k = 0..3
//   b = 3: the low two bits as b = 2 (8 bytes), then a 32-bit little-endian
//          word whose bit i is bit 2 of code i (4 bytes)
// rbe fixed rows hold W' = W R^T, R the randomized Hadamard rotation of the
// input dimension (codec/hadamard.h, seed in the params).
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "tensor/dtype.h"

namespace rbe::codec::fixed {

constexpr int kSub = 32;  // codes per sub-block (and per activation block of the int8 kernels)

enum class Kind : uint8_t { Q8_0, Q4_0, Rbe };

struct Layout {
  Kind kind = Kind::Q8_0;
  int bits = 8;          // code width
  int group = 32;        // weights per scale (32 or 64)
  int64_t rows = 0, cols = 0;
  std::array<int8_t, 16> levels{};  // level of each code (b <= 4)

  int subs_per_group() const { return group / kSub; }
  int sub_bytes() const { return kSub * bits / 8; }
  int group_bytes() const { return 2 + subs_per_group() * sub_bytes(); }
  int64_t groups_per_row() const { return cols / group; }
  int64_t row_bytes() const { return groups_per_row() * group_bytes(); }
  int64_t total_bytes() const { return rows * row_bytes(); }
  double bits_per_weight() const { return 8.0 * group_bytes() / group; }
  std::string name() const;  // "q8_0", "q4_0", "rbe-f4g32", ...
};

// Lloyd-Max levels of N(0,1) at b bits, scaled so the outermost is 127 and
// rounded (the int8 codebook rbe fixed uses; ascending).
std::array<int8_t, 16> lloyd_max_levels(int bits);
// Layouts. Throw std::invalid_argument with a clear message on bad shapes.
Layout q8_0_layout(int64_t rows, int64_t cols);
Layout q4_0_layout(int64_t rows, int64_t cols);
Layout rbe_layout(int64_t rows, int64_t cols, int bits, int group);

// Code i (0..31) of a sub-block packed at p with `bits` per code.
inline int sub_code(const uint8_t* p, int bits, int i) {
  switch (bits) {
    case 8: return p[i];
    case 4: return i < 16 ? (p[i] & 15) : (p[i - 16] >> 4);
    case 2: return (p[i & 7] >> (2 * (i >> 3))) & 3;
    default: {  // 3
      uint32_t hi;
      std::memcpy(&hi, p + 8, 4);
      return ((p[i & 7] >> (2 * (i >> 3))) & 3) | int(((hi >> i) & 1u) << 2);
    }
  }
}

// Packs 32 codes into a sub-block (inverse of sub_code).
inline void pack_sub(const uint8_t* codes, int bits, uint8_t* p) {
  const int n = kSub * bits / 8;
  std::memset(p, 0, size_t(n));
  for (int i = 0; i < kSub; ++i) {
    const int c = codes[i];
    switch (bits) {
      case 8: p[i] = uint8_t(c); break;
      case 4: p[i & 15] |= uint8_t((c & 15) << (i < 16 ? 0 : 4)); break;
      case 2: p[i & 7] |= uint8_t((c & 3) << (2 * (i >> 3))); break;
      default: {
        p[i & 7] |= uint8_t((c & 3) << (2 * (i >> 3)));
        if (c & 4) p[8 + i / 8] |= uint8_t(1u << (i % 8));
      }
    }
  }
}

// The level (as a signed integer) code `c` stands for.
inline int level_of(const Layout& L, int c) {
  if (L.kind == Kind::Q8_0) return int(int8_t(uint8_t(c)));
  return L.levels[size_t(c)];
}

inline float group_scale(const uint8_t* g) {
  uint16_t h;
  std::memcpy(&h, g, 2);
  return f16_to_f32(h);
}

// Decodes scale groups [g0, g1) of row r (weights g0 * group .. g1 * group,
// in the stored basis: rbe rows stay rotated) to out[(g1 - g0) * group]:
// SIMD where the machine has AVX2 (fixed_kernels.cpp), else the scalar
// reference; both give identical numbers (one product d * level per weight).
void decode_groups_stored(const Layout& L, const uint8_t* data, int64_t r, int64_t g0, int64_t g1, float* out);
void decode_groups_scalar(const Layout& L, const uint8_t* data, int64_t r, int64_t g0, int64_t g1, float* out);

// The whole row r to out[cols].
inline void decode_row_stored(const Layout& L, const uint8_t* data, int64_t r, float* out) {
  decode_groups_stored(L, data, r, 0, L.groups_per_row(), out);
}
inline void decode_row_scalar(const Layout& L, const uint8_t* data, int64_t r, float* out) {
  decode_groups_scalar(L, data, r, 0, L.groups_per_row(), out);
}

}  // namespace rbe::codec::fixed
