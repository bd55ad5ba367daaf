// SGEMM driver: BLIS-style blocking (K blocks of kc, packed B slice shared by all threads,
// per-task packed A blocks sized for L2, register-tile micro-kernels; for few rows of A,
// column tasks that pack their own B panels), oneTBB threading, and a run-time choice
// between the AVX-512, AVX2 and generic kernel sets. Also the column tasks of products whose
// weights are decoded on the fly (f16, the fixed-rate forms: gemm_decoded_columns).
#include "gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include "gemm_f16.h"
#include "gemm_internal.h"
#include "tensor/dtype.h"
#include "tensor/kernels/aligned_buffer.h"
#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/threads.h"

namespace rbe::kernels {
namespace gemm_detail {
namespace {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------------------------------------
// Portable packing (used by the AVX2 and generic kernel sets).
template <int MR>
void pack_a_portable(bool trans, const float* A, int64_t lda, int64_t i0, int64_t p0, int64_t mc,
                     int64_t kc, float* dst) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int64_t mv = std::min<int64_t>(MR, mc - ip);
    float* d = dst + (ip / MR) * kc * MR;
    if (trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = A + (p0 + k) * lda + i0 + ip;
        for (int64_t i = 0; i < MR; ++i) d[k * MR + i] = i < mv ? s[i] : 0.0f;
      }
    } else {
      for (int64_t i = 0; i < MR; ++i) {
        if (i < mv) {
          const float* s = A + (i0 + ip + i) * lda + p0;
          for (int64_t k = 0; k < kc; ++k) d[k * MR + i] = s[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) d[k * MR + i] = 0.0f;
        }
      }
    }
  }
}

template <int NR>
void pack_b_portable(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc,
                     int64_t nc, float* dst) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t nv = std::min<int64_t>(NR, nc - jp);
    float* d = dst + (jp / NR) * kc * NR;
    if (!trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = B + (p0 + k) * ldb + j0 + jp;
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = j < nv ? s[j] : 0.0f;
      }
    } else {
      for (int64_t j = 0; j < NR; ++j) {
        if (j < nv) {
          const float* s = B + (j0 + jp + j) * ldb + p0;
          for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = s[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = 0.0f;
        }
      }
    }
  }
}

// In-place transpose of an 8x8 block of floats (r[i] = row i).
inline void transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// pack_b_portable<16> for op(B) = B^T (B's rows are the panel's columns: the
// weights of a prompt's products), whole panels 8 depths at a time through
// 8x8 transposes; partial panels and the depth tail as pack_b_portable.
void pack_b_avx2(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc, int64_t nc,
                 float* dst) {
  constexpr int NR = 16;
  if (!trans) return pack_b_portable<NR>(trans, B, ldb, p0, j0, kc, nc, dst);
  const int64_t k8 = kc & ~int64_t(7);
  for (int64_t jp = 0; jp < nc; jp += NR) {
    float* d = dst + (jp / NR) * kc * NR;
    if (nc - jp < NR) {
      pack_b_portable<NR>(trans, B + jp * ldb, ldb, p0, j0, kc, nc - jp, d);
      continue;
    }
    const float* s = B + (j0 + jp) * ldb + p0;
    for (int64_t k = 0; k < k8; k += 8)
      for (int h = 0; h < 2; ++h) {  // columns 8h .. 8h + 7 of the panel
        __m256 r[8];
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(s + (8 * h + j) * ldb + k);
        transpose8(r);
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(d + (k + i) * NR + 8 * h, r[i]);
      }
    for (int64_t k = k8; k < kc; ++k)
      for (int j = 0; j < NR; ++j) d[k * NR + j] = s[j * ldb + k];
  }
}

