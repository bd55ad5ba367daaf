#pragma once
// Matrix-vector products for batch-1 inference: y = W x (+ bias), W row-major
// [N, K] in f32 or f16 storage. Memory-bound: each call streams W once, several
// rows at a time, f16 converted to f32 in registers (F16C / AVX-512). Threads
// (oneTBB, honouring tbb::global_control) split the output rows in chunks big
// enough to amortise scheduling. The ISA-specific kernel is chosen once at
// start-up (RBE_GEMV_KERNEL=avx512|avx512l2|avx2|generic forces one, for
// comparisons; the two AVX-512 ones differ in where f16 is prefetched).
#include <cstdint>

namespace rbe::kernels {

// y[n] = sum_k W[n*ldw + k] * x[k] (+ bias[n] when bias != nullptr), n in [0, N).
// ldw >= K. y must not alias W, x or bias.
void sgemv(int64_t N, int64_t K, const float* W, int64_t ldw, const float* x, const float* bias, float* y);
// Same with IEEE half weights (raw uint16_t bits).
void hgemv(int64_t N, int64_t K, const uint16_t* W, int64_t ldw, const float* x, const float* bias, float* y);

// Name of the kernel chosen at start-up ("avx512", "avx2", "generic"), for reports.
const char* gemv_kernel_name();

// Several input vectors at once (batched decoding): Y[m*ldy + n] = sum_k
// W[n*ldw + k] * X[m*ldx + k] (+ bias[n]) for m in [0, M), n in [0, N). Each
// weight is read once per group of up to 8 inputs (X stays in L1/L2), so M <= 8
// costs little more than one sgemv; larger M runs in even groups of at most 8
// (with f16 weights up to 16 rows that still beats the GEMMs:
// nn/functional_linear.cpp). ldx >= K, ldy >= N; Y must not alias W, X or
// bias.
void sgemv_multi(int64_t M, int64_t N, int64_t K, const float* W, int64_t ldw, const float* X, int64_t ldx,
                 const float* bias, float* Y, int64_t ldy);
void hgemv_multi(int64_t M, int64_t N, int64_t K, const uint16_t* W, int64_t ldw, const float* X, int64_t ldx,
                 const float* bias, float* Y, int64_t ldy);

// As above with an explicit kernel (tests cover every kernel the machine has).
// Returns false when `name` is unknown or unsupported here.
bool sgemv_with_kernel(const char* name, int64_t N, int64_t K, const float* W, int64_t ldw, const float* x,
                       const float* bias, float* y);
bool hgemv_with_kernel(const char* name, int64_t N, int64_t K, const uint16_t* W, int64_t ldw, const float* x,
                       const float* bias, float* y);
bool sgemv_multi_with_kernel(const char* name, int64_t M, int64_t N, int64_t K, const float* W, int64_t ldw,
                             const float* X, int64_t ldx, const float* bias, float* Y, int64_t ldy);
bool hgemv_multi_with_kernel(const char* name, int64_t M, int64_t N, int64_t K, const uint16_t* W, int64_t ldw,
                             const float* X, int64_t ldx, const float* bias, float* Y, int64_t ldy);

}  // namespace rbe::kernels
