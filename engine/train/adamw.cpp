#include "train/adamw.h"

#include <cmath>
#include <map>
#include <stdexcept>

#include <tbb/parallel_for.h>

#include "autodiff/node.h"
#include "tensor/ops.h"

namespace rbe {

AdamW::AdamW(std::vector<std::pair<std::string, Tensor>> params, AdamWOptions options)
    : params_(std::move(params)), options_(options) {
  for (auto& [name, p] : params_) {
    if (p.dtype() != DType::F32 || !p.is_contiguous())
      throw ShapeError("AdamW: parameter '" + name + "' must be contiguous F32");
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

namespace {

struct UpdateArgs {
  float lr, beta1, beta2, eps, decay;  // decay = lr * weight_decay (0 when the parameter does not decay)
  float bc1, bc2;                      // bias corrections 1 - beta^t
};

// p, g, m, v: n floats each. The whole update in one pass over memory.
inline void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const UpdateArgs& a) {
  const float step = a.lr / a.bc1, inv_sqrt_bc2 = 1.f / std::sqrt(a.bc2);
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    float mi = a.beta1 * m[i] + (1.f - a.beta1) * gi;
    float vi = a.beta2 * v[i] + (1.f - a.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float pi = p[i] * (1.f - a.decay);
    p[i] = pi - step * mi / (std::sqrt(vi) * inv_sqrt_bc2 + a.eps);
  }
}

}  // namespace

void AdamW::step() {
  NoGradGuard no_grad;
  ++t_;
  UpdateArgs a{options_.lr, options_.beta1, options_.beta2, options_.eps, 0.f,
               1.f - std::pow(options_.beta1, float(t_)), 1.f - std::pow(options_.beta2, float(t_))};
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (g.shape() != p.shape())
      throw ShapeError("AdamW: gradient of '" + params_[i].first + "' has shape " + shape_str(g.shape()) +
                       ", parameter " + shape_str(p.shape()));
    if (g.dtype() != DType::F32 || !g.is_contiguous()) g = g.to(DType::F32).contiguous();
    UpdateArgs ai = a;
    ai.decay = decays(i) ? options_.lr * options_.weight_decay : 0.f;
    float* pp = p.data<float>();
    const float* gp = g.data<float>();
    float* mp = m_[i].data<float>();
    float* vp = v_[i].data<float>();
    const int64_t n = p.numel();
    constexpr int64_t kGrain = 1 << 15;
    if (n < 2 * kGrain) {
      adamw_update(pp, gp, mp, vp, n, ai);
    } else {
      // Chunks are independent; the result does not depend on the thread count.
      tbb::parallel_for(int64_t(0), (n + kGrain - 1) / kGrain, [&](int64_t c) {
        int64_t b = c * kGrain, e = std::min(n, b + kGrain);
        adamw_update(pp + b, gp + b, mp + b, vp + b, e - b, ai);
      });
    }
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) p.set_grad(Tensor());
}

std::vector<std::pair<std::string, Tensor>> AdamW::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("m." + params_[i].first, m_[i]);
    out.emplace_back("v." + params_[i].first, v_[i]);
  }
  return out;
}

void AdamW::load_state(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t step_count) {
  std::map<std::string, Tensor> by_name(tensors.begin(), tensors.end());
  std::vector<Tensor> m, v;
  for (auto& [name, p] : params_) {
    for (const std::string kind : {"m.", "v."}) {
      auto it = by_name.find(kind + name);
      if (it == by_name.end()) throw std::runtime_error("optimizer state: missing tensor '" + kind + name + "'");
      if (it->second.shape() != p.shape())
        throw std::runtime_error("optimizer state: tensor '" + kind + name + "' has shape " +
                                 shape_str(it->second.shape()) + ", expected " + shape_str(p.shape()));
      // Own copies: the source may be a view of a memory-mapped file.
      (kind[0] == 'm' ? m : v).push_back(it->second.to(DType::F32).clone());
    }
  }
  if (tensors.size() != 2 * params_.size())
    for (auto& [name, t] : tensors) {
      std::string base = name.size() > 2 ? name.substr(2) : "";
      bool known = false;
      for (auto& [pn, p] : params_) known |= (pn == base);
      if (!known) throw std::runtime_error("optimizer state: unexpected tensor '" + name + "'");
    }
  m_ = std::move(m);
  v_ = std::move(v);
  t_ = step_count;
}

}  // namespace rbe
