#pragma once
// Causal multi-head self-attention (GPT-2 layout) and its KV cache.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "nn/module.h"

namespace rbe::nn {

// Keys and values of every layer for incremental decoding.
// k[layer], v[layer]: [B, H, max_length, hd]; positions 0 .. length-1 are filled.
// Stored as F32 (exact) or F16: half the memory, and half the bytes that
// decoding reads per token, which grow with the context (the 124M model at
// 1024 positions reads 75 MB of f32 cache per token against 248 MB of f16
// weights). Keys and values are rounded to f16 as they are appended (and
// clamped to +-65504, f16's largest finite value); attention computes in f32.
//
// Left padding (a batch of prompts of different lengths): row b's positions
// < row_start[b] are padding. Attention never looks at a padded key, and the
// model numbers row b's positions from row_start[b] (position id pos -
// row_start[b]), so a padded row computes what it would compute alone.
struct KVCache {
  std::vector<Tensor> k, v;
  int64_t length = 0;
  int64_t max_length = 0;
  int64_t batch = 0;
  std::vector<int64_t> row_start;  // [batch], default 0: no padding

  KVCache() = default;
  KVCache(int64_t n_layer, int64_t batch, int64_t n_head, int64_t max_length, int64_t head_dim,
          DType dtype = DType::F32);  // F32 or F16
  int64_t n_layer() const { return int64_t(k.size()); }
  DType dtype() const { return k.empty() ? DType::F32 : k[0].dtype(); }
  // Empties the cache for a new batch (no padding).
  void reset() {
    length = 0;
    row_start.assign(size_t(batch), 0);
  }
  // Tokens of row b in the cache (its padding excluded).
  int64_t row_length(int64_t b) const;
  // Forgets the first n positions of every row, to make room: positions
  // n .. length-1 move to 0 .. length-n-1 and row_start[b] drops by n (at
  // least to 0). A row whose row_start[b] >= n keeps exactly its tokens and
  // position ids; a row with fewer padding positions loses its oldest tokens.
  void drop_front(int64_t n);
  // Keeps only the given rows (distinct, in this order); batch becomes rows.size().
  void keep_rows(const std::vector<int64_t>& rows);
  // Throws ShapeError (naming `who`) unless dtype is a cache storage: F32 or F16.
  static void check_dtype(DType dtype, const char* who);

 private:
  void allocate(int64_t n_layer, const Shape& shape, DType dtype);  // k and v, in one buffer
  // keep_rows' data moves; the caller updates row_start and batch.
  void keep_ascending_rows(const std::vector<int64_t>& rows);  // in place
  void keep_reordered_rows(const std::vector<int64_t>& rows);  // into a new buffer
};

// c_attn: Linear(C, 3C) producing q | k | v; c_proj: Linear(C, C).
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int64_t C, int64_t n_head, float dropout = 0.f, uint64_t seed = 0, float init_std = 0.02f,
                     float proj_init_std = 0.02f);
  // x: [B, T, C] -> [B, T, C]; dropout (training only) on the output.
  Tensor forward(const Tensor& x) { return forward(x, rng_.next_u64()); }
  Tensor forward(const Tensor& x, uint64_t dropout_seed) const;
  // Inference (no graph): x [B, T_new, C] holds positions cache.length ...;
  // appends its keys/values to cache layer `layer` and attends over all cached
  // positions of each row from cache.row_start[b] on (causal). A padded query
  // (position < row_start[b]) has no key to attend to: its output is c_proj's
  // bias. Does NOT advance cache.length (the model does, after the last layer).
  Tensor forward_cached(const Tensor& x, KVCache& cache, int64_t layer) const;
  // The attention alone of a decoding step on row buffers (nn/decode_step.h):
  // qkv [B, 3C] (c_attn's output for one new position per row) -> y [B, C]
  // (c_proj's input); appends the keys and values as forward_cached does.
  void attend_rows(const float* qkv, int64_t B, KVCache& cache, int64_t layer, float* y) const;

  int64_t n_head() const { return n_head_; }
  std::shared_ptr<Linear> c_attn, c_proj;
  float dropout;

 private:
  // Throws ShapeError unless cache layer `layer` takes Tn new positions of B
  // rows of this layer's heads.
  void check_cache(const char* op, int64_t B, int64_t Tn, const KVCache& cache, int64_t layer) const;
  int64_t n_head_;
  Rng rng_;
};

}  // namespace rbe::nn
