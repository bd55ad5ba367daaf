// Differentiable matmul (NumPy semantics: 1-d promotion, batch broadcasting).
#include "autodiff/functional.h"
#include "autodiff/functional_util.h"

namespace rbe {

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = ops::matmul(a, b);
  if (!needs_grad({&a, &b})) return out;
  bool ra = a.requires_grad(), rb = b.requires_grad();
  return record("matmul", out, {a, b}, [a, b, ra, rb](const Tensor& g) {
    // Promote 1-d operands as the forward did: a [k] -> [1, k], b [k] -> [k, 1].
    Tensor a2 = a.dim() == 1 ? ops::reshape(a, {1, a.size(0)}) : a;
    Tensor b2 = b.dim() == 1 ? ops::reshape(b, {b.size(0), 1}) : b;
    // g2: [..., n, m], the output with the promoted dims restored.
    Shape batch = ops::broadcast_shapes(Shape(a2.shape().begin(), a2.shape().end() - 2),
                                        Shape(b2.shape().begin(), b2.shape().end() - 2), "matmul");
    Shape out2 = batch;
    out2.push_back(a2.size(-2));
    out2.push_back(b2.size(-1));
    Tensor g2 = ops::reshape(g, out2);

    Tensor ga, gb;
    if (ra) {
      // ga: [..., n, k] = g @ b^T, summed over broadcast batch dims.
      ga = detail::reduce_to(ops::matmul(g2, ops::transpose(b2, -1, -2)), a2.shape());
      if (a.dim() == 1) ga = ops::reshape(ga, a.shape());
    }
    if (rb) {
      if (b2.dim() == 2 && a2.dim() > 2) {
        // Shared weight (x [B, T, k] @ W [k, m]): one GEMM over the flattened rows
        // instead of a batch of GEMMs and a sum.
        int64_t k = a2.size(-1), m = b2.size(-1);
        Tensor af = ops::reshape(a2, {-1, k});  // [B*T, k]
        Tensor gf = ops::reshape(g2, {-1, m});  // [B*T, m]
        gb = ops::matmul(ops::transpose(af, 0, 1), gf);
      } else {
        gb = detail::reduce_to(ops::matmul(ops::transpose(a2, -1, -2), g2), b2.shape());
      }
      if (b.dim() == 1) gb = ops::reshape(gb, b.shape());
    }
    return std::vector<Tensor>{ga, gb};
  });
}

}  // namespace rbe
