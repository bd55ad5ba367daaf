#pragma once
#include <cstdint>
#include <functional>
namespace rbe::kernels {
// C[M,N] = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions.
// op(A) is A[M,K] (lda >= K) or, when trans_a, A is stored [K,M] (lda >= M) and used transposed.
// op(B) is B[K,N] (ldb >= N) or, when trans_b, B is stored [N,K] (ldb >= K) and used transposed.
// beta == 0 means C is overwritten (its old contents, even NaN, are ignored).
// Multithreaded with oneTBB (honours tbb::global_control / the arena's max concurrency); safe to call
// from inside another tbb::parallel_for (nested parallelism).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
           float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
           float beta, float* C, int64_t ldc);
// Name of the kernel chosen at start-up ("avx512", "avx2", "generic"), for reports.
const char* sgemm_kernel_name();

// Writes depth [p0, p0 + kcur) of weight rows [j0, j0 + n) as f32 to out
// (row-major, n x kcur); p0 and kcur are multiples of the depth_align passed
// below, but the last block, which ends at K.
using DecodeWeightRows = std::function<void(int64_t j0, int64_t n, int64_t p0, int64_t kcur, float* out)>;

// C[M, N] = A[M, K] * W[N, K]^T + beta * C for a weight matrix kept in another
// form (f16, the fixed-rate codes), for few rows of A (a prompt): the SGEMM's
// column tasks, each decoding the weights of its own panels one depth block at
// a time and packing them while they are in L1/L2, so no f32 copy of W is made.
// Returns false, doing nothing, when the shape is not for it (too many rows of
// A, too few columns for the threads, or too small to run on tasks).
bool gemm_decoded_columns(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, int64_t depth_align,
                          const DecodeWeightRows& decode, float beta, float* C, int64_t ldc);

// Writes whole weight rows [j0, j1) as f32 to out (row-major, (j1 - j0) x K).
using DecodeRowRange = std::function<void(int64_t j0, int64_t j1, float* out)>;

// C[M, N] = A[M, K] * W[N, K]^T (C overwritten; A and C packed: lda = K,
// ldc = N) for a weight matrix kept in another form, any M: W decoded to f32
// in row panels of about 4 MiB (gemm_panels.cpp), the decode over the
// threads, then the SGEMM on each panel.
void gemm_decoded_panels(int64_t M, int64_t N, int64_t K, const float* A, const DecodeRowRange& decode, float* C);
}
