#pragma once
// Walsh-Hadamard transforms for incoherence processing (QuIP#/QTIP style):
// a random sign flip followed by an orthonormal Hadamard transform spreads
// every coordinate's energy over all the others, so a rotated weight row is
// Gaussian-like and free of outliers, and a rotated activation vector too.
#include <cstdint>
#include <vector>

namespace rbe::codec {

// Orthonormal fast Walsh-Hadamard transform of x[n] in place (n a power of
// two; throws std::invalid_argument otherwise). Its own inverse.
void fwht(float* x, int64_t n);

// True when n is a positive power of two.
constexpr bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// The largest power of two that divides n (n > 0): 768 -> 256, 3072 -> 1024.
constexpr int64_t largest_pow2_divisor(int64_t n) { return n & -n; }

// R = H_blk D: multiply by random +-1 signs D (one per coordinate, drawn from
// `seed` with rbe::Rng), then an orthonormal FWHT. When n is a power of two
// H is one n x n transform; otherwise n is cut into n / b consecutive blocks
// of b = largest_pow2_divisor(n) coordinates and each block gets its own FWHT
// (R is block diagonal: 768 = 3 x 256, 3072 = 3 x 1024; an odd n gets signs
// only, b = 1). R is orthogonal: inverse = R^T = D H_blk.
class RandomizedHadamard {
 public:
  RandomizedHadamard(int64_t n, uint64_t seed);
  void forward(float* x) const;  // x <- R x
  void inverse(float* x) const;  // x <- R^T x
  // forward / inverse on each of `rows` consecutive rows of size() floats of
  // M, over the oneTBB threads.
  void forward_rows(float* M, int64_t rows) const;
  void inverse_rows(float* M, int64_t rows) const;
  int64_t size() const { return n_; }
  int64_t block() const { return block_; }
  const std::vector<float>& signs() const { return signs_; }

 private:
  int64_t n_, block_;
  std::vector<float> signs_;
};

}  // namespace rbe::codec
