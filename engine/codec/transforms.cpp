#include "codec/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec/scratch.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace rbe::codec {

namespace {

// The n x n matrix entry(r, c) describes, built once per size and kept (one
// cache per Entry type: per transform).
template <class Entry>
const std::vector<float>& cached_matrix(int n, Entry entry) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<std::vector<float>>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[n];
  if (!slot) {
    auto m = std::make_unique<std::vector<float>>(size_t(n) * size_t(n));
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c) (*m)[size_t(r) * size_t(n) + size_t(c)] = entry(r, c);
    slot = std::move(m);
  }
  return *slot;
}

// Orthonormal DCT-II matrix C[k][i] (row k = frequency), cached per size.
const std::vector<float>& dct_matrix(int n) {
  return cached_matrix(n, [n](int k, int i) {
    const double s = k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
    return float(s * std::cos(M_PI * (2 * i + 1) * k / (2.0 * n)));
  });
}

// Orthonormal Sylvester Hadamard matrix (n a power of two), cached per size.
const std::vector<float>& hadamard_matrix(int n) {
  return cached_matrix(n, [n](int i, int j) {
    const float s = float(1.0 / std::sqrt(double(n)));
    return (__builtin_popcount(unsigned(i & j)) & 1) ? -s : s;
  });
}

// Y = M X (left, M [rows, rows]) or Y = X M^T (right, M [cols, cols]); transposed
// variants use M^T. Every output is one fused multiply-add chain over k in
// increasing order, started from 0 (the arithmetic of a plain `y += m * x`
// loop with contraction, which is how files were written before these loops
// kept their sums in registers): encoder and decoder must agree to the bit.
constexpr int kChunk = 32;  // output columns whose sums stay in registers

// out[0, w) = sum over k < n of a[k * a_step] * b[k * b_stride + (0, w)], each
// an FMA chain in k order.
void fma_chain(const float* a, size_t a_step, const float* b, size_t b_stride, int n, int w, float* out) {
  float acc[kChunk] = {};
  for (int k = 0; k < n; ++k) {
    const float m = a[size_t(k) * a_step];
    const float* x = b + size_t(k) * b_stride;
    for (int j = 0; j < w; ++j) acc[j] = std::fma(m, x[j], acc[j]);
  }
  std::copy(acc, acc + w, out);
}

// The same for w = kChunk and two rows of A at once (a0, a1: their k = 0
// entries), the sums in eight registers, each row of b loaded once for both.
// A block's matrices, input and output (48 KB at 64 x 64) overflow the 32 KB
// L1, so these loads come from L2 and bound the loop: one row of A at a time
// ran 1.5x slower. (The empty asm keeps GCC from folding each load into both
// rows' FMAs, which loads it twice.)
void fma_chain32x2(const float* a0, const float* a1, size_t a_step, const float* b, size_t b_stride, int n,
                   float* out0, float* out1) {
#if defined(__AVX2__) && defined(__FMA__)
  __m256 y0 = _mm256_setzero_ps(), y1 = y0, y2 = y0, y3 = y0, z0 = y0, z1 = y0, z2 = y0, z3 = y0;
  for (int k = 0; k < n; ++k) {
    const __m256 m = _mm256_broadcast_ss(a0 + size_t(k) * a_step), q = _mm256_broadcast_ss(a1 + size_t(k) * a_step);
    const float* x = b + size_t(k) * b_stride;
    __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8), x2 = _mm256_loadu_ps(x + 16),
           x3 = _mm256_loadu_ps(x + 24);
    asm("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3));
    y0 = _mm256_fmadd_ps(m, x0, y0), z0 = _mm256_fmadd_ps(q, x0, z0);
    y1 = _mm256_fmadd_ps(m, x1, y1), z1 = _mm256_fmadd_ps(q, x1, z1);
    y2 = _mm256_fmadd_ps(m, x2, y2), z2 = _mm256_fmadd_ps(q, x2, z2);
    y3 = _mm256_fmadd_ps(m, x3, y3), z3 = _mm256_fmadd_ps(q, x3, z3);
  }
  _mm256_storeu_ps(out0, y0), _mm256_storeu_ps(out0 + 8, y1), _mm256_storeu_ps(out0 + 16, y2);
  _mm256_storeu_ps(out0 + 24, y3);
  _mm256_storeu_ps(out1, z0), _mm256_storeu_ps(out1 + 8, z1), _mm256_storeu_ps(out1 + 16, z2);
  _mm256_storeu_ps(out1 + 24, z3);
#else
  fma_chain(a0, a_step, b, b_stride, n, kChunk, out0);
  fma_chain(a1, a_step, b, b_stride, n, kChunk, out1);
#endif
}

