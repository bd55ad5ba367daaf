#pragma once
#include <cstdint>
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
}
