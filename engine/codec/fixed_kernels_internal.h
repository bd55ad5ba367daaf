#pragma once
// Interface between the fixed-rate kernel driver (fixed_kernels.cpp) and the
// ISA-specific row kernels (fixed_kernels_avx512.cpp). Declarations only, so
// that no AVX-512 code leaks into translation units that run on AVX2 machines.
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "codec/fixed_layout.h"

namespace rbe::codec {
class RandomizedHadamard;
}

namespace rbe::codec::fixed {

class StoredRows;  // fixed_interleaved.h

// x quantized to int8 per 32-block (d = max|x| / 127, as llama.cpp's Q8
// activations), arranged for the kernel that prepared it. avx2q8: q holds
// the blocks in element order, xs one scale per block, neg is null and pairs
// counts blocks. avx512vnni: laid out per 64-weight pair [64p, 64p + 64) in the byte
// order in which the kernel unpacks that pair's weight codes: q (64 int8),
// neg (16 int32: -128 * the sum of each 4-byte lane of q, which cancels the
// +128 that makes the weight levels unsigned; -8 for q4_0, whose codes go in
// as they are, level + 8), xs (16 f32: the x scale of the
// sub-block each lane belongs to). A missing second half is zero.
struct ActQ8 {
  const int8_t* q;
  const int32_t* neg;
  const float* xs;
  int64_t pairs;
};

// One 32-block's scale choice, shared by every int8 activation quantizer
// (prep_q8, prep_q8_avx2, the AMX tiles' quantize_activations): levels are
// x * act_q8_inv(amax) rounded, d = act_q8_scale(amax, nan). A NaN in the
// block makes d NaN (max may drop the NaN itself) and an infinity makes it
// inf, so that non-finite x comes out non-finite as with the f32 kernels; a
// block too small for 127 / amax (under 4e-37), or all zero, gets levels of 0.
inline float act_q8_inv(float amax) {
  const float inv = 127.f / amax;
  return std::isfinite(inv) ? inv : 0.f;
}
inline float act_q8_scale(float amax, bool nan) { return nan ? NAN : amax / 127.f; }

// y[r] = row r . x (+ bias[r]) for r in [r0, r1); x f32 (stored basis).
using RowsF32Fn = void (*)(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const float* x,
                           const float* bias, float* y);
// Quantizes and arranges x for the kernel (buf holds the storage).
using PrepQ8Fn = void (*)(const Layout& L, const float* x, std::vector<uint8_t>& buf, ActQ8& out);
// The same product from prepared int8 activations.
using RowsQ8Fn = void (*)(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8& x,
                          const float* bias, float* y);

// Y[m * ldy + r] for M <= kMultiRowsQ8 inputs at once, each prepared by prep:
// every row's result bit for bit that of q8 on that input alone.
inline constexpr int kMultiRowsQ8 = 4;
using RowsQ8MultiFn = void (*)(const Layout& L, const uint8_t* data, int64_t r0, int64_t r1, const ActQ8* x, int M,
                               const float* bias, float* Y, int64_t ldy);

struct FixedKernels {
  const char* name;
  RowsF32Fn f32;  // used when q8 is null
  PrepQ8Fn prep;
  RowsQ8Fn q8;
  RowsQ8MultiFn q8_multi;  // null: one q8 pass per input
};

extern const FixedKernels kFixedAvx512;      // fixed_kernels_avx512.cpp
extern const FixedKernels kFixedAvx512Vnni;  // fixed_kernels_avx512.cpp
extern const FixedKernels kFixedAvx2;        // fixed_kernels.cpp
extern const FixedKernels kFixedAvx2Q8;      // fixed_kernels.cpp
extern const FixedKernels kFixedGeneric;     // fixed_kernels.cpp

// f(bits, subs): L's code width (8, 4, 3 or 2) and 32-blocks per scale group
// (1 or 2) as std::integral_constant<int, ...>, which the row kernels and
// unpackers of every ISA are templated on; returns what f returns.
template <class F>
auto with_layout(const Layout& L, F&& f) {
  using std::integral_constant;
  const bool g64 = L.group == 64;
  switch (L.bits) {
    case 8: return f(integral_constant<int, 8>{}, integral_constant<int, 1>{});
    case 4: return g64 ? f(integral_constant<int, 4>{}, integral_constant<int, 2>{})
                       : f(integral_constant<int, 4>{}, integral_constant<int, 1>{});
    case 3: return g64 ? f(integral_constant<int, 3>{}, integral_constant<int, 2>{})
                       : f(integral_constant<int, 3>{}, integral_constant<int, 1>{});
    default: return g64 ? f(integral_constant<int, 2>{}, integral_constant<int, 2>{})
                        : f(integral_constant<int, 2>{}, integral_constant<int, 1>{});
  }
}

// What the unsigned byte fed to VPDPBUSD adds to each level: q4_0's codes
// are level + 8 and go in as they are; every other form's levels go through
// a table as level + 128 (unsigned_levels; q8_0's by flipping the sign bit).
inline int code_offset(const Layout& L) { return L.kind == Kind::Q4_0 ? 8 : 128; }
// Code c's level + 128, for the VNNI kernels' VPSHUFB tables.
inline std::array<uint8_t, 16> unsigned_levels(const Layout& L) {
  std::array<uint8_t, 16> t{};
  for (int c = 0; c < 16; ++c) t[size_t(c)] = uint8_t(int(L.levels[size_t(c)]) + 128);
  return t;
}

// x for InterleavedRows' kernel (fixed_interleaved.h), quantized as ActQ8:
// per 32-block s, q[32 s .. 32 s + 31] in element order, d[s] its scale and
// corr[s] = -offset * the sum of its q, which cancels the offset that makes
// the weight bytes unsigned (8 for q4_0's codes, 128 for the others' levels).
struct ActQ8Blocks {
  const int8_t* q;
  const float* d;
  const int32_t* corr;
};
// Y[m * ldy + r] for the rows of blocks [b0, b1) of the regrouped copy and
// M <= kMultiRowsQ8 inputs (rows past L.rows are not written).
using InterleavedQ8Fn = void (*)(const Layout& L, const uint8_t* copy, int64_t b0, int64_t b1, const ActQ8Blocks* x,
                                 int M, const float* bias, float* Y, int64_t ldy);
extern const InterleavedQ8Fn kInterleavedVnni;  // fixed_interleaved_avx512.cpp; run where find_kernels("avx512vnni")
// Quantizes x[32 * nsub] for it: q, d and corr as ActQ8Blocks describes, each
// block's levels and scale exactly those of prep_q8.
using InterleavedPrepFn = void (*)(const float* x, int64_t nsub, int offset, int8_t* q, float* d, int32_t* corr);
extern const InterleavedPrepFn kInterleavedPrepAvx512;  // fixed_interleaved_avx512.cpp
// Block `blk` of a regrouped copy as bf16 level * scale by pairs of columns:
// pair p (columns 2p, 2p + 1) of its 16 rows at out + p * pair_stride
// (64-byte aligned), lane i = row i's pair, as the AMX bf16 B tiles
// (pair_stride 16) and the AVX512-BF16 product's panels (32) hold weights.
// fixed_interleaved_avx512.cpp; run where the copy's kernel and AVX512-BF16 are.
using InterleavedBf16PanelFn = void (*)(const Layout& L, const uint8_t* blk, uint32_t* out, int64_t pair_stride);
extern const InterleavedBf16PanelFn kInterleavedBf16Panel;
// Scale groups [g0, g1) of rows [0, nrows) (nrows <= 16) of block `blk` of
// a regrouped copy in the stored layout, row i at out + i * stride.
// fixed_interleaved_avx512.cpp; run where the copy's kernel is.
using InterleavedStoredRowsFn = void (*)(const Layout& L, const uint8_t* blk, int64_t nrows, int64_t g0, int64_t g1,
                                         uint8_t* out, int64_t stride);
extern const InterleavedStoredRowsFn kInterleavedStoredRows;

// f(m) with M inputs (1..kMultiRowsQ8) as std::integral_constant<int, M>,
// which the several-input kernels are templated on; returns what f returns.
template <class F>
auto with_inputs(int M, F&& f) {
  using std::integral_constant;
  switch (M) {
    case 1: return f(integral_constant<int, 1>{});
    case 2: return f(integral_constant<int, 2>{});
    case 3: return f(integral_constant<int, 3>{});
    default: return f(integral_constant<int, 4>{});
  }
}

const FixedKernels* find_kernels(const char* name);  // null when unknown / unsupported here
const FixedKernels& active_kernels();

// y = W x (+ bias) with x already in the stored basis: quantizes x when the
// kernel wants int8, splits rows over the TBB threads.
void gemv(const FixedKernels& ks, const Layout& L, const uint8_t* data, const float* x, const float* bias, float* y);
// Y[N, rows] = X[N, cols] W^T (+ bias), X in the stored basis, as N gemv
// calls would give it; with q8_multi, each block of codes is unpacked once
// for up to kMultiRowsQ8 inputs.
void gemv_rows(const FixedKernels& ks, const Layout& L, const uint8_t* data, int64_t N, const float* X,
               const float* bias, float* Y);

// Y[N, rows] = X W^T (+ bias) with X in the stored basis, by the batched
// kernel for N rows (fixed_gemm.cpp), the weights read from `w` (in place or
// from the regrouped copy); with `rot` (rbe fixed), X's rows are rotated by
// it first.
void gemm(const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias, float* Y,
          const RandomizedHadamard* rot = nullptr);
// The same with batched kernel `name`, which must run here.
void gemm_with(const char* name, const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias,
               float* Y, const RandomizedHadamard* rot = nullptr);
// The batched kernel gemm() runs for N rows (fixed_kernels.h lists them),
// reading a regrouped copy where from_copy.
const char* gemm_kernel_for(int64_t N, bool from_copy = false);

}  // namespace rbe::codec::fixed
