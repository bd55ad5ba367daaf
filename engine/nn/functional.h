#pragma once
// Fused differentiable layer ops (llm.c style): each op is ONE autograd node
// with a hand-written forward and backward kernel, f32, TBB-parallel. Inputs
// may be strided or F16/BF16 (they are made contiguous f32 first); outputs are
// contiguous f32. Shape and argument errors throw rbe::ShapeError naming the op.
//
// The composite (slow, obviously-correct) versions built from rbe:: ops are
// what tests/test_nn.cpp compares these against.
#include <cstdint>
#include <string>

#include "autodiff/functional.h"
#include "nn/packed_matrix.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace rbe::nn::F {

// x: [..., in], weight: [out, in], bias: [out] or undefined -> [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// The same with a compressed weight (nn/packed_matrix.h): batch 1 runs the
// fused gemv, larger batches its gemm. Inference only: throws when asked to
// record a graph through x.
Tensor linear_packed(const Tensor& x, const PackedMatrix& weight, const Tensor& bias = Tensor());

// a + b for tensors of the same shape (the residual stream); broadcasts
// through rbe::add otherwise.
Tensor add(const Tensor& a, const Tensor& b);
// dst += src in place, for inference (no graph): dst F32 contiguous, src of
// the same shape. Throws ShapeError otherwise, or if either needs a gradient.
void add_(Tensor& dst, const Tensor& src);

// Normalizes over the last dim. x: [..., C], weight/bias: [C].
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);
// x * rsqrt(mean(x^2) + eps) * weight over the last dim. x: [..., C], weight: [C].
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps = 1e-6f);

// weight: [V, C], ids: I32 of any shape -> [*ids.shape, C]. Ids are bounds-checked.
Tensor embedding(const Tensor& weight, const Tensor& ids);
// Rows of a compressed table: packed [V, C], ids: I32 of any shape -> [*ids.shape, C].
Tensor embedding_packed(const PackedMatrix& weight, const Tensor& ids);
// GPT-2's input layer in one pass: wte[ids[b,t]] + wpe[pos_offset + t].
// wte: [V, C], wpe: [P, C], ids: [B, T] I32 -> [B, T, C].
Tensor token_position_embedding(const Tensor& wte, const Tensor& wpe, const Tensor& ids, int64_t pos_offset = 0);
// The same with a compressed token table (inference only).
Tensor token_position_embedding_packed(const PackedMatrix& wte, const Tensor& wpe, const Tensor& ids,
                                       int64_t pos_offset = 0);

// qkv: [B, T, 3C] laid out q | k | v, head h = columns h*hd .. (h+1)*hd of
// each -> [B, T, C]. Causal, scale 1/sqrt(hd), stable softmax. Keeps only the
// row log-sum-exp for backward and recomputes the probabilities there
// (memory O(B*H*T) instead of O(B*H*T^2)).
Tensor causal_self_attention(const Tensor& qkv, int64_t n_head);
// Reference attention from differentiable rbe:: ops: q, k, v: [..., T, hd].
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal);

// logits: [N, V] or [B, T, V]; targets: I32 [N] or [B, T]. Mean of
// -log_softmax(logits)[target] over targets != ignore_index (0 when none).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int32_t ignore_index = -1);

// Inverted dropout: zeroes each element with probability p and scales the
// rest by 1/(1-p). Identity when !training or p == 0. The mask is a function
// of seed only (recomputed in backward, never stored), so a recomputation
// (gradient checkpointing) with the same seed drops the same elements.
Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed);
Tensor dropout(const Tensor& x, float p, bool training, Rng& rng);  // seed drawn from rng

// The same inference ops on plain row buffers, for a decoding step that runs
// without tensors (nn/decode_step.h): no checks, no graph, the numbers the
// tensor forms give. dst[i] += src[i]; y = layer norm of x [N, C];
// x <- activation(x) over n values.
void add_rows(float* dst, const float* src, int64_t n);
void layer_norm_rows(float* y, const float* x, const float* weight, const float* bias, int64_t N, int64_t C, float eps);

// Pointwise activations as single fused nodes.
enum class Activation { Gelu, GeluTanh, Relu, Silu, Mish };
// "gelu" (exact), "gelu_new" / "gelu_tanh" / "gelu_pytorch_tanh", "relu", "silu" / "swish", "mish".
Activation activation_from_name(const std::string& name);
const char* activation_name(Activation a);
Tensor activation(const Tensor& x, Activation a);
// x <- activation(x) in place, for inference (no graph): x F32 contiguous.
// Throws ShapeError otherwise, or if x needs a gradient.
void activation_(Tensor& x, Activation a);
void activation_rows(float* x, int64_t n, Activation a);
inline Tensor gelu(const Tensor& x) { return activation(x, Activation::Gelu); }
inline Tensor gelu_tanh(const Tensor& x) { return activation(x, Activation::GeluTanh); }
inline Tensor relu(const Tensor& x) { return activation(x, Activation::Relu); }
inline Tensor silu(const Tensor& x) { return activation(x, Activation::Silu); }
inline Tensor mish(const Tensor& x) { return activation(x, Activation::Mish); }
inline Tensor softmax(const Tensor& x, int64_t dim = -1) { return rbe::softmax(x, dim); }
inline Tensor log_softmax(const Tensor& x, int64_t dim = -1) { return rbe::log_softmax(x, dim); }

}  // namespace rbe::nn::F
