#include "train/grad_clip.h"

#include <cmath>

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include "autodiff/node.h"
#include "tensor/ops.h"

namespace rbe {

static double sum_squares(const Tensor& g) {
  Tensor c = (g.dtype() == DType::F32 && g.is_contiguous()) ? g : g.to(DType::F32).contiguous();
  const float* p = c.data<float>();
  const int64_t n = c.numel();
  auto partial = [p](const tbb::blocked_range<int64_t>& r, double acc) {
    for (int64_t i = r.begin(); i < r.end(); ++i) acc += double(p[i]) * p[i];
    return acc;
  };
  if (n < (1 << 16)) return partial(tbb::blocked_range<int64_t>(0, n), 0.0);
  // Deterministic: the same chunks, joined in the same order, on any thread count.
  return tbb::parallel_deterministic_reduce(tbb::blocked_range<int64_t>(0, n, 1 << 14), 0.0, partial,
                                            std::plus<double>());
}

double grad_global_norm(const std::vector<Tensor>& params) {
  double total = 0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) total += sum_squares(g);
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  double norm = grad_global_norm(params);
  if (max_norm <= 0 || !(norm > max_norm)) return norm;
  NoGradGuard no_grad;
  float scale = float(max_norm / (norm + 1e-6));
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (g.dtype() == DType::F32 && g.is_contiguous()) {
      ops::mul_(g, scale);
    } else {
      p.set_grad(ops::mul(g, scale));
    }
  }
  return norm;
}

}  // namespace rbe
