// GPTQ / LDLQ: the damped inverse-Hessian Cholesky factor and the
// error-feedback column sweep (16 rows at a time share each pass over U).
#include "codec/gptq.h"

#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace rbe::codec {
namespace {

// Dot product in 8 independent lanes (GCC vectorizes fixed-lane loops; a
// plain double reduction it may not reorder): each lane's products summed
// with fused multiply-adds; then the tail (under 8 values) in order, each
// product rounded before it is added except an odd tail's last, which is
// fused; then the lanes in order. These are the roundings GCC had chosen
// for the plain loops (vectorized tail pairs, a scalar FMA for the odd one
// out). This file is built without FP contraction, so they are written out
// and the blocked factorization below can repeat them exactly.
double dot_tail(const double* a, const double* b, int64_t k, int64_t n, const double (&acc)[8]) {
  double s = 0;
  const int64_t paired = n - ((n - k) & 1);
  for (; k < paired; ++k) s += a[k] * b[k];
  if (k < n) s = std::fma(a[k], b[k], s);
  for (double v : acc) s += v;
  return s;
}

double dot(const double* a, const double* b, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) acc[j] = std::fma(a[k + j], b[k + j], acc[j]);
  return dot_tail(a, b, k, n, acc);
}

// In-place lower Cholesky A = L L^T (double, row-major, lower part written):
// L[i][j] = (A[i][j] - dot(row i, row j, j)) / L[j][j]. Columns go kCols at
// a time (kCols divides 8, so their dots share the 8-lane part, [0, m)):
// first the block's own rows, one column at a time; then every row below,
// split over the threads, reading its [0, m) once for all kCols dots (one
// column at a time, the loop streamed the whole triangle from memory for
// every column) and finishing each dot as dot() does. Every entry gets the
// same roundings in the same order as the column-at-a-time loop.
bool cholesky_lower(std::vector<double>& A, int64_t n) {
  constexpr int64_t kCols = 4;
  double inv[kCols];
  for (int64_t j0 = 0; j0 < n; j0 += kCols) {
    const int64_t j1 = std::min(n, j0 + kCols), m = j0 / 8 * 8;
    for (int64_t j = j0; j < j1; ++j) {
      double* aj = &A[size_t(j * n)];
      double d = aj[j] - dot(aj, aj, j);
      if (!(d > 0)) return false;
      d = std::sqrt(d);
      aj[j] = d;
      inv[j - j0] = 1.0 / d;
      for (int64_t i = j + 1; i < j1; ++i) {
        double* ai = &A[size_t(i * n)];
        ai[j] = (ai[j] - dot(ai, aj, j)) * inv[j - j0];
      }
    }
    const int64_t grain = std::max<int64_t>(4, 8192 / std::max<int64_t>(j0, 1));
    tbb::parallel_for(tbb::blocked_range<int64_t>(j1, n, grain), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t i = r.begin(); i < r.end(); ++i) {
        double* ai = &A[size_t(i * n)];
        double acc[kCols][8] = {};
        for (int64_t k = 0; k < m; k += 8)
          for (int64_t c = 0; c < j1 - j0; ++c) {
            const double* aj = &A[size_t((j0 + c) * n)];
            for (int l = 0; l < 8; ++l) acc[c][l] = std::fma(ai[k + l], aj[k + l], acc[c][l]);
          }
        for (int64_t j = j0; j < j1; ++j)  // in order: each tail reads the entries just written
          ai[j] = (ai[j] - dot_tail(ai, &A[size_t(j * n)], m, j, acc[j - j0])) * inv[j - j0];
      }
    });
  }
  return true;
}

// w[j * kTileRows + r] -= err[r] * u[j] for j in [j0, cols): row i's error
// pushed onto the columns not yet quantized, the sweep's inner loop. Written
// out with AVX2 (two 8-row halves per column, one rounding each, as the scalar
// loop): left to itself, GCC vectorized it across columns, with a transpose
// per step, and it ran at a few percent of the FMA rate.
constexpr int kTileRows = 16;
void push_error(const float* u, int64_t j0, int64_t cols, const float* err, float* w) {
#ifdef __AVX2__
  const __m256 e0 = _mm256_loadu_ps(err), e1 = _mm256_loadu_ps(err + 8);
  for (int64_t j = j0; j < cols; ++j) {
    const __m256 uj = _mm256_broadcast_ss(u + j);
    float* wj = w + j * kTileRows;
    _mm256_storeu_ps(wj, _mm256_fnmadd_ps(e0, uj, _mm256_loadu_ps(wj)));
    _mm256_storeu_ps(wj + 8, _mm256_fnmadd_ps(e1, uj, _mm256_loadu_ps(wj + 8)));
  }
#else
  for (int64_t j = j0; j < cols; ++j)
    for (int r = 0; r < kTileRows; ++r) w[j * kTileRows + r] = std::fma(-err[r], u[j], w[j * kTileRows + r]);
#endif
}

