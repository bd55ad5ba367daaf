#pragma once
// Differentiable tensor operations: the same names and semantics as
// tensor/ops.h, recording a backward function when gradients are needed
// (see node.h). Every op here has a backward, checked against finite
// differences in tests/test_autograd_props.cpp.
//
// Not differentiable (they return results with no history): comparisons,
// logic, argmin/argmax.
#include <vector>

#include "autodiff/node.h"
#include "tensor/ops.h"

namespace rbe {

// binary, broadcasting
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);   // d/db uses log(a): a must be > 0 where b needs a gradient
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, float b);
Tensor mul(const Tensor& a, float b);
Tensor pow(const Tensor& a, float exponent);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, float b) { return add(a, -b); }
inline Tensor operator*(const Tensor& a, float b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, float b) { return mul(a, 1.f / b); }
inline Tensor operator*(float a, const Tensor& b) { return mul(b, a); }

// comparisons and logic: no gradient
using ops::eq; using ops::ne; using ops::gt; using ops::lt; using ops::ge; using ops::le;
using ops::logical_and; using ops::logical_or; using ops::logical_not;

// unary
Tensor neg(const Tensor& x);
inline Tensor operator-(const Tensor& x) { return neg(x); }
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
Tensor gelu(const Tensor& x);
Tensor gelu_tanh(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor mish(const Tensor& x);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

Tensor matmul(const Tensor& a, const Tensor& b);

// shape and indexing (views where ops:: gives views; gradients flow to the base)
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor view(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor contiguous(const Tensor& x);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> split(const Tensor& x, int64_t chunk_size, int64_t dim);

// reductions
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
Tensor min(const Tensor& x);  // gradient goes to the first minimal element
Tensor min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
using ops::argmin; using ops::argmax;
Tensor norm(const Tensor& x, float p = 2.f);
Tensor norm(const Tensor& x, float p, int64_t dim, bool keepdim = false);

}  // namespace rbe
