#pragma once
// Tensor operations without autograd: each takes tensors, checks shapes
// (throwing ShapeError with the op name and the shapes), and returns a new
// tensor (or a view, where marked). Inputs may be strided views; compute is
// f32 (F16/BF16 inputs are converted), outputs are contiguous unless a view.
//
// The differentiable versions with the same names live in autodiff/functional.h;
// backward functions are written with these.
#include <vector>

#include "tensor/tensor.h"

namespace rbe::ops {

// ---- broadcasting ----
// NumPy rules: align trailing dims; sizes must match or be 1.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");
Tensor expand(const Tensor& x, const Shape& shape);       // view with stride 0 on broadcast dims
Tensor sum_to(const Tensor& x, const Shape& shape);       // sum over broadcast dims back to shape

// ---- elementwise binary (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, float b);
Tensor mul(const Tensor& a, float b);
Tensor pow(const Tensor& a, float exponent);

// ---- comparisons and logic (result dtype Bool; logic treats nonzero as true) ----
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // broadcasting, f32 result

// ---- elementwise unary ----
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tan(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);        // exact: x * Phi(x) with erf
Tensor gelu_tanh(const Tensor& x);   // GPT-2's tanh approximation
Tensor silu(const Tensor& x);        // Swish: x * sigmoid(x)
Tensor mish(const Tensor& x);        // x * tanh(softplus(x))

// ---- softmax (numerically stable: max subtracted) ----
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- matrix product (NumPy matmul semantics) ----
// 1-d operands are promoted and the added dim removed; batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- shape and indexing ----
Tensor reshape(const Tensor& x, const Shape& shape);   // view when possible, else copy; one -1 allowed
Tensor view(const Tensor& x, const Shape& shape);      // view only; throws if strides do not allow it
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);  // view
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);  // view
Tensor unsqueeze(const Tensor& x, int64_t dim);        // view
Tensor squeeze(const Tensor& x, int64_t dim);          // view; the dim must have size 1
// Python-like slice [start:end:step] along dim (negative start/end count from the end, clamped). View.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: 1-d I32
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);  // views
std::vector<Tensor> split(const Tensor& x, int64_t chunk_size, int64_t dim);                // last may be smaller

// ---- reductions: over all elements (0-d result) or over one dim ----
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor var(const Tensor& x, bool unbiased = true);
Tensor var(const Tensor& x, int64_t dim, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& x, bool unbiased = true);
Tensor std(const Tensor& x, int64_t dim, bool unbiased = true, bool keepdim = false);
// A plain literal dim (var(x, 0)) would be ambiguous between the bool and
// int64_t overloads; these take it as a dim.
inline Tensor var(const Tensor& x, int dim, bool unbiased = true, bool keepdim = false) { return var(x, int64_t(dim), unbiased, keepdim); }
inline Tensor std(const Tensor& x, int dim, bool unbiased = true, bool keepdim = false) { return std(x, int64_t(dim), unbiased, keepdim); }
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x);                        // I32 index into the flattened tensor
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);  // I32
Tensor argmax(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor norm(const Tensor& x, float p = 2.f);           // (sum |x|^p)^(1/p)
Tensor norm(const Tensor& x, float p, int64_t dim, bool keepdim = false);

// ---- in-place helpers (for gradient accumulation and optimizers; no broadcasting) ----
void copy_(Tensor& dst, const Tensor& src);            // same shape; converts dtype
void add_(Tensor& dst, const Tensor& src, float alpha = 1.f);  // dst += alpha * src, same shape, f32
void mul_(Tensor& dst, float s);
void fill_(Tensor& dst, float value);

}  // namespace rbe::ops
