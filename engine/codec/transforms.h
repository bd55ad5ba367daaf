#pragma once
// Separable 2-D block transforms for the entropy form's residuals, on a
// row-major rows × cols block of any size >= 1:
//   DCT    orthonormal DCT-II (matrix products with cached basis matrices)
//   Haar   orthonormal multi-level Haar (Mallat layout, odd lengths keep the
//          last sample in the low band)
//   CDF97  Cohen–Daubechies–Feauveau 9/7 by lifting, whole-sample symmetric
//          extension, scaled to be nearly orthonormal
// and the incoherence rotation: random signs, then an orthonormal Hadamard
// (power-of-two sizes) or DCT (other sizes) along rows and columns.
// forward then inverse is the identity up to float rounding.
#include <cstdint>

#include "codec/codec.h"

namespace rbe::codec {

// Wavelet levels used on a side of n samples: halve while the low band keeps >= 4.
int wavelet_levels(int n);

void forward_transform(Transform t, float* block, int rows, int cols);  // t != Adaptive
void inverse_transform(Transform t, float* block, int rows, int cols);

// 1-D versions (in place, n >= 1), exposed for tests.
void dct_1d(float* x, int n, bool inverse);
void haar_1d(float* x, int n, bool inverse);   // all levels of wavelet_levels(n)
void cdf97_1d(float* x, int n, bool inverse);  // all levels of wavelet_levels(n)

// Seeded orthonormal rotation of one block; `key` distinguishes blocks.
void rotate_block(float* block, int rows, int cols, uint64_t seed, uint64_t key, bool inverse);

}  // namespace rbe::codec
