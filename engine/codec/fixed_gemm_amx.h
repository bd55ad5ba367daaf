#pragma once
// Batched products (prompt processing, batched decoding) of a fixed-rate
// matrix on Intel AMX tiles, where the CPU has them (Sapphire Rapids and
// later) and the kernel grants this process the tile state. Two kernels:
// - int8: X rows are quantized to int8 per 32-block as the VNNI matvec does
//   (d = max|x| / 127, llama.cpp's Q8 activations); weight sub-blocks are
//   unpacked to their int8 levels; one TDPBSSD multiplies 16 weight rows by
//   16 activation rows over 32 weights, and the two scales are applied in
//   f32 per 32-block.
// - bf16: weights unpacked to bf16 level * scale, 32 rows at a time, X
//   rounded to bf16; TDPBF16PS sums in f32 over the whole row, so nothing is
//   scaled between tile products. Faster from 16 rows on, and closer to the
//   exact product (fixed_kernels.h says which runs when).
#include <cstdint>

#include "codec/fixed_layout.h"

namespace rbe::codec {
class RandomizedHadamard;
}

namespace rbe::codec::fixed {

class StoredRows;       // fixed_interleaved.h: the weights, in place or from the regrouped copy
class InterleavedRows;  // fixed_interleaved.h: the regrouped copy

// The CPU has AMX-INT8 and AVX-512, this build compiled the kernel, the
// kernel (OS) granted the tile state, and RBE_FIXED_GEMM does not say
// "sgemm". Asked once; cheap afterwards.
bool amx_gemm_available();

// Y[N, rows] = X[N, cols] W^T (+ bias[rows]), X in the stored basis (rbe
// fixed rows rotated). Needs amx_gemm_available(); multithreaded over weight
// row tiles with oneTBB.
void gemm_amx(const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias, float* Y);

// The same product on AMX bf16 tiles: weights as bf16 level * scale, X
// rounded to bf16, sums in f32 over the whole row (no per-block scaling).
// Needs amx_bf16_gemm_available() (AMX-BF16 and AVX512-BF16).
bool amx_bf16_gemm_available();
// With `rot`, multiplies the rows of X rotated by it (rbe fixed's stored
// basis), rotating each row as it is converted to bf16.
void gemm_amx_bf16(const Layout& L, const uint8_t* data, int64_t N, const float* X, const float* bias, float* Y,
                   const RandomizedHadamard* rot = nullptr);

// The bf16 product from the regrouped copy (fixed_interleaved_amx.cpp): the
// weights as B tiles, X as A, the same sums as gemm_amx_bf16 on the stored
// bytes. Needs amx_bf16_gemm_available() (the copy implies the rest).
void gemm_amx_bf16_interleaved(const InterleavedRows& copy, const Layout& L, int64_t N, const float* X,
                               const float* bias, float* Y, const RandomizedHadamard* rot = nullptr);

}  // namespace rbe::codec::fixed
