#include "nn/transformer.h"

#include "autodiff/node.h"
#include "tensor/op_timer.h"

namespace rbe::nn {

FFN::FFN(int64_t C, int64_t hidden, F::Activation act_, float dropout_, uint64_t seed, float init_std,
         float proj_init_std)
    : act(act_), dropout(dropout_), rng_(derive_seed(seed, 99)) {
  c_fc = register_module("c_fc", std::make_shared<Linear>(C, hidden, true, derive_seed(seed, 0), init_std));
  c_proj = register_module("c_proj", std::make_shared<Linear>(hidden, C, true, derive_seed(seed, 1), proj_init_std));
}

Tensor FFN::forward(const Tensor& x, uint64_t dropout_seed) const {
  Tensor y = c_proj->forward(F::activation(c_fc->forward(x), act));
  return F::dropout(y, dropout, is_training(), dropout_seed);
}

TransformerBlock::TransformerBlock(const BlockConfig& cfg, uint64_t seed) : cfg_(cfg), rng_(derive_seed(seed, 99)) {
  const F::Activation act = F::activation_from_name(cfg.activation);
  ln_1 = register_module("ln_1", std::make_shared<LayerNorm>(cfg.n_embd, cfg.eps));
  attn = register_module("attn", std::make_shared<MultiHeadAttention>(cfg.n_embd, cfg.n_head, cfg.dropout,
                                                                      derive_seed(seed, 0), cfg.init_std,
                                                                      cfg.proj_init_std));
  ln_2 = register_module("ln_2", std::make_shared<LayerNorm>(cfg.n_embd, cfg.eps));
  mlp = register_module("mlp", std::make_shared<FFN>(cfg.n_embd, 4 * cfg.n_embd, act, cfg.dropout,
                                                     derive_seed(seed, 1), cfg.init_std, cfg.proj_init_std));
}

Tensor TransformerBlock::forward(const Tensor& x, uint64_t dropout_seed) const {
  const uint64_t s_attn = derive_seed(dropout_seed, 0), s_mlp = derive_seed(dropout_seed, 1);
  if (cfg_.pre_ln) {
    Tensor h = F::add(x, attn->forward(ln_1->forward(x), s_attn));
    return F::add(h, mlp->forward(ln_2->forward(h), s_mlp));
  }
  Tensor h = ln_1->forward(F::add(x, attn->forward(x, s_attn)));
  return ln_2->forward(F::add(h, mlp->forward(h, s_mlp)));
}

Tensor TransformerBlock::forward_cached(const Tensor& x, KVCache& cache, int64_t layer) const {
  NoGradGuard no_grad;
  // Inference: no dropout, whatever the training flag. Each step is timed
  // when op_timer is on (rbe-bench --profile).
  auto timed = [](const char* name, auto&& step) {
    op_timer::Scope timer(name);
    return step();
  };
  // The activation and the residual adds write into the fresh outputs of
  // c_fc, attention and the MLP (owned here alone) rather than new tensors:
  // for a prompt, each is a pass over 128 x 3072 or 128 x 768 floats less.
  // (A plain f32 buffer, as every output here is; anything else gets a new tensor.)
  auto writable = [](const Tensor& t) { return t.dtype() == DType::F32 && t.is_contiguous() && !t.requires_grad(); };
  auto mlp_eval = [&](const Tensor& h) {
    Tensor a = timed("mlp.c_fc", [&] { return mlp->c_fc->forward(h); });
    a = timed("mlp.act", [&] {
      if (!writable(a)) return F::activation(a, mlp->act);
      F::activation_(a, mlp->act);
      return a;
    });
    return timed("mlp.c_proj", [&] { return mlp->c_proj->forward(a); });
  };
  auto ln = [&](const LayerNorm& norm, const Tensor& t) { return timed("layer norm", [&] { return norm.forward(t); }); };
  auto add = [&](const Tensor& x_in, Tensor out) {  // x_in + out, into out (x + y == y + x in floats)
    return timed("residual add", [&] {
      if (!writable(out) || out.shape() != x_in.shape() || x_in.requires_grad()) return F::add(x_in, out);
      F::add_(out, x_in);
      return out;
    });
  };
  if (cfg_.pre_ln) {
    Tensor h = add(x, attn->forward_cached(ln(*ln_1, x), cache, layer));
    return add(h, mlp_eval(ln(*ln_2, h)));
  }
  Tensor h = ln(*ln_1, add(x, attn->forward_cached(x, cache, layer)));
  return ln(*ln_2, add(h, mlp_eval(h)));
}

}  // namespace rbe::nn
