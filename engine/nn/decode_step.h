#pragma once
// A transformer block's decoding step (one new position for each of B rows)
// on plain row buffers instead of tensors. Each op of the tensor path
// (TransformerBlock::forward_cached) checks its inputs, allocates its output
// and reads its parameters' tensor metadata, all of it on cache lines the
// previous token's weights (MBs) pushed out: about 1-2 µs an op. Here the
// parameters are gathered once per step (prefetched level by level, so that
// their misses overlap), the outputs go to one scratch buffer, and the kernels are the tensor path's own, called
// with the same arguments: the numbers are the same, bit for bit
// (tests/test_decode_step.cpp). GPT2Model::forward_cached takes this path
// for steps of one token and at most 8 rows when every block allows it.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "nn/transformer.h"

namespace rbe::nn {

// A Linear's weight as the inference kernels take it: dense f32 or f16
// [out, in] (contiguous), or packed.
struct LinearRows {
  const float* w32 = nullptr;
  const uint16_t* w16 = nullptr;
  const PackedMatrix* packed = nullptr;
  const float* bias = nullptr;  // null: none
  int64_t in = 0, out = 0;
  // y[N, out] = x[N, in] W^T + bias, as Linear::forward computes it.
  void forward(const float* x, int64_t N, float* y) const;
};

struct NormRows {
  const float* weight = nullptr;
  const float* bias = nullptr;
  float eps = 0.f;
};

// Everything a block's step reads.
struct BlockRows {
  NormRows ln_1, ln_2;
  LinearRows c_attn, attn_proj, c_fc, mlp_proj;
  F::Activation act = F::Activation::GeluTanh;
  bool pre_ln = true;
  int64_t width = 0;   // n_embd
  int64_t hidden = 0;  // the MLP's width
};

// The block's parameters in that form, or nothing when one of them is not
// plain (an observer on a Linear, a dtype or layout the kernels do not take):
// the tensor path must run.
std::optional<BlockRows> block_rows(const TransformerBlock& block);

// Fetches the lines block_rows will read for these blocks (the modules, the
// parameters' handles, their shapes, strides and storage), level by level
// across all blocks, so that the misses of one level overlap instead of
// following each other block after block. Only prefetches: harmless if the
// blocks are not what block_rows then accepts.
void prefetch_block_rows(const std::vector<std::shared_ptr<TransformerBlock>>& blocks);

// Floats of scratch block_step needs for B rows.
int64_t block_step_scratch(const BlockRows& r, int64_t B);

// x [B, width] (each row's newest position) through the block in place;
// appends the keys and values to cache layer `layer` (cache.length is the
// caller's to advance). Inference only.
void block_step(const TransformerBlock& block, const BlockRows& r, float* x, int64_t B, KVCache& cache, int64_t layer,
                float* scratch);

// On by default; RBE_BUFFER_STEPS=0 in the environment turns it off at start,
// and this at any time (tests and benchmarks compare the two paths).
void set_buffer_steps_enabled(bool on);
bool buffer_steps_enabled();
// Steps that took this path since the start (tests check that it was taken).
uint64_t buffer_steps_taken();
void count_buffer_step();

}  // namespace rbe::nn