// Writes an MR x NR tile held in `acc` (row stride NR) into C[0:m, 0:n].
template <int NR>
inline void store_tile(const float* acc, float* C, int64_t ldc, float alpha, float beta, int m,
                       int n) {
  for (int i = 0; i < m; ++i) {
    float* c = C + i * ldc;
    const float* a = acc + i * NR;
    if (beta == 0.0f) {
      for (int j = 0; j < n; ++j) c[j] = alpha * a[j];
    } else {
      for (int j = 0; j < n; ++j) c[j] = alpha * a[j] + beta * c[j];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA 6x16 micro-kernel (12 ymm accumulators).
constexpr int kAvx2MR = 6, kAvx2NR = 16;

void kernel_avx2(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* C,
                 int64_t ldc, float alpha, float beta, int m, int n) {
  __m256 c0[kAvx2MR], c1[kAvx2MR];
#pragma GCC unroll 6
  for (int i = 0; i < kAvx2MR; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kAvx2MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(Ap + i);
      c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
    }
    Ap += kAvx2MR;
    Bp += kAvx2NR;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (m == kAvx2MR && n == kAvx2NR) {
    if (beta == 0.0f) {
#pragma GCC unroll 6
      for (int i = 0; i < kAvx2MR; ++i) {
        _mm256_storeu_ps(C + i * ldc, _mm256_mul_ps(va, c0[i]));
        _mm256_storeu_ps(C + i * ldc + 8, _mm256_mul_ps(va, c1[i]));
      }
    } else {
      const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
      for (int i = 0; i < kAvx2MR; ++i) {
        float* c = C + i * ldc;
        _mm256_storeu_ps(c, _mm256_fmadd_ps(va, c0[i], _mm256_mul_ps(vb, _mm256_loadu_ps(c))));
        _mm256_storeu_ps(c + 8,
                         _mm256_fmadd_ps(va, c1[i], _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8))));
      }
    }
    return;
  }
  alignas(32) float acc[kAvx2MR * kAvx2NR];
#pragma GCC unroll 6
  for (int i = 0; i < kAvx2MR; ++i) {
    _mm256_store_ps(acc + i * kAvx2NR, c0[i]);
    _mm256_store_ps(acc + i * kAvx2NR + 8, c1[i]);
  }
  store_tile<kAvx2NR>(acc, C, ldc, alpha, beta, m, n);
}

// ---------------------------------------------------------------------------------------------
// Generic (plain C++) 4x8 micro-kernel.
constexpr int kGenMR = 4, kGenNR = 8;

void kernel_generic(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* C,
                    int64_t ldc, float alpha, float beta, int m, int n) {
  float acc[kGenMR * kGenNR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < kGenMR; ++i) {
      const float a = Ap[k * kGenMR + i];
      for (int j = 0; j < kGenNR; ++j) acc[i * kGenNR + j] += a * Bp[k * kGenNR + j];
    }
  }
  store_tile<kGenNR>(acc, C, ldc, alpha, beta, m, n);
}

// ---------------------------------------------------------------------------------------------
// Scratch buffers (aligned_buffer.h).
// Packed-A block: only used inside a task body, which never waits on other TBB work, so a
// thread's buffer can't be re-entered.
thread_local AlignedBuffer tls_a;
// Packed-B slice: held by the calling thread across a parallel_for, during which the same
// thread may steal an unrelated task that calls sgemm again: taken through a ScratchLease.
thread_local AlignedBuffer tls_b;

// ---------------------------------------------------------------------------------------------
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.0f) {
      std::fill(c, c + N, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

void sgemm_naive(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      float s = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        const float a = ta ? A[k * lda + i] : A[i * lda + k];
        const float b = tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      float& c = C[i * ldc + j];
      c = beta == 0.0f ? alpha * s : alpha * s + beta * c;
    }
  }
}

int max_threads() { return usable_threads(); }

// Splits `total` items into `parts` nearly equal contiguous chunks; returns start of chunk p.
inline int64_t chunk_begin(int64_t total, int64_t parts, int64_t p) {
  const int64_t q = total / parts, r = total % parts;
  return p * q + std::min(p, r);
}

