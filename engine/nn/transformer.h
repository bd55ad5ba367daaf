#pragma once
// The transformer block with HuggingFace GPT-2 names:
// ln_1, attn (c_attn, c_proj), ln_2, mlp (c_fc, c_proj).
// Includes every layer a model needs (Embedding, LayerNorm, Linear, KVCache).
#include <cstdint>
#include <memory>
#include <string>

#include "nn/activations.h"
#include "nn/attention.h"
#include "nn/functional.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace rbe::nn {

// c_fc: Linear(C, hidden), activation, c_proj: Linear(hidden, C), dropout on the output.
class FFN : public Module {
 public:
  FFN(int64_t C, int64_t hidden, F::Activation act, float dropout = 0.f, uint64_t seed = 0, float init_std = 0.02f,
      float proj_init_std = 0.02f);
  Tensor forward(const Tensor& x) { return forward(x, rng_.next_u64()); }  // [..., C] -> [..., C]
  Tensor forward(const Tensor& x, uint64_t dropout_seed) const;
  std::shared_ptr<Linear> c_fc, c_proj;
  F::Activation act;
  float dropout;

 private:
  Rng rng_;
};

struct BlockConfig {
  int64_t n_embd = 768;
  int64_t n_head = 12;
  float eps = 1e-5f;
  std::string activation = "gelu_new";  // see F::activation_from_name
  bool pre_ln = true;                   // pre-LN (GPT-2) or post-LN (original transformer)
  float dropout = 0.f;                  // residual dropout while training
  float init_std = 0.02f;
  float proj_init_std = 0.02f;          // c_proj weights (GPT-2: 0.02 / sqrt(2 n_layer))
};

// pre-LN:  x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))
// post-LN: x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))
class TransformerBlock : public Module {
 public:
  explicit TransformerBlock(const BlockConfig& cfg, uint64_t seed = 0);
  Tensor forward(const Tensor& x) { return forward(x, rng_.next_u64()); }  // [B, T, C]
  // Dropout masks derive from dropout_seed only, so a recomputation
  // (gradient checkpointing) reproduces them.
  Tensor forward(const Tensor& x, uint64_t dropout_seed) const;
  Tensor forward_cached(const Tensor& x, KVCache& cache, int64_t layer) const;  // inference

  const BlockConfig& config() const { return cfg_; }
  std::shared_ptr<LayerNorm> ln_1, ln_2;
  std::shared_ptr<MultiHeadAttention> attn;
  std::shared_ptr<FFN> mlp;

 private:
  BlockConfig cfg_;
  Rng rng_;
};

}  // namespace rbe::nn