// Y[i][j] = sum_k A(i, k) * B[k][j] for B [n, cols] row-major, A(i, k) =
// a[i * a_row + k * a_step]; Y [rows, cols] row-major. Rows in pairs.
void product(const float* a, size_t a_row, size_t a_step, const float* B, int n, int rows, int cols, float* Y) {
  const int full = cols / kChunk * kChunk;
  for (int i = 0; i < rows; i += 2) {
    const float* a0 = a + size_t(i) * a_row;
    float* y0 = Y + size_t(i) * size_t(cols);
    const bool pair = i + 1 < rows;
    // An odd last row pairs with itself, the copy's sums dropped.
    const float* a1 = pair ? a0 + a_row : a0;
    float spare[kChunk];
    for (int j = 0; j < full; j += kChunk)
      fma_chain32x2(a0, a1, a_step, B + j, size_t(cols), n, y0 + j, pair ? y0 + cols + j : spare);
    if (full < cols) {
      fma_chain(a0, a_step, B + full, size_t(cols), n, cols - full, y0 + full);
      if (pair) fma_chain(a1, a_step, B + full, size_t(cols), n, cols - full, y0 + cols + full);
    }
  }
}

void apply_left(const float* M, bool transpose, float* X, int rows, int cols) {
  thread_local std::vector<float> kept;
  std::vector<float> own;
  const size_t n = size_t(rows) * size_t(cols);
  float* Y = scratch(kept, own, n);
  // Row i of M (or column i, transposed) against the rows of X.
  if (transpose) product(M, 1, size_t(rows), X, rows, rows, cols, Y);
  else product(M, size_t(rows), 1, X, rows, rows, cols, Y);
  std::copy(Y, Y + n, X);
}

void apply_right(const float* M, bool transpose, float* X, int rows, int cols) {
  // Y[i][j] = sum_k X[i][k] * (transpose ? M[k][j] : M[j][k]): row i of X against the rows of Mt.
  thread_local std::vector<float> kept_t, kept_y;
  std::vector<float> own_t, own_y;
  const float* B = M;
  if (!transpose) {
    float* Mt = scratch(kept_t, own_t, size_t(cols) * size_t(cols));
    for (int a = 0; a < cols; ++a)
      for (int b = 0; b < cols; ++b) Mt[size_t(a) * size_t(cols) + size_t(b)] = M[size_t(b) * size_t(cols) + size_t(a)];
    B = Mt;
  }
  const size_t n = size_t(rows) * size_t(cols);
  float* Y = scratch(kept_y, own_y, n);
  product(X, size_t(cols), 1, B, cols, rows, cols, Y);
  std::copy(Y, Y + n, X);
}

// One Haar analysis / synthesis level on x[0, n): low band first.
void haar_level(float* x, int n, bool inverse, std::vector<float>& tmp) {
  const int half = n / 2, nlow = n - half;
  const float s = float(M_SQRT1_2);
  tmp.assign(x, x + n);
  if (!inverse) {
    for (int i = 0; i < half; ++i) {
      const float a = tmp[size_t(2 * i)], b = tmp[size_t(2 * i + 1)];
      x[i] = (a + b) * s;
      x[nlow + i] = (a - b) * s;
    }
    if (n & 1) x[half] = tmp[size_t(n - 1)];
  } else {
    for (int i = 0; i < half; ++i) {
      const float lo = tmp[size_t(i)], hi = tmp[size_t(nlow + i)];
      x[2 * i] = (lo + hi) * s;
      x[2 * i + 1] = (lo - hi) * s;
    }
    if (n & 1) x[n - 1] = tmp[size_t(half)];
  }
}