// Chooses how many row chunks (pm) and column chunks (pn) of micro-tiles to split C into, for
// T threads: minimises an estimated makespan (greedy list scheduling in task order, like TBB
// with one task per chunk) in units of one micro-tile, counting A re-packing per column chunk,
// plus half the largest task, so that work stays balanced when a thread is delayed (other
// work on the machine, nested parallelism).
void choose_partition(int64_t tm, int64_t tn, int T, int64_t& pm_out, int64_t& pn_out) {
  pm_out = pn_out = 1;
  if (T <= 1) return;
  constexpr double kPackPerRowTile = 0.4;  // cost of packing one MR x kc A panel, in tiles
  constexpr double kTaskOverhead = 0.5;    // scheduling cost per task, in tiles
  const int64_t max_tasks = 8 * static_cast<int64_t>(T);
  double best = 1e300;
  std::vector<double> load(static_cast<size_t>(T));
  for (int64_t pn = 1; pn <= std::min<int64_t>(tn, max_tasks); ++pn) {
    for (int64_t pm = 1; pm <= std::min<int64_t>(tm, max_tasks / pn); ++pm) {
      std::fill(load.begin(), load.end(), 0.0);
      double largest = 0.0;
      for (int64_t a = 0; a < pm; ++a) {
        const int64_t rt = chunk_begin(tm, pm, a + 1) - chunk_begin(tm, pm, a);
        for (int64_t b = 0; b < pn; ++b) {
          const int64_t ct = chunk_begin(tn, pn, b + 1) - chunk_begin(tn, pn, b);
          const double w = double(rt * ct) + kPackPerRowTile * double(rt) + kTaskOverhead;
          *std::min_element(load.begin(), load.end()) += w;
          largest = std::max(largest, w);
        }
      }
      const double makespan = *std::max_element(load.begin(), load.end()) + 0.5 * largest;
      if (makespan < best * 0.999) {
        best = makespan;
        pm_out = pm;
        pn_out = pn;
      }
    }
  }
}

// Few rows of A (a prompt against a weight matrix): each task owns a run of
// B's column panels and goes through the whole depth for them, packing its
// own panels (they stay in its core's caches), so there is no barrier per K
// block and no packed B shared across cores. A (a few hundred KB at most) is
// packed once for all tasks. Measured on the 124M prompt shapes at M = 128,
// 2 threads: 1.2-1.4x the block-synchronous path below (docs/performance.md).
thread_local AlignedBuffer tls_b_task;
thread_local AlignedBuffer tls_b_decoded;  // one task's weights decoded to f32 (gemm_decoded_columns)
thread_local AlignedBuffer tls_a_shared;  // all of A packed, held by the calling thread across the tasks

