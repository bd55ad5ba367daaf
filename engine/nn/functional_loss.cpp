// Fused softmax + negative log-likelihood.
#include <memory>
#include <vector>

#include "nn/functional.h"
#include "nn/kernel_util.h"

namespace rbe::nn::F {

using namespace rbe::nn::detail;

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int32_t ignore_index) {
  const char* op = "cross_entropy";
  if (!logits.defined() || !targets.defined()) throw ShapeError("cross_entropy: undefined input");
  if (logits.dim() < 2 || targets.dtype() != DType::I32 || targets.dim() != logits.dim() - 1)
    throw ShapeError("cross_entropy: expected logits [N, V] or [B, T, V] and I32 targets [N] or [B, T], got logits " +
                     shape_str(logits.shape()) + " and " + dtype_name(targets.dtype()) + " targets " +
                     shape_str(targets.shape()));
  for (int64_t i = 0; i < targets.dim(); ++i)
    if (targets.size(i) != logits.size(i))
      throw ShapeError("cross_entropy: targets " + shape_str(targets.shape()) + " do not match logits " +
                       shape_str(logits.shape()));
  const int64_t V = logits.size(-1), N = targets.numel();
  Tensor tc = targets.contiguous();
  const int32_t* tgt = tc.data<int32_t>();
  int64_t count = 0;
  for (int64_t n = 0; n < N; ++n) {
    if (tgt[n] == ignore_index) continue;
    if (tgt[n] < 0 || tgt[n] >= V)
      throw ShapeError("cross_entropy: target " + std::to_string(tgt[n]) + " at position " + std::to_string(n) +
                       " is out of range for " + std::to_string(V) + " classes");
    ++count;
  }
  Tensor lc = f32_contig(logits, op, "logits");
  const float* x = lc.data<float>();
  const bool grad = needs_grad({&logits});
  // The gradient (softmax - onehot) / count is computed here, in the same pass
  // as the loss, so the exponentials are evaluated once.
  Tensor dlogits = grad ? Tensor::empty(logits.shape()) : Tensor();
  float* dx = grad ? dlogits.data<float>() : nullptr;
  const float inv_count = count ? 1.f / float(count) : 0.f;
  std::vector<double> row_loss(size_t(N), 0.0);
  parallel_range(N, row_grain(V), [&](int64_t n0, int64_t n1) {
    std::vector<float> scratch(dx ? 0 : size_t(V));
    for (int64_t n = n0; n < n1; ++n) {
      const float* row = x + n * V;
      float* e = dx ? dx + n * V : scratch.data();
      if (tgt[n] == ignore_index) {
        if (dx) std::memset(e, 0, size_t(V) * sizeof(float));
        continue;
      }
      const float mx = max_f32(row, V);
      const double sum = exp_shift_sum(row, e, V, mx);
      row_loss[size_t(n)] = double(mx) + std::log(sum) - double(row[tgt[n]]);
      if (dx) {
        const float s = float(1.0 / sum) * inv_count;
        for (int64_t j = 0; j < V; ++j) e[j] *= s;
        e[tgt[n]] -= inv_count;
      }
    }
  });
  double total = 0;
  for (double l : row_loss) total += l;
  Tensor loss = Tensor::scalar(count ? float(total / double(count)) : 0.f);
  if (!grad) return loss;
  // Hand the precomputed buffer to the engine without a copy (moved out of the
  // holder, so the engine sees a sole owner); scale only when g != 1.
  auto holder = std::make_shared<Tensor>(std::move(dlogits));
  return record(op, loss, {logits}, [holder](const Tensor& g) {
    Tensor d = std::move(*holder);
    *holder = Tensor();
    if (!d.defined()) throw std::logic_error("cross_entropy: backward ran twice");
    const float gs = g.item();
    if (gs != 1.f) {
      float* p = d.data<float>();
      parallel_range(d.numel(), 1 << 16, [&](int64_t a, int64_t b) {
        for (int64_t i = a; i < b; ++i) p[i] *= gs;
      });
    }
    return std::vector<Tensor>{d};
  });
}

}  // namespace rbe::nn::F