// CDF 9/7 lifting constants (Daubechies & Sweldens) and the band scaling that
// makes the pair of filters nearly orthonormal.
constexpr float kAlpha = -1.586134342059924f, kBeta = -0.052980118572961f, kGamma = 0.882911075530934f,
                kDelta = 0.443506852043971f;
// Low band gain sqrt(|synthesis| / |analysis|) of the unscaled lifting (high band: its inverse),
// so that analysis and synthesis vectors both have norms within ~13% of 1.
constexpr float kLow = 1.1333860f;

// Lifting on even (s) / odd (d) samples with whole-sample symmetric extension.
void lift_odd(std::vector<float>& s, std::vector<float>& d, float c, float sign) {
  const int ns = int(s.size()), nd = int(d.size());
  for (int i = 0; i < nd; ++i) {
    const float right = i + 1 < ns ? s[size_t(i + 1)] : s[size_t(i)];  // x[2i+2] mirrors to x[2i]
    d[size_t(i)] += sign * c * (s[size_t(i)] + right);
  }
}
void lift_even(std::vector<float>& s, std::vector<float>& d, float c, float sign) {
  const int ns = int(s.size()), nd = int(d.size());
  for (int i = 0; i < ns; ++i) {
    const float left = i > 0 ? d[size_t(i - 1)] : d[0];                       // x[-1] mirrors to x[1]
    const float right = i < nd ? d[size_t(i)] : d[size_t(nd - 1)];           // x[n] mirrors to x[n-2]
    s[size_t(i)] += sign * c * (left + right);
  }
}

void cdf97_level(float* x, int n, bool inverse) {
  if (n < 2) return;
  const int ns = (n + 1) / 2, nd = n / 2;
  std::vector<float> s(static_cast<size_t>(ns)), d(static_cast<size_t>(nd));
  if (!inverse) {
    for (int i = 0; i < ns; ++i) s[size_t(i)] = x[2 * i];
    for (int i = 0; i < nd; ++i) d[size_t(i)] = x[2 * i + 1];
    lift_odd(s, d, kAlpha, 1.f);
    lift_even(s, d, kBeta, 1.f);
    lift_odd(s, d, kGamma, 1.f);
    lift_even(s, d, kDelta, 1.f);
    for (int i = 0; i < ns; ++i) x[i] = s[size_t(i)] * kLow;
    for (int i = 0; i < nd; ++i) x[ns + i] = d[size_t(i)] / kLow;
  } else {
    for (int i = 0; i < ns; ++i) s[size_t(i)] = x[i] / kLow;
    for (int i = 0; i < nd; ++i) d[size_t(i)] = x[ns + i] * kLow;
    lift_even(s, d, kDelta, -1.f);
    lift_odd(s, d, kGamma, -1.f);
    lift_even(s, d, kBeta, -1.f);
    lift_odd(s, d, kAlpha, -1.f);
    for (int i = 0; i < ns; ++i) x[2 * i] = s[size_t(i)];
    for (int i = 0; i < nd; ++i) x[2 * i + 1] = d[size_t(i)];
  }
}

using Level1D = void (*)(float*, int, bool);

void haar_level_fn(float* x, int n, bool inverse) {
  thread_local std::vector<float> tmp;
  haar_level(x, n, inverse, tmp);
}

// Multi-level 1-D wavelet on x[0, n).
void wavelet_1d(Level1D level, float* x, int n, bool inverse) {
  const int L = wavelet_levels(n);
  std::vector<int> sizes;
  for (int l = 0, m = n; l < L; ++l, m = (m + 1) / 2) sizes.push_back(m);
  if (!inverse)
    for (int m : sizes) level(x, m, false);
  else
    for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) level(x, *it, true);
}