// pack_panels(p0, j0, kcur, ncols, Bp) packs depth [p0, p0+kcur) x columns
// [j0, j0+ncols) of op(B) as ks.pack_b does.
template <class PackPanels>
void sgemm_column_tasks(const KernelSet& ks, bool ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                        int64_t lda, float beta, float* C, int64_t ldc, int64_t kc, int64_t ntasks,
                        PackPanels&& pack_panels) {
  const int64_t MR = ks.mr, NR = ks.nr, tm = ceil_div(M, MR), tn = ceil_div(N, NR);
  const int64_t kcp_max = ceil_div(kc, ks.kpad) * ks.kpad;
  const int64_t panels_max = ceil_div(tn, ntasks);
  // All of A packed once, every depth block, before the tasks: each task
  // used to pack it again (some 40 times for a 128 x 3072 x 768 product).
  const int64_t nkb = ceil_div(K, kc);
  const size_t a_block = size_t(tm + 1) * size_t(MR * kcp_max);
  ScratchLease abuf(tls_a_shared);
  float* Aall = abuf->get(a_block * size_t(nkb));
  tbb::parallel_for(int64_t(0), nkb, [&](int64_t b) {
    ks.pack_a(ta, A, lda, 0, b * kc, M, std::min(kc, K - b * kc), Aall + size_t(b) * a_block);
  });
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, ntasks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        float* Bp = tls_b_task.get(size_t(panels_max) * NR * kcp_max);
        for (int64_t t = r.begin(); t < r.end(); ++t) {
          const int64_t ct0 = chunk_begin(tn, ntasks, t), ct1 = chunk_begin(tn, ntasks, t + 1);
          const int64_t j0 = ct0 * NR, ncols = std::min(N, ct1 * NR) - j0;
          for (int64_t p0 = 0; p0 < K; p0 += kc) {
            const int64_t kcur = std::min(kc, K - p0), kcp = ceil_div(kcur, ks.kpad) * ks.kpad;
            const float beta_eff = p0 == 0 ? beta : 1.0f;
            const float* Ap = Aall + size_t(p0 / kc) * a_block;
            pack_panels(p0, j0, kcur, ncols, Bp);
            for (int64_t jt = ct0; jt < ct1; ++jt) {
              const int n = static_cast<int>(std::min(NR, N - jt * NR));
              const float* bp = Bp + (jt - ct0) * kcp * NR;
              for (int64_t it = 0; it < tm; ++it) {
                const int m = static_cast<int>(std::min(MR, M - it * MR));
                ks.kernel(kcp, Ap + it * kcp * MR, bp, C + it * MR * ldc + jt * NR, ldc, alpha, beta_eff, m, n);
              }
            }
          }
        }
      },
      tbb::simple_partitioner());
}

// Whether the column path fits: all of A in one packed block and enough column
// panels for every thread; then the task count (the same number of tasks for
// every thread, each of at most kPanelsPerTask panels = 160 columns of the
// AVX-512 kernel, their sizes within one panel). One thread takes it too: its
// few panels stay in L2 through the whole depth, where the block path packs
// a K block of every column (2.4 MB at 2304 columns) and streams it from L3
// (on the Zen 3 VM, 128 x 3072 x 768 on one thread: 30-46 -> 53-59 GFLOP/s).
int64_t column_tasks_for(const KernelSet& ks, int64_t M, int64_t N, int T) {
  constexpr int64_t kPanelsPerTask = 5;
  const int64_t tm = ceil_div(M, ks.mr), tn = ceil_div(N, ks.nr);
  T = std::max(T, 1);
  if (tm > std::max<int64_t>(1, ks.mc_max / ks.mr) || tn < 2 * T) return 0;
  return std::min(tn, T * std::max<int64_t>(2, ceil_div(tn, int64_t(T) * kPanelsPerTask)));
}

// Products smaller than this (flops) run on the calling thread.
constexpr double kSerialFlops = 3.0e6;

// K blocks of (nearly) equal depth, at most kc_max.
int64_t depth_block(const KernelSet& ks, int64_t K) { return ceil_div(K, ceil_div(K, ks.kc_max)); }

