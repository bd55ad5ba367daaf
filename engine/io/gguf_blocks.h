#pragma once
// Sizes of ggml's tensor types and a reference decoder of its block types
// (ggml-common.h), for the GGUF reader:
//   Q8_0: block_q8_0 = f16 d + int8 qs[32]                    34 bytes / 32 weights
//         weight j = d * qs[j]
//   Q4_0: block_q4_0 = f16 d + uint8 qs[16]                   18 bytes / 32 weights
//         weight j      = d * ((qs[j] & 15) - 8)   (j < 16)
//         weight j + 16 = d * ((qs[j] >> 4) - 8)
// Blocks run along a row (ggml's ne[0]), rows back to back; d little-endian.
// These are byte for byte our codec's q8_0 / q4_0 payloads (docs/format.md,
// "Fixed-rate forms"); io/ cannot use codec/, hence this small decoder.
#include <cstdint>

#include "io/gguf.h"

namespace rbe::gguf {

constexpr int64_t kQuantBlock = 32;  // QK8_0 = QK4_0

int64_t block_elements(GgmlType t);  // 1 for F32/F16, 32 for Q4_0/Q8_0
int64_t block_bytes(GgmlType t);     // 4, 2, 18, 34
// Bytes of n elements (n a multiple of block_elements(t)).
inline uint64_t type_bytes(GgmlType t, uint64_t n) { return n / uint64_t(block_elements(t)) * uint64_t(block_bytes(t)); }

// Decodes n elements (a multiple of 32) of Q4_0 / Q8_0 blocks at src into out.
// Each weight is the one float product d * level, as ggml's dequantize_row_q*.
void dequantize(GgmlType t, const uint8_t* src, int64_t n, float* out);

// Index of the first block whose scale d is not finite, or -1 (a corrupt file).
int64_t first_bad_scale(GgmlType t, const uint8_t* src, int64_t n);

}  // namespace rbe::gguf
