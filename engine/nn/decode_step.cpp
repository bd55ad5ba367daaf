#include "nn/decode_step.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "nn/linear_forward.h"
#include "tensor/env_switch.h"
#include "tensor/op_timer.h"

namespace rbe::nn {

namespace {

std::atomic<bool> g_enabled{!env_equals("RBE_BUFFER_STEPS", "0")};
std::atomic<uint64_t> g_taken{0};

bool plain_f32(const Tensor& t, int64_t n) {
  return t.defined() && t.dtype() == DType::F32 && t.is_contiguous() && t.dim() == 1 && t.size(0) == n;
}

std::optional<NormRows> norm_rows(const LayerNorm& n, int64_t C) {
  if (!plain_f32(n.weight, C) || !plain_f32(n.bias, C)) return std::nullopt;
  return NormRows{n.weight.data<float>(), n.bias.data<float>(), n.eps};
}

// The layer as forward() would run it, when that is one of the three kernels
// with plain operands; in -> out must match the block's widths.
std::optional<LinearRows> linear_rows(const Linear& l, int64_t in, int64_t out) {
  if (l.observer) return std::nullopt;
  LinearRows r;
  r.in = in, r.out = out;
  if (l.bias.defined()) {
    if (!plain_f32(l.bias, out)) return std::nullopt;
    r.bias = l.bias.data<float>();
  }
  if (const auto& p = l.packed()) {
    if (p->rows() != out || p->cols() != in) return std::nullopt;
    r.packed = p.get();
    return r;
  }
  const Tensor& w = l.weight;
  if (!w.defined() || w.dim() != 2 || w.size(0) != out || w.size(1) != in || !w.is_contiguous()) return std::nullopt;
  if (w.dtype() == DType::F32) r.w32 = w.data<float>();
  else if (w.dtype() == DType::F16) r.w16 = w.data<uint16_t>();
  else return std::nullopt;
  return r;
}

}  // namespace

void LinearRows::forward(const float* x, int64_t N, float* y) const {
  if (packed) {
    F::linear_forward_packed(y, x, *packed, bias, N);
  } else if (w16) {
    F::linear_forward_f16(y, x, w16, bias, N, in, out);
  } else {
    F::linear_forward(y, x, w32, bias, N, in, out, /*graph=*/false);
  }
}

std::optional<BlockRows> block_rows(const TransformerBlock& block) {
  const BlockConfig& cfg = block.config();
  const int64_t C = cfg.n_embd;
  if (!block.ln_1 || !block.ln_2 || !block.attn || !block.mlp || !block.attn->c_attn || !block.attn->c_proj ||
      !block.mlp->c_fc || !block.mlp->c_proj)
    return std::nullopt;
  const int64_t hidden = block.mlp->c_fc->out_features();
  auto ln_1 = norm_rows(*block.ln_1, C), ln_2 = norm_rows(*block.ln_2, C);
  auto c_attn = linear_rows(*block.attn->c_attn, C, 3 * C), attn_proj = linear_rows(*block.attn->c_proj, C, C);
  auto c_fc = linear_rows(*block.mlp->c_fc, C, hidden), mlp_proj = linear_rows(*block.mlp->c_proj, hidden, C);
  if (!ln_1 || !ln_2 || !c_attn || !attn_proj || !c_fc || !mlp_proj) return std::nullopt;
  return BlockRows{*ln_1, *ln_2, *c_attn, *attn_proj, *c_fc, *mlp_proj, block.mlp->act, cfg.pre_ln, C, hidden};
}

void prefetch_block_rows(const std::vector<std::shared_ptr<TransformerBlock>>& blocks) {
  auto fetch = [](const void* p) { __builtin_prefetch(p, 0, 3); };
  auto fetch_object = [&](const void* p, size_t bytes) {  // every line of an object
    for (size_t o = 0; o < bytes; o += 64) fetch(static_cast<const char*>(p) + o);
  };
  for (const auto& b : blocks) fetch_object(b.get(), sizeof(TransformerBlock));
  // Blocks with every module (block_rows turns down the others).
  std::vector<const TransformerBlock*> whole;
  for (const auto& b : blocks)
    if (b->ln_1 && b->ln_2 && b->attn && b->mlp) {
      fetch_object(b->ln_1.get(), sizeof(LayerNorm));
      fetch_object(b->ln_2.get(), sizeof(LayerNorm));
      fetch_object(b->attn.get(), sizeof(MultiHeadAttention));
      fetch_object(b->mlp.get(), sizeof(FFN));
      whole.push_back(b.get());
    }
  auto linears = [](const TransformerBlock& b) {
    return std::array<const Linear*, 4>{b.attn->c_attn.get(), b.attn->c_proj.get(), b.mlp->c_fc.get(),
                                        b.mlp->c_proj.get()};
  };
  std::erase_if(whole, [&](const TransformerBlock* b) {
    const auto ls = linears(*b);
    return std::find(ls.begin(), ls.end(), nullptr) != ls.end();
  });
  for (const TransformerBlock* b : whole)
    for (const Linear* l : linears(*b)) fetch_object(l, sizeof(Linear));
  auto tensors = [&](const TransformerBlock& b) {
    std::array<const Tensor*, 12> t{&b.ln_1->weight, &b.ln_1->bias, &b.ln_2->weight, &b.ln_2->bias};
    size_t i = 4;
    for (const Linear* l : linears(b)) t[i++] = &l->weight, t[i++] = &l->bias;
    return t;
  };
  for (const TransformerBlock* b : whole)  // the parameters' TensorImpls
    for (const Tensor* t : tensors(*b))
      if (const TensorImpl* impl = t->impl()) fetch_object(impl, sizeof(TensorImpl));
  for (const TransformerBlock* b : whole)  // and what they point to
    for (const Tensor* t : tensors(*b))
      if (const TensorImpl* impl = t->impl()) {
        fetch(impl->shape.data());
        fetch(impl->strides.data());
        fetch(impl->storage.get());
      }
}

int64_t block_step_scratch(const BlockRows& r, int64_t B) {
  return B * (3 * r.width + 3 * r.width + r.hidden);  // h, att, t; qkv; the MLP's activations
}

// The order of TransformerBlock::forward_cached, op for op (the same timer
// names for rbe-bench --profile). Its residual adds write x + out into the
// fresh output; here out is added into x: a + b == b + a in floats.
void block_step(const TransformerBlock& block, const BlockRows& r, float* x, int64_t B, KVCache& cache, int64_t layer,
                float* scratch) {
  const int64_t C = r.width, n = B * C;
  float* h = scratch;
  float* att = h + n;
  float* t = att + n;
  float* qkv = t + n;
  float* f = qkv + 3 * n;
  auto norm = [&](const NormRows& p, const float* in, float* out) {
    op_timer::Scope timer("layer norm");
    F::layer_norm_rows(out, in, p.weight, p.bias, B, C, p.eps);
  };
  auto add = [&](float* dst, const float* src) {
    op_timer::Scope timer("residual add");
    F::add_rows(dst, src, n);
  };
  auto attention = [&](const float* in) {  // t = attention(in)
    {
      op_timer::Scope timer("attn.c_attn");
      r.c_attn.forward(in, B, qkv);
    }
    {
      op_timer::Scope timer("attn.core");
      block.attn->attend_rows(qkv, B, cache, layer, att);
    }
    op_timer::Scope timer("attn.c_proj");
    r.attn_proj.forward(att, B, t);
  };
  auto mlp = [&](const float* in) {  // t = mlp(in)
    {
      op_timer::Scope timer("mlp.c_fc");
      r.c_fc.forward(in, B, f);
    }
    {
      op_timer::Scope timer("mlp.act");
      F::activation_rows(f, B * r.hidden, r.act);
    }
    op_timer::Scope timer("mlp.c_proj");
    r.mlp_proj.forward(f, B, t);
  };
  if (r.pre_ln) {  // x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))
    norm(r.ln_1, x, h);
    attention(h);
    add(x, t);
    norm(r.ln_2, x, h);
    mlp(h);
    add(x, t);
    return;
  }
  // x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))
  attention(x);
  add(t, x);
  norm(r.ln_1, t, x);
  mlp(x);
  add(t, x);
  norm(r.ln_2, t, x);
}

void set_buffer_steps_enabled(bool on) { g_enabled.store(on, std::memory_order_relaxed); }
bool buffer_steps_enabled() { return g_enabled.load(std::memory_order_relaxed); }
uint64_t buffer_steps_taken() { return g_taken.load(std::memory_order_relaxed); }
void count_buffer_step() { g_taken.fetch_add(1, std::memory_order_relaxed); }

}  // namespace rbe::nn