void sgemm_packed(const KernelSet& ks, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                  float beta, float* C, int64_t ldc) {
  const int64_t MR = ks.mr, NR = ks.nr;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const bool small = flops < kSerialFlops;  // on the calling thread, no tasks
  const int T = small ? 1 : max_threads();

  const int64_t kc = depth_block(ks, K);
  const int64_t tm = ceil_div(M, MR), tn = ceil_div(N, NR);
  const int64_t mc_tiles_max = std::max<int64_t>(1, ks.mc_max / MR);

  if (const int64_t ntasks = small ? 0 : column_tasks_for(ks, M, N, T)) {
    sgemm_column_tasks(ks, ta, M, N, K, alpha, A, lda, beta, C, ldc, kc, ntasks,
                       [&](int64_t p0, int64_t j0, int64_t kcur, int64_t ncols, float* Bp) {
                         ks.pack_b(tb, B, ldb, p0, j0, kcur, ncols, Bp);
                       });
    return;
  }

  int64_t pm, pn;
  choose_partition(tm, tn, T, pm, pn);
  const int64_t ntasks = pm * pn;

  // Packed B slice for one K block: tn panels of kc x NR.
  const size_t b_floats = size_t(ceil_div(kc, ks.kpad) * ks.kpad) * size_t(tn * NR);
  ScratchLease bbuf(tls_b);
  float* Bp = bbuf->get(b_floats);

  for (int64_t p0 = 0; p0 < K; p0 += kc) {
    const int64_t kcur = std::min(kc, K - p0);
    const int64_t kcp = ceil_div(kcur, ks.kpad) * ks.kpad;  // padded packed depth
    const float beta_eff = p0 == 0 ? beta : 1.0f;

    // Pack B[p0:p0+kcur, :].
    auto pack_b_range = [&](int64_t pb, int64_t pe) {
      ks.pack_b(tb, B, ldb, p0, pb * NR, kcur, std::min(N, pe * NR) - pb * NR,
                Bp + pb * kcp * NR);
    };
    if (T > 1 && tn > 1 && double(kcur) * double(N) >= 16384.0) {
      const int64_t parts = std::min<int64_t>(tn, 4 * T);
      tbb::parallel_for(int64_t(0), parts, [&](int64_t p) {
        pack_b_range(chunk_begin(tn, parts, p), chunk_begin(tn, parts, p + 1));
      });
    } else {
      pack_b_range(0, tn);
    }

    auto task = [&](int64_t t) {
      const int64_t a = t / pn, b = t % pn;
      const int64_t rt0 = chunk_begin(tm, pm, a), rt1 = chunk_begin(tm, pm, a + 1);
      const int64_t ct0 = chunk_begin(tn, pn, b), ct1 = chunk_begin(tn, pn, b + 1);
      const int64_t nsub = ceil_div(rt1 - rt0, mc_tiles_max);
      float* Ap = tls_a.get(size_t(std::min(rt1 - rt0, mc_tiles_max) + 1) * MR * kcp);
      for (int64_t s = 0; s < nsub; ++s) {
        const int64_t st0 = rt0 + chunk_begin(rt1 - rt0, nsub, s);
        const int64_t st1 = rt0 + chunk_begin(rt1 - rt0, nsub, s + 1);
        const int64_t i0 = st0 * MR, i1 = std::min(M, st1 * MR);
        ks.pack_a(ta, A, lda, i0, p0, i1 - i0, kcur, Ap);
        for (int64_t jt = ct0; jt < ct1; ++jt) {
          const int64_t j0 = jt * NR;
          const int n = static_cast<int>(std::min(NR, N - j0));
          const float* bp = Bp + jt * kcp * NR;
          for (int64_t it = st0; it < st1; ++it) {
            const int64_t r0 = it * MR;
            const int m = static_cast<int>(std::min(MR, M - r0));
            ks.kernel(kcp, Ap + (it - st0) * kcp * MR, bp, C + r0 * ldc + j0, ldc, alpha,
                      beta_eff, m, n);
          }
        }
      }
    };
    if (ntasks == 1) {
      task(0);
    } else {
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, ntasks, 1),
                        [&](const tbb::blocked_range<int64_t>& r) {
                          for (int64_t t = r.begin(); t < r.end(); ++t) task(t);
                        },
                        tbb::simple_partitioner());
    }
  }
}

