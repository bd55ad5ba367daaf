// AVX-512 SGEMM micro-kernel (14x32 register tile) and packing routines.
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma; only reached through the
// run-time dispatch in gemm.cpp. Everything here has internal linkage (anonymous namespace)
// and uses no out-of-line library templates, so no AVX-512 code can be picked by the linker
// for other translation units.
#include "gemm_internal.h"

#include <immintrin.h>

#include "tensor/kernels/transpose_avx512.h"

// GCC 12 warns about the (intentionally) undefined pass-through operand inside its own
// masked-intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace rbe::kernels::gemm_detail {
namespace {

constexpr int kMR = 14;  // rows of C per micro-tile (14 x 2 zmm accumulators = 28 registers)
constexpr int kNR = 32;  // columns of C per micro-tile (2 zmm)

inline __mmask16 low_mask(int64_t n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// ---------------------------------------------------------------------------------------------
// Packed A layout: panels of kMR rows; inside a panel, depth in groups of 4:
//   panel[g * kMR * 4 + i * 4 + kk] = op(A)(row i, depth 4g + kk)
// so that packing non-transposed (row-major) A only moves 16-byte row pieces, and the
// micro-kernel's broadcasts stay at compile-time offsets.
constexpr int kKG = 4;                // depth group
constexpr int kGroupA = kMR * kKG;    // floats per depth group in a packed A panel
static_assert(kMR == 14, "pack_a below is written for 14 rows (3 quads + 1 pair)");

// out[j] = lane j of each of v0..v3, i.e. [v0.Lj, v1.Lj, v2.Lj, v3.Lj].
inline void transpose_lanes4(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 out[4]) {
  const __m512 a = _mm512_shuffle_f32x4(v0, v1, 0x44), b = _mm512_shuffle_f32x4(v0, v1, 0xEE);
  const __m512 c = _mm512_shuffle_f32x4(v2, v3, 0x44), d = _mm512_shuffle_f32x4(v2, v3, 0xEE);
  out[0] = _mm512_shuffle_f32x4(a, c, 0x88);
  out[1] = _mm512_shuffle_f32x4(a, c, 0xDD);
  out[2] = _mm512_shuffle_f32x4(b, d, 0x88);
  out[3] = _mm512_shuffle_f32x4(b, d, 0xDD);
}

void pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t p0, int64_t mc,
            int64_t kc, float* dst) {
  const int64_t np = (mc + kMR - 1) / kMR;
  const int64_t ng = (kc + kKG - 1) / kKG;  // depth groups (last one zero-padded)
  const int64_t kcp = ng * kKG;
  if (trans) {
    // Element (i,k) at A[k*lda + i]: per depth group, load 4 source rows x 14 columns and
    // transpose 4(k) x 16(i) into [i][kk] order.
    const __mmask16 mlast = low_mask(mc - (np - 1) * kMR);
    constexpr __mmask16 kFull = static_cast<__mmask16>((1u << kMR) - 1u);
    // Blocks of 4 depth groups (16 source rows, read once into L1), then panel by panel.
    for (int64_t gb = 0; gb < ng; gb += 4) {
      const int64_t ge = ng - gb < 4 ? ng : gb + 4;
      for (int64_t p = 0; p < np; ++p) {
        const __mmask16 m = p == np - 1 ? mlast : kFull;
        for (int64_t g = gb; g < ge; ++g) {
          const int64_t k0 = g * kKG;
          const float* src = A + (p0 + k0) * lda + i0 + p * kMR;
          __m512 r[4];
#pragma GCC unroll 4
          for (int kk = 0; kk < 4; ++kk)
            r[kk] = k0 + kk < kc ? _mm512_maskz_loadu_ps(m, src + kk * lda) : _mm512_setzero_ps();
          const __m512 t0 = _mm512_unpacklo_ps(r[0], r[1]), t1 = _mm512_unpackhi_ps(r[0], r[1]);
          const __m512 t2 = _mm512_unpacklo_ps(r[2], r[3]), t3 = _mm512_unpackhi_ps(r[2], r[3]);
          const __m512 u0 = _mm512_castpd_ps(
              _mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
          const __m512 u1 = _mm512_castpd_ps(
              _mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
          const __m512 u2 = _mm512_castpd_ps(
              _mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
          const __m512 u3 = _mm512_castpd_ps(
              _mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
          __m512 o[4];
          transpose_lanes4(u0, u1, u2, u3, o);  // o[L] = rows 4L..4L+3, each [kk0..kk3]
          float* d = dst + p * kcp * kMR + g * kGroupA;
          _mm512_storeu_ps(d, o[0]);
          _mm512_storeu_ps(d + 16, o[1]);
          _mm512_storeu_ps(d + 32, o[2]);
          _mm256_storeu_ps(d + 48, _mm512_castps512_ps256(o[3]));
        }
      }
    }
    return;
  }
  // Element (i,k) at A[i*lda + k]: each row contributes 16-byte pieces (4 consecutive k).
  for (int64_t p = 0; p < np; ++p) {
    const int64_t mv = mc - p * kMR < kMR ? mc - p * kMR : kMR;
    const float* src = A + (i0 + p * kMR) * lda + p0;
    float* d = dst + p * kcp * kMR;
    for (int64_t k = 0; k < kc; k += 16) {
      const int64_t kk = kc - k < 16 ? kc - k : 16;
      const __mmask16 km = low_mask(kk);
      const int64_t gv = (kk + kKG - 1) / kKG;  // groups to write from this chunk
      float* dk = d + (k / kKG) * kGroupA;
      __m512 v[kMR];
#pragma GCC unroll 14
      for (int ii = 0; ii < kMR; ++ii) {
        if (ii < mv) {
          v[ii] = _mm512_maskz_loadu_ps(km, src + ii * lda + k);
          _mm_prefetch(reinterpret_cast<const char*>(src + ii * lda + k + 64), _MM_HINT_T0);
        } else {
          v[ii] = _mm512_setzero_ps();
        }
      }
      __m512 o[4];
#pragma GCC unroll 3
      for (int q = 0; q < 3; ++q) {
        transpose_lanes4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3], o);
        if (gv == 4) {
#pragma GCC unroll 4
          for (int j = 0; j < 4; ++j) _mm512_storeu_ps(dk + j * kGroupA + 16 * q, o[j]);
        } else {
          for (int j = 0; j < gv; ++j) _mm512_storeu_ps(dk + j * kGroupA + 16 * q, o[j]);
        }
      }
      // rows 12, 13
      const __m512 a = _mm512_shuffle_f32x4(v[12], v[13], 0x44);  // [v12.L0 v12.L1 v13.L0 v13.L1]
      const __m512 b = _mm512_shuffle_f32x4(v[12], v[13], 0xEE);  // [v12.L2 v12.L3 v13.L2 v13.L3]
      const __m256 p0v = _mm512_castps512_ps256(_mm512_shuffle_f32x4(a, a, 0x08));
      const __m256 p1v = _mm512_castps512_ps256(_mm512_shuffle_f32x4(a, a, 0x0D));
      const __m256 p2v = _mm512_castps512_ps256(_mm512_shuffle_f32x4(b, b, 0x08));
      const __m256 p3v = _mm512_castps512_ps256(_mm512_shuffle_f32x4(b, b, 0x0D));
      _mm256_storeu_ps(dk + 48, p0v);
      if (gv > 1) _mm256_storeu_ps(dk + kGroupA + 48, p1v);
      if (gv > 2) _mm256_storeu_ps(dk + 2 * kGroupA + 48, p2v);
      if (gv > 3) _mm256_storeu_ps(dk + 3 * kGroupA + 48, p3v);
    }
  }
}

// Packed B layout: panels of kNR columns, [k][kNR], depth zero-padded to a multiple of 4.
void pack_b(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc,
            int64_t nc, float* dst) {
  const int64_t np = (nc + kNR - 1) / kNR;
  const int64_t kcp = (kc + kKG - 1) / kKG * kKG;
  if (!trans) {
    // Element (k,j) at B[k*ldb + j]: k outermost, each source row read sequentially.
    const int64_t nlast = nc - (np - 1) * kNR;
    const __mmask16 m0 = low_mask(nlast), m1 = low_mask(nlast > 16 ? nlast - 16 : 0);
    // Blocks of 16 source rows (read once into L1), then panel by panel so that the stores
    // to each panel are contiguous.
    for (int64_t kb = 0; kb < kc; kb += 16) {
      const int64_t ke = kc - kb < 16 ? kc : kb + 16;
      for (int64_t p = 0; p < np; ++p) {
        const __mmask16 n0 = p == np - 1 ? m0 : static_cast<__mmask16>(0xFFFF);
        const __mmask16 n1 = p == np - 1 ? m1 : static_cast<__mmask16>(0xFFFF);
        const float* src = B + p0 * ldb + j0 + p * kNR;
        float* d = dst + p * kcp * kNR;
        for (int64_t k = kb; k < ke; ++k) {
          _mm512_store_ps(d + k * kNR, _mm512_maskz_loadu_ps(n0, src + k * ldb));
          _mm512_store_ps(d + k * kNR + 16, _mm512_maskz_loadu_ps(n1, src + k * ldb + 16));
        }
      }
    }
    for (int64_t k = kc; k < kcp; ++k) {
      for (int64_t p = 0; p < np; ++p) {
        _mm512_store_ps(dst + p * kcp * kNR + k * kNR, _mm512_setzero_ps());
        _mm512_store_ps(dst + p * kcp * kNR + k * kNR + 16, _mm512_setzero_ps());
      }
    }
    return;
  }
  // Element (k,j) at B[j*ldb + k]: transpose 16(cols) x 16(k) blocks.
  for (int64_t p = 0; p < np; ++p) {
    const int64_t nv = nc - p * kNR < kNR ? nc - p * kNR : kNR;
    float* d = dst + p * kcp * kNR;
    const float* src = B + (j0 + p * kNR) * ldb + p0;
    for (int h = 0; h < 2; ++h) {
      const int64_t hv = nv - 16 * h;  // valid columns in this half (may be <= 0)
      for (int64_t k = 0; k < kc; k += 16) {
        const int64_t kk = kc - k < 16 ? kc - k : 16;
        const int64_t kw = kcp - k < 16 ? kcp - k : 16;  // rows to write (incl. zero padding)
        const __mmask16 km = low_mask(kk);
        __m512 r[16];
#pragma GCC unroll 16
        for (int jj = 0; jj < 16; ++jj) {
          if (jj < hv) {
            r[jj] = _mm512_maskz_loadu_ps(km, src + (16 * h + jj) * ldb + k);
            _mm_prefetch(reinterpret_cast<const char*>(src + (16 * h + jj) * ldb + k + 64),
                         _MM_HINT_T0);
          } else {
            r[jj] = _mm512_setzero_ps();
          }
        }
        transpose16(r);
        if (kw == 16) {
#pragma GCC unroll 16
          for (int t = 0; t < 16; ++t) _mm512_store_ps(d + (k + t) * kNR + 16 * h, r[t]);
        } else {
          for (int t = 0; t < kw; ++t) _mm512_store_ps(d + (k + t) * kNR + 16 * h, r[t]);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 14 x (16*NV) micro-kernel, NV = 1 or 2 zmm columns; kcp is a multiple of 4.
template <int NV>
inline void kernel_t(int64_t kcp, const float* __restrict Ap, const float* __restrict Bp, float* C,
                     int64_t ldc, float alpha, float beta, int m, int n) {
  __m512 acc[kMR][NV];
#pragma GCC unroll 14
  for (int i = 0; i < kMR; ++i) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
#pragma GCC unroll 14
  for (int i = 0; i < kMR; ++i) {
    if (i < m) {
      _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 16 * NV - 1), _MM_HINT_T0);
    }
  }
  // One depth step per inner iteration (not unrolled: unrolling lets GCC hoist broadcasts
  // and spill accumulators). A moves by 1 float per step and kGroupA - kKG per group.
  for (int64_t g = 0; g < kcp; g += kKG) {
#pragma GCC unroll 1
    for (int kk = 0; kk < kKG; ++kk) {
      __m512 b[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) b[v] = _mm512_load_ps(Bp + 16 * v);
#pragma GCC unroll 14
      for (int i = 0; i < kMR; ++i) {
        const __m512 a = _mm512_set1_ps(Ap[i * kKG]);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
      }
      Ap += 1;
      Bp += kNR;
    }
    Ap += kGroupA - kKG;
  }

  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  if (m == kMR && n == 16 * NV) {
    if (beta == 0.0f) {
#pragma GCC unroll 14
      for (int i = 0; i < kMR; ++i) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v)
          _mm512_storeu_ps(C + i * ldc + 16 * v, _mm512_mul_ps(va, acc[i][v]));
      }
    } else {
#pragma GCC unroll 14
      for (int i = 0; i < kMR; ++i) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) {
          float* c = C + i * ldc + 16 * v;
          _mm512_storeu_ps(c, _mm512_fmadd_ps(va, acc[i][v], _mm512_mul_ps(vb, _mm512_loadu_ps(c))));
        }
      }
    }
    return;
  }
  __mmask16 mk[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) mk[v] = low_mask(n > 16 * v ? n - 16 * v : 0);
#pragma GCC unroll 14
  for (int i = 0; i < kMR; ++i) {
    if (i < m) {
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        float* c = C + i * ldc + 16 * v;
        __m512 r = _mm512_mul_ps(va, acc[i][v]);
        if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[v], c), r);
        _mm512_mask_storeu_ps(c, mk[v], r);
      }
    }
  }
}

void kernel(int64_t kcp, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha,
            float beta, int m, int n) {
  if (n > 16) {
    kernel_t<2>(kcp, Ap, Bp, C, ldc, alpha, beta, m, n);
  } else {
    kernel_t<1>(kcp, Ap, Bp, C, ldc, alpha, beta, m, n);
  }
}

}  // namespace

const KernelSet kAvx512Kernels = {"avx512",        kMR,     kNR,    /*kpad=*/kKG,
                                  /*kc_max=*/256,  /*mc_max=*/kMR * 20,
                                  &pack_a,         &pack_b, &kernel};

}  // namespace rbe::kernels::gemm_detail
