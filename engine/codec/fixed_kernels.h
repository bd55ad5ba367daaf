#pragma once
// The fused decode x matvec kernels of the fixed-rate forms (q8_0, q4_0, rbe
// fixed), public for tests and benchmarks. Kernels, chosen once at start-up
// (RBE_FIXED_KERNEL=name forces one):
//   "avx512vnni"  x quantized to int8 per 32-block (as llama.cpp's Q8
//                 activations), int8 x int8 dot products (VPDPBUSD); up
//                 to 4 inputs at once for a batched decoding step
//   "avx512"      codes unpacked to int8 levels, converted to f32, FMA with x
//   "avx2q8"      x quantized to int8 as for avx512vnni, int8 products by
//                 VPMADDUBSW (|level| unsigned, its sign moved onto x; for
//                 q4_0's matvec the codes unsigned, 8 * sum(x) taken off)
//   "avx2"        codes to f32 and FMA with x, with 256-bit vectors
//   "generic"     scalar: decode each group to f32 and dot with x
// All are multithreaded over row chunks with oneTBB (honouring
// tbb::global_control).
#include <string>
#include <vector>

#include "codec/codec.h"

namespace rbe::codec {

const char* fixed_kernel_name();                // the active kernel
std::vector<std::string> fixed_kernel_names();  // every kernel this machine runs
// Whether `name` quantizes x to int8 (looser agreement with the f32 decode).
bool fixed_kernel_quantizes_x(const std::string& name);
// Whether a model's fixed-rate matrices run their matvecs on a copy of their
// rows regrouped sixteen at a time (codec/fixed_interleaved.h): the active
// kernel is "avx512vnni", unless RBE_FIXED_INTERLEAVE=0.
bool fixed_matvecs_regrouped();

// y[rows] = W x (+ bias) straight from e's bytes with kernel `name` (x in the
// original basis; rbe fixed rotates it first). Returns false when `name` is
// unknown or unsupported here. Throws if e is not a fixed-rate form.
bool fixed_gemv_with_kernel(const char* name, const EncodedTensor& e, const float* x, const float* bias, float* y);

// The batched products (prompts, batched decoding steps):
//   "amx-bf16"  Intel AMX bf16 tiles: weights as bf16 level * scale, X
//               rounded to bf16, f32 sums (codec/fixed_gemm_amx.h); from 16
//               rows on (from 9 where it reads the regrouped copy), where
//               the CPU has AMX-BF16 and AVX512-BF16
//   "amx"       Intel AMX int8 tiles: X quantized to int8 per 32-block as
//               the VNNI matvec quantizes x; fewer rows, or no AMX-BF16
//   "avx512-bf16" no AMX: the amx-bf16 arithmetic on AVX512-BF16 dot
//               products (codec/fixed_gemm_bf16.h), from 7 rows on, where
//               the CPU has them (AMD Zen 4)
//   "sgemm"     row panels decoded to f32, multiplied by the SGEMM (exact up
//               to f32 rounding); no AMX, or the OS does not grant the tiles
// RBE_FIXED_GEMM=amx|amx-bf16|avx512-bf16|sgemm forces one for every size
// (sgemm also turns the tiles off for the few-row case, FixedPacked's
// matvecs instead).
const char* fixed_gemm_kernel_name();                // the one a 128-token prompt runs
std::vector<std::string> fixed_gemm_kernel_names();  // every one this machine runs
// Y[N, rows] = X[N, cols] W^T (+ bias) with kernel `name` (X in the original
// basis). Returns false when `name` is unknown or unsupported here.
bool fixed_gemm_with_kernel(const char* name, const EncodedTensor& e, int64_t N, const float* X, const float* bias,
                            float* Y);

}  // namespace rbe::codec
