#pragma once
// Internal interface between the SGEMM driver (gemm.cpp) and the ISA-specific
// micro-kernel files (gemm_avx512.cpp, ...). Declarations only: nothing here may be
// an inline function, so that no code compiled with AVX-512 flags leaks into
// translation units that must run on AVX2-only machines.
#include <cstdint>

namespace rbe::kernels::gemm_detail {

// Depth is padded to kcp = round_up(kc, KernelSet::kpad); padding entries are zero in both
// packed operands, and the micro-kernel is called with kcp.
// Packs rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into ceil(mc/mr) panels of kcp*mr floats
// (layout is kernel-specific, e.g. [k][mr] or [k/4][mr][4]); rows past mc are zero.
using PackAFn = void (*)(bool trans, const float* A, int64_t lda, int64_t i0, int64_t p0,
                         int64_t mc, int64_t kc, float* dst);
// Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into ceil(nc/nr) panels of kcp*nr
// floats laid out [k][nr], 64-byte aligned when dst is; columns past nc are zero.
using PackBFn = void (*)(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t j0,
                         int64_t kc, int64_t nc, float* dst);
// C[0:m, 0:n] = alpha * Ap * Bp + beta * C (beta == 0: C is not read). m <= mr, n <= nr.
using MicroKernelFn = void (*)(int64_t kc, const float* Ap, const float* Bp, float* C,
                               int64_t ldc, float alpha, float beta, int m, int n);

struct KernelSet {
  const char* name;
  int mr, nr;   // register tile
  int kpad;     // packed depth is a multiple of this
  int kc_max;   // depth blocking
  int mc_max;   // rows of A per packed block (L2)
  PackAFn pack_a;
  PackBFn pack_b;
  MicroKernelFn kernel;
};

extern const KernelSet kAvx512Kernels;  // gemm_avx512.cpp
extern const KernelSet kAvx2Kernels;    // gemm.cpp
extern const KernelSet kGenericKernels; // gemm.cpp

// Same contract as sgemm() but with an explicit kernel set (tests use it to cover every
// kernel the machine supports). Returns false when `name` is unknown or unsupported here.
bool sgemm_with_kernel(const char* name, bool trans_a, bool trans_b, int64_t M, int64_t N,
                       int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                       int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace rbe::kernels::gemm_detail