void sgemm_impl(const KernelSet& ks, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (M * N * K <= 2048) {
    sgemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  sgemm_packed(ks, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const KernelSet* find_kernel(const char* name) {
  if (std::strcmp(name, "avx512") == 0) return cpu_has_avx512() ? &kAvx512Kernels : nullptr;
  if (std::strcmp(name, "avx2") == 0) return cpu_has_avx2() ? &kAvx2Kernels : nullptr;
  if (std::strcmp(name, "generic") == 0) return &kGenericKernels;
  return nullptr;
}

const KernelSet& select_kernel() {
  // RBE_SGEMM_KERNEL=avx2|generic forces a (supported) kernel, for testing and comparisons.
  if (const char* env = std::getenv("RBE_SGEMM_KERNEL")) {
    if (const KernelSet* ks = find_kernel(env)) return *ks;
  }
  if (cpu_has_avx512()) return kAvx512Kernels;
  if (cpu_has_avx2()) return kAvx2Kernels;
  return kGenericKernels;
}

const KernelSet& active_kernel() {
  static const KernelSet& ks = select_kernel();
  return ks;
}
// Choose at start-up (static initialisation), not lazily inside the first hot call.
[[maybe_unused]] const KernelSet& g_startup_choice = active_kernel();

}  // namespace

const KernelSet kAvx2Kernels = {"avx2",
                                kAvx2MR,
                                kAvx2NR,
                                /*kpad=*/1,
                                /*kc_max=*/256,
                                /*mc_max=*/kAvx2MR * 24,
                                &pack_a_portable<kAvx2MR>,
                                &pack_b_avx2,
                                &kernel_avx2};
const KernelSet kGenericKernels = {"generic",
                                   kGenMR,
                                   kGenNR,
                                   /*kpad=*/1,
                                   /*kc_max=*/256,
                                   /*mc_max=*/kGenMR * 32,
                                   &pack_a_portable<kGenMR>,
                                   &pack_b_portable<kGenNR>,
                                   &kernel_generic};

bool sgemm_with_kernel(const char* name, bool trans_a, bool trans_b, int64_t M, int64_t N,
                       int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                       int64_t ldb, float beta, float* C, int64_t ldc) {
  const KernelSet* ks = find_kernel(name);
  if (!ks) return false;
  sgemm_impl(*ks, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  return true;
}

}  // namespace gemm_detail

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  gemm_detail::sgemm_impl(gemm_detail::active_kernel(), trans_a, trans_b, M, N, K, alpha, A, lda,
                          B, ldb, beta, C, ldc);
}

const char* sgemm_kernel_name() { return gemm_detail::active_kernel().name; }

bool gemm_decoded_columns(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, int64_t depth_align,
                          const DecodeWeightRows& decode, float beta, float* C, int64_t ldc) {
  using namespace gemm_detail;
  const KernelSet& ks = active_kernel();
  if (M <= 0 || N <= 0 || K <= 0 || 2.0 * double(M) * double(N) * double(K) < kSerialFlops) return false;
  const int64_t ntasks = column_tasks_for(ks, M, N, max_threads());
  if (!ntasks) return false;
  const int64_t align = std::max<int64_t>(1, depth_align);
  const int64_t kc = std::min(K, ceil_div(depth_block(ks, K), align) * align);
  const int64_t panels_max = ceil_div(ceil_div(N, ks.nr), ntasks);
  sgemm_column_tasks(ks, false, M, N, K, 1.f, A, lda, beta, C, ldc, kc, ntasks,
                     [&](int64_t p0, int64_t j0, int64_t kcur, int64_t ncols, float* Bp) {
                       float* Wf = tls_b_decoded.get(size_t(panels_max * ks.nr * kcur));
                       decode(j0, ncols, p0, kcur, Wf);
                       ks.pack_b(true, Wf, kcur, 0, 0, kcur, ncols, Bp);
                     });
  return true;
}

bool gemm_f16w_columns(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* W, int64_t ldw,
                       float beta, float* C, int64_t ldc) {
  return gemm_decoded_columns(M, N, K, A, lda, 1,
                              [&](int64_t j0, int64_t n, int64_t p0, int64_t kcur, float* out) {
                                for (int64_t j = 0; j < n; ++j) f16_to_f32_n(W + (j0 + j) * ldw + p0, out + j * kcur, kcur);
                              },
                              beta, C, ldc);
}

}  // namespace rbe::kernels