// Inverse of the lower L (A's lower part), row by row: row i of L^-1 =
// -(sum_k<i L[i][k] row k) / L[i][i], each entry summed in ascending k.
// (One rounding per step, std::fma, as GCC had contracted the loop before.)
// Rows go kBlock at a time: the rows of L^-1 before the block are read once
// for all of its rows (one row at a time, the loop streamed the whole triangle
// from memory for every row), split over the threads by columns; then the
// block's own rows, in order. Every entry sees the same sums in the same order
// as one row at a time.
std::vector<double> lower_inverse(const std::vector<double>& A, int64_t n) {
  constexpr int64_t kBlock = 8;
  std::vector<double> Li(size_t(n * n), 0.0);
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock);
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, i0, 256), [&](const tbb::blocked_range<int64_t>& jr) {
      for (int64_t k = jr.begin(); k < i0; ++k) {  // row k of L^-1 is zero beyond column k
        const double* lk = &Li[size_t(k * n)];
        const int64_t j1 = std::min(jr.end(), k + 1);
        for (int64_t i = i0; i < i1; ++i) {
          const double a = A[size_t(i * n + k)];
          double* li = &Li[size_t(i * n)];
          for (int64_t j = jr.begin(); j < j1; ++j) li[j] = std::fma(a, lk[j], li[j]);
        }
      }
    });
    for (int64_t i = i0; i < i1; ++i) {
      double* li = &Li[size_t(i * n)];
      for (int64_t k = i0; k < i; ++k) {
        const double a = A[size_t(i * n + k)];
        const double* lk = &Li[size_t(k * n)];
        for (int64_t j = 0; j <= k; ++j) li[j] = std::fma(a, lk[j], li[j]);
      }
      const double inv = 1.0 / A[size_t(i * n + i)];
      for (int64_t j = 0; j < i; ++j) li[j] *= -inv;
      li[i] = inv;
    }
  }
  return Li;
}

}  // namespace

std::vector<float> gptq_inverse_cholesky(const float* H, int64_t n, double damp) {
  if (n <= 0) throw std::invalid_argument("gptq: empty Hessian");
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += H[i * n + i];
  mean_diag /= double(n);
  if (!(mean_diag > 0) || !std::isfinite(mean_diag))
    throw std::runtime_error("gptq: the Hessian's diagonal is zero or not finite (no calibration data?)");
  // Reversed order (J H J = L L^T) makes V = J L J upper with H = V V^T, so
  // H^-1 = V^-T V^-1 and U = V^-1 is the upper Cholesky factor of H^-1.
  for (int attempt = 0; attempt < 6; ++attempt, damp *= 10) {
    std::vector<double> A(size_t(n * n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double h = H[(n - 1 - i) * n + (n - 1 - j)];
        if (i == j) {
          if (h == 0) h = 1;  // a dead input: any value, its column is all error-free zeros
          h += damp * mean_diag;
        }
        A[size_t(i * n + j)] = h;
      }
    if (!cholesky_lower(A, n)) continue;
    std::vector<double> Li = lower_inverse(A, n);
    // U = V^-1 = J L^-1 J.
    std::vector<float> U(size_t(n * n), 0.f);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j) U[size_t(i * n + j)] = float(Li[size_t((n - 1 - i) * n + (n - 1 - j))]);
    return U;
  }
  throw std::runtime_error("gptq: the Hessian is not positive definite even with damping " + std::to_string(damp));
}

void gptq_quantize_rows(const float* W, int64_t cols, const float* U, const GroupQuantizer& q, int64_t r0,
                        int64_t r1, uint8_t* codes, float* scales) {
  constexpr int kRows = kTileRows;
  const int G = q.group;
  const int64_t groups = cols / G;
  std::vector<float> w(size_t(cols * kRows));  // transposed tile: w[c * kRows + r]
  std::vector<float> gbuf(static_cast<size_t>(G)), d(kRows);
  alignas(64) float err[kRows];  // the tile's errors for one column, pivot applied (push_error's e)
  for (int64_t t0 = r0; t0 < r1; t0 += kRows) {
    const int nr = int(std::min<int64_t>(kRows, r1 - t0));
    std::fill(w.begin(), w.end(), 0.f);
    for (int r = 0; r < nr; ++r)
      for (int64_t c = 0; c < cols; ++c) w[size_t(c * kRows + r)] = W[(t0 + r) * cols + c];
    for (int64_t i = 0; i < cols; ++i) {
      if (i % G == 0) {  // the group's scale, fixed from its current values before it is quantized
        for (int r = 0; r < nr; ++r) {
          for (int k = 0; k < G; ++k) gbuf[size_t(k)] = w[size_t((i + k) * kRows + r)];
          d[size_t(r)] = q.scale(gbuf.data(), G);
          scales[(t0 + r) * groups + i / G] = d[size_t(r)];
        }
      }
      const float inv_piv = 1.f / U[i * cols + i];
      float* wi = &w[size_t(i * kRows)];
      for (int r = 0; r < nr; ++r) {
        float deq;
        codes[(t0 + r) * cols + i] = q.round(wi[r], d[size_t(r)], &deq);
        err[r] = (wi[r] - deq) * inv_piv;
      }
      for (int r = nr; r < kRows; ++r) err[r] = 0.f;
      push_error(U + i * cols, i + 1, cols, err, w.data());
    }
  }
}

}  // namespace rbe::codec
