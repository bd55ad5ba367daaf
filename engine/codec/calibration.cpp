#include "codec/calibration.h"

#include <algorithm>
#include <functional>
#include <string_view>

#include "autodiff/node.h"
#include "nn/transformer.h"
#include "tensor/kernels/gemm.h"

namespace rbe::codec {

namespace {

template <class M>
std::shared_ptr<M> module_as(const GPT2Model& model, const std::string& name) {
  for (auto& [n, m] : model.named_modules())
    if (n == name) {
      auto typed = std::dynamic_pointer_cast<M>(m);
      if (!typed) throw std::runtime_error("calibration: module " + name + " has an unexpected type");
      return typed;
    }
  throw std::runtime_error("calibration: the model has no module " + name);
}

// Sets observers on a set of Linears and restores the previous ones, even on throw.
class ObserverScope {
 public:
  ~ObserverScope() {
    for (auto& [lin, prev] : saved_) lin->observer = std::move(prev);
  }
  void set(const std::shared_ptr<nn::Linear>& lin, std::function<void(const Tensor&)> fn) {
    saved_.emplace_back(lin, lin->observer);
    lin->observer = std::move(fn);
  }

 private:
  std::vector<std::pair<std::shared_ptr<nn::Linear>, std::function<void(const Tensor&)>>> saved_;
};

void check_cancel(const CancelFn& cancel) {
  if (cancel && cancel()) throw Cancelled();
}

}  // namespace

void accumulate_gram(const Tensor& x, Tensor& H, int64_t& rows) {
  Tensor xf = x.to(DType::F32).contiguous();
  const int64_t in = xf.size(-1), n = xf.numel() / in;
  if (!H.defined()) H = Tensor::zeros({in, in});
  kernels::sgemm(true, false, in, in, n, 1.f, xf.data<float>(), in, xf.data<float>(), in, 1.f, H.data<float>(), in);
  rows += n;
}

Calibrator::Calibrator(GPT2Model& model, const Tokenizer& tok, const std::string& text, int64_t max_tokens,
                       const CancelFn& cancel)
    : model_(model), cancel_(cancel) {
  std::vector<int32_t> ids;
  // No need to tokenize a whole book for a few thousand tokens: a prefix of
  // 64 bytes per token is ample (GPT-2 tokens average ~4 bytes).
  const size_t max_bytes = max_tokens > 0 ? size_t(max_tokens) * 64 : text.size();
  const std::string_view used = std::string_view(text).substr(0, std::min(text.size(), max_bytes));
  try {
    ids = tok.encode(used);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("calibration text: ") + e.what());
  }
  if (max_tokens > 0 && int64_t(ids.size()) > max_tokens) ids.resize(size_t(max_tokens));
  if (ids.empty()) throw std::runtime_error("calibration text: no tokens");
  for (int32_t id : ids)
    if (id < 0 || id >= model.config().vocab_size)
      throw std::runtime_error("calibration text: token id " + std::to_string(id) + " is outside the model's vocabulary");
  tokens_ = int64_t(ids.size());

  NoGradGuard no_grad;
  auto wte = module_as<nn::Embedding>(model_, "wte");
  auto wpe = module_as<nn::Embedding>(model_, "wpe");
  const int64_t T = model.config().n_positions;
  for (int64_t s = 0; s < tokens_; s += T) {
    const int64_t len = std::min(T, tokens_ - s);
    Tensor w = Tensor::from_vector(std::vector<int32_t>(ids.begin() + s, ids.begin() + s + len), {1, len});
    stream_.push_back(wte->packed() ? nn::F::token_position_embedding_packed(*wte->packed(), wpe->weight, w, 0)
                                    : nn::F::token_position_embedding(wte->weight, wpe->weight, w, 0));
  }
}

Calibrator::~Calibrator() = default;

void Calibrator::run_block(int64_t layer, bool observe, std::map<std::string, Tensor>* out) {
  NoGradGuard no_grad;
  const std::string prefix = "h." + std::to_string(layer);
  auto block = module_as<nn::TransformerBlock>(model_, prefix);
  struct Acc {
    Tensor H;
    int64_t rows = 0;
  };
  std::map<std::string, Acc> acc;
  ObserverScope scope;
  if (observe) {
    const std::pair<const char*, std::shared_ptr<nn::Linear>> linears[] = {{"attn.c_attn", block->attn->c_attn},
                                                                           {"attn.c_proj", block->attn->c_proj},
                                                                           {"mlp.c_fc", block->mlp->c_fc},
                                                                           {"mlp.c_proj", block->mlp->c_proj}};
    for (auto& [name, lin] : linears) {
      Acc* a = &acc[prefix + "." + name + ".weight"];
      scope.set(lin, [a](const Tensor& x) { accumulate_gram(x, a->H, a->rows); });
    }
  }
  for (Tensor& x : stream_) {
    check_cancel(cancel_);
    x = block->forward(x, 0);
  }
  if (out)
    for (auto& [name, a] : acc) {
      if (!a.H.defined()) continue;
      float* h = a.H.data<float>();
      const float inv = 1.f / float(a.rows);
      for (int64_t i = 0; i < a.H.numel(); ++i) h[i] *= inv;
      (*out)[name] = a.H;
    }
}

std::map<std::string, Tensor> Calibrator::block_hessians(int64_t layer) {
  if (layer < next_layer_ || layer >= model_.config().n_layer)
    throw std::logic_error("Calibrator::block_hessians: layer " + std::to_string(layer) + " out of order");
  while (next_layer_ < layer) run_block(next_layer_++, false, nullptr);
  std::map<std::string, Tensor> out;
  run_block(next_layer_++, true, &out);
  return out;
}

Tensor Calibrator::head_hessian() {
  while (next_layer_ < model_.config().n_layer) run_block(next_layer_++, false, nullptr);
  NoGradGuard no_grad;
  auto ln_f = module_as<nn::LayerNorm>(model_, "ln_f");
  Tensor H;
  int64_t rows = 0;
  for (const Tensor& x : stream_) {
    check_cancel(cancel_);
    accumulate_gram(ln_f->forward(x), H, rows);
  }
  float* h = H.data<float>();
  for (int64_t i = 0; i < H.numel(); ++i) h[i] /= float(rows);
  return H;
}

}  // namespace rbe::codec
