#pragma once
// Basic layers as Modules over the fused ops in nn/functional.h. Parameters
// are public handles (sharing storage with named_parameters()).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "nn/functional.h"
#include "nn/module.h"
#include "nn/packed_matrix.h"

namespace rbe::nn {

// A well-mixed seed for sub-module `salt` of a module seeded with `seed`.
inline uint64_t derive_seed(uint64_t seed, uint64_t salt) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// y = x W^T + b. weight: [out, in] ~ N(0, init_std), bias: [out] zeros.
// While one of these is alive on a thread, layers built on that thread leave
// their random weights uninitialised (Tensor::empty) instead of drawing them:
// for loaders, which overwrite every parameter anyway. Drawing GPT-2 124M's
// init takes seconds; a model built this way must be filled before use.
class SkipInitGuard {
 public:
  SkipInitGuard();
  ~SkipInitGuard();
  SkipInitGuard(const SkipInitGuard&) = delete;
  SkipInitGuard& operator=(const SkipInitGuard&) = delete;

 private:
  bool prev_;
};
bool skip_init();

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, uint64_t seed = 0, float init_std = 0.02f);
  Tensor forward(const Tensor& x) const;  // [..., in] -> [..., out]
  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }
  // Attaches a compressed weight (shape must match; null detaches). While one is
  // attached, forward runs from it (inference only) and `weight` is not read:
  // loaders leave it uninitialised, so its pages are never touched.
  void set_packed(std::shared_ptr<const PackedMatrix> p);
  const std::shared_ptr<const PackedMatrix>& packed() const { return packed_; }
  Tensor weight, bias;  // bias undefined when built without one
  // Called with every input x before the product (calibration statistics).
  std::function<void(const Tensor& x)> observer;

 private:
  std::shared_ptr<const PackedMatrix> packed_;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t C, float eps = 1e-5f);
  Tensor forward(const Tensor& x) const { return F::layer_norm(x, weight, bias, eps); }  // [..., C]
  Tensor weight, bias;  // [C]: ones, zeros
  float eps;
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t C, float eps = 1e-6f);
  Tensor forward(const Tensor& x) const { return F::rms_norm(x, weight, eps); }  // [..., C]
  Tensor weight;  // [C]: ones
  float eps;
};

// Table lookup. weight: [V, C] ~ N(0, init_std); forward(ids I32 [...]) -> [..., C].
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, uint64_t seed = 0, float init_std = 0.02f);
  Tensor forward(const Tensor& ids) const;
  // As Linear::set_packed: lookups (and a tied head) decode rows from it.
  void set_packed(std::shared_ptr<const PackedMatrix> p);
  const std::shared_ptr<const PackedMatrix>& packed() const { return packed_; }
  int64_t num_embeddings() const { return weight.size(0); }
  int64_t embedding_dim() const { return weight.size(1); }
  Tensor weight;

 private:
  std::shared_ptr<const PackedMatrix> packed_;
};

// Learned positions: weight [n_pos, C]. forward(positions I32 [...]) -> [..., C];
// forward_range(start, T) -> [T, C] for positions start .. start+T-1.
class LearnedPositionalEmbedding : public Module {
 public:
  LearnedPositionalEmbedding(int64_t n_pos, int64_t dim, uint64_t seed = 0, float init_std = 0.02f);
  Tensor forward(const Tensor& positions) const { return F::embedding(weight, positions); }
  Tensor forward_range(int64_t start, int64_t T) const;
  Tensor weight;
};

// Fixed sin/cos table of "Attention is all you need" (no parameters):
// PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(p / 10000^(2i/C)).
class SinusoidalPositionalEmbedding : public Module {
 public:
  SinusoidalPositionalEmbedding(int64_t n_pos, int64_t dim);
  Tensor forward(const Tensor& positions) const { return F::embedding(table_, positions); }  // no grad
  Tensor forward_range(int64_t start, int64_t T) const;  // [T, C]
  const Tensor& table() const { return table_; }          // [n_pos, C]

 private:
  Tensor table_;
};

// Inverted dropout, active only in training mode. Each call draws a new mask
// from the module's generator (seeded at construction).
class Dropout : public Module {
 public:
  explicit Dropout(float p = 0.1f, uint64_t seed = 0) : p(p), rng_(seed) {}
  Tensor forward(const Tensor& x) { return F::dropout(x, p, is_training(), rng_); }
  Tensor forward(const Tensor& x, uint64_t seed) const { return F::dropout(x, p, is_training(), seed); }
  float p;

 private:
  Rng rng_;
};

// Mean cross-entropy of logits [N, V] / [B, T, V] against I32 targets.
class CrossEntropyLoss : public Module {
 public:
  explicit CrossEntropyLoss(int32_t ignore_index = -1) : ignore_index(ignore_index) {}
  Tensor forward(const Tensor& logits, const Tensor& targets) const {
    return F::cross_entropy(logits, targets, ignore_index);
  }
  int32_t ignore_index;
};

}  // namespace rbe::nn