// Multi-level 2-D (Mallat): rows then columns of the current low band, then recurse.
void wavelet_2d(Level1D level, float* X, int rows, int cols, bool inverse) {
  const int L = std::min(wavelet_levels(rows), wavelet_levels(cols));
  std::vector<std::pair<int, int>> sizes;
  for (int l = 0, r = rows, c = cols; l < L; ++l, r = (r + 1) / 2, c = (c + 1) / 2) sizes.push_back({r, c});
  std::vector<float> col(static_cast<size_t>(rows));
  auto do_level = [&](int r, int c, bool inv) {
    auto rows_pass = [&] { for (int i = 0; i < r; ++i) level(X + size_t(i) * size_t(cols), c, inv); };
    auto cols_pass = [&] {
      for (int j = 0; j < c; ++j) {
        for (int i = 0; i < r; ++i) col[size_t(i)] = X[size_t(i) * size_t(cols) + size_t(j)];
        level(col.data(), r, inv);
        for (int i = 0; i < r; ++i) X[size_t(i) * size_t(cols) + size_t(j)] = col[size_t(i)];
      }
    };
    if (!inv) { rows_pass(); cols_pass(); } else { cols_pass(); rows_pass(); }
  };
  if (!inverse)
    for (auto [r, c] : sizes) do_level(r, c, false);
  else
    for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) do_level(it->first, it->second, true);
}

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

const float* rotation_matrix(int n) { return is_pow2(n) ? hadamard_matrix(n).data() : dct_matrix(n).data(); }

}  // namespace

int wavelet_levels(int n) {
  int L = 0;
  for (int m = n; m >= 8; m = (m + 1) / 2) ++L;  // the low band keeps >= 4 samples
  return L;
}

void dct_1d(float* x, int n, bool inverse) {
  const auto& C = dct_matrix(n);
  std::vector<float> y(size_t(n), 0.f);
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < n; ++i)
      y[size_t(k)] += inverse ? C[size_t(i) * size_t(n) + size_t(k)] * x[i] : C[size_t(k) * size_t(n) + size_t(i)] * x[i];
  std::copy(y.begin(), y.end(), x);
}

void haar_1d(float* x, int n, bool inverse) { wavelet_1d(haar_level_fn, x, n, inverse); }
void cdf97_1d(float* x, int n, bool inverse) { wavelet_1d(cdf97_level, x, n, inverse); }

namespace {
void transform_2d(Transform t, float* block, int rows, int cols, bool inverse, const char* who) {
  switch (t) {
    case Transform::DCT:
      apply_left(dct_matrix(rows).data(), inverse, block, rows, cols);
      apply_right(dct_matrix(cols).data(), inverse, block, rows, cols);
      return;
    case Transform::Haar: wavelet_2d(haar_level_fn, block, rows, cols, inverse); return;
    case Transform::CDF97: wavelet_2d(cdf97_level, block, rows, cols, inverse); return;
    default: throw std::invalid_argument(std::string(who) + ": choose a concrete transform");
  }
}
}  // namespace

void forward_transform(Transform t, float* block, int rows, int cols) {
  transform_2d(t, block, rows, cols, false, "forward_transform");
}

void inverse_transform(Transform t, float* block, int rows, int cols) {
  transform_2d(t, block, rows, cols, true, "inverse_transform");
}

void rotate_block(float* block, int rows, int cols, uint64_t seed, uint64_t key, bool inverse) {
  const uint64_t base = mix64(seed ^ mix64(key));
  auto sign = [&](int axis, int i) { return (mix64(base + uint64_t(axis) * 0x100000000ULL + uint64_t(i)) & 1) ? -1.f : 1.f; };
  thread_local std::vector<float> col_sign;
  col_sign.resize(size_t(cols));
  for (int j = 0; j < cols; ++j) col_sign[size_t(j)] = sign(1, j);
  auto flip_signs = [&] {  // X <- diag(sr) · X · diag(sc)
    for (int i = 0; i < rows; ++i) {
      const float si = sign(0, i);
      for (int j = 0; j < cols; ++j) block[size_t(i) * size_t(cols) + size_t(j)] *= si * col_sign[size_t(j)];
    }
  };
  const float* Mr = rotation_matrix(rows);
  const float* Mc = rotation_matrix(cols);
  if (!inverse) {
    // X <- Mr · diag(sr) · X · diag(sc) · Mc^T
    flip_signs();
    apply_left(Mr, false, block, rows, cols);
    apply_right(Mc, false, block, rows, cols);
  } else {
    apply_left(Mr, true, block, rows, cols);
    apply_right(Mc, true, block, rows, cols);
    flip_signs();
  }
}

}  // namespace rbe::codec
