#pragma once
// The batched product of a fixed-rate matrix on AVX512-BF16 dot products
// (VDPBF16PS), for CPUs that have them but no AMX tiles (AMD Zen 4, or a
// machine whose OS does not grant the tile state): the AMX bf16 kernel's
// arithmetic (fixed_gemm_amx.h) on zmm registers. Weights as bf16
// level * scale, X rounded to bf16, sums in f32 over the whole row.
#include <cstdint>

#include "codec/fixed_layout.h"

namespace rbe::codec::fixed {

class StoredRows;  // fixed_interleaved.h: the weights, in place or from the regrouped copy

// The CPU has AVX-512 and AVX512-BF16 and RBE_FIXED_GEMM does not say
// "sgemm". Asked once; cheap afterwards.
bool avx512_bf16_gemm_available();
// The fewest rows it runs for by default (fixed::gemm_kernel_for; fewer go
// to the fused matvec, row by row).
inline constexpr int64_t kAvx512Bf16MinRows = 7;

// Y[N, rows] = X[N, cols] W^T (+ bias[rows]), X in the stored basis (rbe
// fixed rows rotated). Needs avx512_bf16_gemm_available(); multithreaded
// over strips of kBf16Strip weight rows with oneTBB (fixed_gemm_bf16.cpp).
void gemm_avx512_bf16(const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias, float* Y);

// The kernels behind it (fixed_gemm_bf16_avx512.cpp), single-threaded:
inline constexpr int kBf16Strip = 32;
// n floats (a multiple of 32) to bf16, rounded to nearest even, in order.
void bf16_rows(const float* src, int64_t n, uint16_t* dst);
// The first `rows` of the 32 weight rows stored at `strip` (the rest zero)
// decoded, rounded to bf16 and laid out by pairs: pair p of rows
// 16h .. 16h + 15 at panel + (2p + h) * 16, lane i = row 16h + i's
// (w[2p], w[2p + 1]). wf: 32 x cols floats of scratch; panel: 32 x cols
// bf16, 64-byte aligned.
void bf16_panel(const Layout& L, const uint8_t* strip, int64_t rows, float* wf, uint32_t* panel);
// Y[m][n0 + c] = panel row c . X row m (+ bias) for all N rows of X in bf16
// pairs (xp + m * cols / 2) and the first nn <= 32 columns; Y's row stride R.
void bf16_strip_product(const uint32_t* panel, const uint32_t* xp, int64_t K, int64_t N, int64_t n0, int64_t nn,
                        int64_t R, const float* bias, float* Y);

}  // namespace rbe::codec::fixed
