#include "models/gpt2.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "autodiff/node.h"
#include "nn/decode_step.h"
#include "nn/layers.h"
#include "tensor/big_alloc.h"
#include "tensor/kernels/spin_pool.h"
#include "tensor/op_timer.h"
#include "tensor/ops.h"

namespace rbe {

namespace {

void check_config(const ModelConfig& c) {
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) throw ConfigError(std::string("GPT2Model: ") + name + " must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", c.vocab_size);
  positive("n_positions", c.n_positions);
  positive("n_embd", c.n_embd);
  positive("n_layer", c.n_layer);
  positive("n_head", c.n_head);
  if (c.n_embd % c.n_head != 0)
    throw ConfigError("GPT2Model: n_embd (" + std::to_string(c.n_embd) + ") is not divisible by n_head (" +
                      std::to_string(c.n_head) + ")");
  if (!(c.dropout >= 0.f && c.dropout < 1.f))
    throw ConfigError("GPT2Model: dropout must be in [0, 1), got " + std::to_string(c.dropout));
  try {
    nn::F::activation_from_name(c.activation_function);
  } catch (const ShapeError& e) {
    throw ConfigError(std::string("GPT2Model: activation_function: ") + e.what());
  }
  // An absurd size (a damaged config, say) must fail here with a message,
  // not in the allocator or after a long stall building 10^9 blocks.
  const double bytes = 4 * c.parameter_count(), memory = machine_memory_bytes();
  if (memory > 0 && bytes > memory) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "%.4g parameters (%.3g GB as f32), more than this machine's memory (%.3g GB)",
                  c.parameter_count(), bytes / 1e9, memory / 1e9);
    throw ConfigError(std::string("GPT2Model: the config describes ") + msg);
  }
}

// ids must be [B, T] I32 with 1 <= T and start + T <= n_positions.
void check_ids(const char* op, const Tensor& ids, int64_t start, int64_t n_positions) {
  if (!ids.defined() || ids.dtype() != DType::I32 || ids.dim() != 2 || ids.size(0) < 1 || ids.size(1) < 1)
    throw ShapeError(std::string(op) + ": ids must be a non-empty [B, T] I32 tensor, got " +
                     (ids.defined() ? std::string(dtype_name(ids.dtype())) + " " + shape_str(ids.shape()) : "undefined"));
  if (start + ids.size(1) > n_positions)
    throw ShapeError(std::string(op) + ": sequence of " + std::to_string(ids.size(1)) + " tokens" +
                     (start ? " after " + std::to_string(start) + " cached" : std::string()) +
                     " exceeds the context length n_positions = " + std::to_string(n_positions));
}

}  // namespace

GPT2Model::GPT2Model(const ModelConfig& config, uint64_t seed) : config_(config), dropout_rng_(nn::derive_seed(seed, 7)) {
  check_config(config_);
  const ModelConfig& c = config_;
  const float std = 0.02f, proj_std = 0.02f / std::sqrt(2.f * float(c.n_layer));
  wte_ = register_module("wte", std::make_shared<nn::Embedding>(c.vocab_size, c.n_embd, nn::derive_seed(seed, 0), std));
  wpe_ = register_module("wpe", std::make_shared<nn::Embedding>(c.n_positions, c.n_embd, nn::derive_seed(seed, 1), std));
  nn::BlockConfig bc;
  bc.n_embd = c.n_embd;
  bc.n_head = c.n_head;
  bc.eps = c.layer_norm_epsilon;
  bc.activation = c.activation_function;
  bc.pre_ln = c.pre_ln;
  bc.dropout = c.dropout;
  bc.init_std = std;
  bc.proj_init_std = proj_std;
  for (int64_t i = 0; i < c.n_layer; ++i)
    blocks_.push_back(register_module("h." + std::to_string(i),
                                      std::make_shared<nn::TransformerBlock>(bc, nn::derive_seed(seed, 100 + uint64_t(i)))));
  ln_f_ = register_module("ln_f", std::make_shared<nn::LayerNorm>(c.n_embd, c.layer_norm_epsilon));
  if (!c.tie_word_embeddings)
    lm_head_ = register_module("lm_head", std::make_shared<nn::Linear>(c.n_embd, c.vocab_size, false,
                                                                       nn::derive_seed(seed, 2), std));
}

bool MatrixStorage::keeps_f32(const std::string& name) const {
  return std::find(keep_f32.begin(), keep_f32.end(), name) != keep_f32.end();
}

std::unique_ptr<GPT2Model> GPT2Model::for_loading(const ModelConfig& config, const std::string& source,
                                                  const MatrixStorage& matrices, double stored_weights) {
  try {
    check_config(config);  // its own errors (a bad value, more than the machine's memory) first
    // Twice, not once: a file a tensor short still reaches the loader's
    // message naming the missing tensor.
    if (stored_weights >= 0 && config.parameter_count() > 2 * stored_weights) {
      char msg[160];
      std::snprintf(msg, sizeof msg,
                    "GPT2Model: the config describes %.4g parameters, more than twice the %.4g weights stored with it",
                    config.parameter_count(), stored_weights);
      throw ConfigError(msg);
    }
    std::unique_ptr<GPT2Model> model;
    {
      nn::SkipInitGuard no_init;
      model = std::make_unique<GPT2Model>(config);
    }
    // The f32 storage was never written: nothing to convert, and its pages cost nothing.
    if (matrices.dtype != DType::F32) model->cast_matrices(matrices, CastValues::Uninitialised);
    return model;
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": " + e.what());
  } catch (const std::bad_alloc&) {
    char gb[32];
    std::snprintf(gb, sizeof gb, "%.3g", 4 * config.parameter_count() / 1e9);
    throw ConfigError(source + ": not enough memory for the model it describes (" + gb + " GB as f32)");
  }
}

namespace {

// The compressed weight a Linear or an Embedding runs from (null: none, or another module).
const std::shared_ptr<const nn::PackedMatrix>* packed_of(const nn::Module& m) {
  if (const auto* lin = dynamic_cast<const nn::Linear*>(&m)) return &lin->packed();
  if (const auto* emb = dynamic_cast<const nn::Embedding*>(&m)) return &emb->packed();
  return nullptr;
}

void set_packed_of(nn::Module& m, std::shared_ptr<const nn::PackedMatrix> p) {
  if (auto* lin = dynamic_cast<nn::Linear*>(&m)) lin->set_packed(std::move(p));
  if (auto* emb = dynamic_cast<nn::Embedding*>(&m)) emb->set_packed(std::move(p));
}

}  // namespace

std::unordered_set<std::string> GPT2Model::packed_weight_names() const {
  std::unordered_set<std::string> out;
  for (const auto& [name, m] : named_modules())
    if (const auto* p = packed_of(*m); p && *p) out.insert(name + ".weight");
  return out;
}

DType GPT2Model::kv_cache_dtype_for_matrices() const {
  for (const auto& [name, m] : named_modules())
    if (const auto* p = packed_of(*m); p && *p) return DType::F16;
  for (const auto& [name, t] : named_parameters())
    if (t.dim() >= 2 && t.dtype() != DType::F32) return DType::F16;
  return DType::F32;
}

int64_t GPT2Model::cast_matrices(const MatrixStorage& matrices, CastValues values) {
  const std::unordered_set<std::string> packed = packed_weight_names();
  return cast_parameters(
      matrices.dtype,
      [&](const std::string& name, const Tensor& t) {
        return t.dim() >= 2 && !packed.count(name) && !matrices.keeps_f32(name);
      },
      values);
}

std::unique_ptr<GPT2Model> GPT2Model::inference_copy(DType matrices) const {
  std::unique_ptr<GPT2Model> out = for_loading(config_, "inference_copy");
  // Share the packed layers first, so that cast_matrices leaves their unused
  // dense weights alone (uninitialised and untouched, as the loaders leave them).
  std::unordered_map<std::string, std::shared_ptr<nn::Module>> modules;
  for (auto& [name, m] : out->named_modules()) modules.emplace(name, m);
  std::unordered_set<std::string> packed;
  for (const auto& [name, m] : named_modules())
    if (const auto* p = packed_of(*m); p && *p) {
      set_packed_of(*modules.at(name), *p);
      packed.insert(name + ".weight");
    }
  if (matrices != DType::F32) out->cast_matrices(matrices, CastValues::Uninitialised);  // every one is copied below
  std::unordered_map<std::string, Tensor> params;
  for (auto& [name, t] : out->named_parameters()) params.emplace(name, t);
  for (const auto& [name, t] : named_parameters()) {
    if (packed.count(name)) continue;
    Tensor dst = params.at(name);
    ops::copy_(dst, t);  // converts to the copy's dtype
  }
  out->kv_dtype_ = kv_dtype_;
  out->eval();
  return out;
}

Tensor GPT2Model::head(const Tensor& x) const {
  // Tied: the same wte tensor is used twice, so its gradient sums both uses.
  if (lm_head_) return lm_head_->forward(x);
  return wte_->packed() ? nn::F::linear_packed(x, *wte_->packed()) : nn::F::linear(x, wte_->weight);
}

Tensor GPT2Model::embed(const Tensor& ids, int64_t pos_offset) const {
  if (wte_->packed()) return nn::F::token_position_embedding_packed(*wte_->packed(), wpe_->weight, ids, pos_offset);
  return nn::F::token_position_embedding(wte_->weight, wpe_->weight, ids, pos_offset);
}

Tensor GPT2Model::embed_padded(const Tensor& ids, const nn::KVCache& cache) const {
  const int64_t B = ids.size(0), T = ids.size(1), C = config_.n_embd, L = cache.length;
  Tensor idc = ids.contiguous();
  Tensor x = Tensor::zeros({B, T, C});
  for (int64_t b = 0; b < B; ++b) {
    // Tokens t0.. of this row are real, at its own positions L + t0 - row_start[b] ...
    const int64_t start = cache.row_start[size_t(b)], t0 = std::clamp<int64_t>(start - L, 0, T);
    if (t0 == T) continue;
    const int32_t* row = idc.data<int32_t>() + b * T;
    Tensor part = embed(Tensor::from_vector(std::vector<int32_t>(row + t0, row + T), {1, T - t0}), L + t0 - start);
    std::memcpy(x.data<float>() + (b * T + t0) * C, part.data<float>(), size_t((T - t0) * C) * sizeof(float));
  }
  return x;
}

Tensor GPT2Model::forward(const Tensor& ids) {
  check_ids("GPT2Model::forward", ids, 0, config_.n_positions);
  const uint64_t step_seed = dropout_rng_.next_u64();
  const bool training = is_training();
  Tensor x = embed(ids, 0);  // [B, T, C]
  x = nn::F::dropout(x, config_.dropout, training, nn::derive_seed(step_seed, 1000));
  const bool ckpt = checkpointing_ && grad_enabled();
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const uint64_t s = nn::derive_seed(step_seed, i);
    if (ckpt) {
      std::shared_ptr<nn::TransformerBlock> blk = blocks_[i];
      x = checkpoint([blk, s](const std::vector<Tensor>& in) { return blk->forward(in[0], s); }, {x});
    } else {
      x = blocks_[i]->forward(x, s);
    }
  }
  return head(ln_f_->forward(x));  // [B, T, V]
}

nn::KVCache GPT2Model::make_cache(int64_t batch, int64_t max_length) const {
  if (max_length > config_.n_positions)
    throw ShapeError("GPT2Model::make_cache: max_length " + std::to_string(max_length) +
                     " exceeds n_positions = " + std::to_string(config_.n_positions));
  return nn::KVCache(config_.n_layer, batch, config_.n_head, max_length, config_.head_dim(), kv_dtype_);
}

void GPT2Model::set_kv_cache_dtype(DType dtype) {
  nn::KVCache::check_dtype(dtype, "GPT2Model::set_kv_cache_dtype");
  kv_dtype_ = dtype;
}

// The blocks of a decoding step on row buffers (nn/decode_step.h): x [B, 1,
// C] in place. False, with nothing done, when a block does not allow it.
bool GPT2Model::step_on_buffers(Tensor& x, nn::KVCache& cache) const {
  if (!nn::buffer_steps_enabled()) return false;
  std::vector<nn::BlockRows> rows;
  rows.reserve(blocks_.size());
  int64_t scratch_floats = 0;
  const int64_t B = x.size(0);
  nn::prefetch_block_rows(blocks_);
  for (const auto& block : blocks_) {
    std::optional<nn::BlockRows> r = nn::block_rows(*block);
    if (!r || r->width != x.size(2)) return false;
    scratch_floats = std::max(scratch_floats, nn::block_step_scratch(*r, B));
    rows.push_back(*r);
  }
  if (x.dtype() != DType::F32 || !x.is_contiguous()) x = x.to(DType::F32).contiguous();  // embed's own, fresh
  const std::unique_ptr<float[]> scratch(new float[size_t(scratch_floats)]);  // every op writes before it reads
  for (size_t i = 0; i < blocks_.size(); ++i)
    nn::block_step(*blocks_[i], rows[i], x.data<float>(), B, cache, int64_t(i), scratch.get());
  nn::count_buffer_step();
  return true;
}

Tensor GPT2Model::forward_cached(const Tensor& ids, nn::KVCache& cache, int64_t last) {
  NoGradGuard no_grad;
  const char* op = "GPT2Model::forward_cached";
  check_ids(op, ids, cache.length, config_.n_positions);
  if (cache.n_layer() != config_.n_layer || ids.size(0) != cache.batch)
    throw ShapeError(std::string(op) + ": cache (" + std::to_string(cache.n_layer()) + " layers, batch " +
                     std::to_string(cache.batch) + ") does not fit the model (" + std::to_string(config_.n_layer) +
                     " layers) and ids " + shape_str(ids.shape()));
  if (cache.length + ids.size(1) > cache.max_length)
    throw ShapeError(std::string(op) + ": " + std::to_string(ids.size(1)) + " new tokens after " +
                     std::to_string(cache.length) + " cached exceed the cache length " + std::to_string(cache.max_length));
  if (int64_t(cache.row_start.size()) != cache.batch)
    throw ShapeError(std::string(op) + ": cache.row_start has " + std::to_string(cache.row_start.size()) +
                     " entries for a batch of " + std::to_string(cache.batch));
  for (int64_t s : cache.row_start)
    if (s < 0) throw ShapeError(std::string(op) + ": negative cache.row_start " + std::to_string(s));
  if (last < 0) throw ShapeError(std::string(op) + ": negative last " + std::to_string(last));
  const bool padded = std::any_of(cache.row_start.begin(), cache.row_start.end(), [](int64_t s) { return s > 0; });
  // A decoding step of up to 8 rows is all matrix-vector products and short
  // loops: threads held for the step (spin_pool.h). Longer inputs go through
  // the GEMM, on oneTBB.
  std::optional<kernels::SpinScope> held;
  if (ids.size(1) == 1 && ids.size(0) <= 8) held.emplace();
  Tensor x;
  {
    op_timer::Scope timer("embed");
    x = padded ? embed_padded(ids, cache) : embed(ids, cache.length);
  }
  if (!(held && step_on_buffers(x, cache)))
    for (size_t i = 0; i < blocks_.size(); ++i) x = blocks_[i]->forward_cached(x, cache, int64_t(i));
  const int64_t T = ids.size(1);
  if (last > 0 && last < T) x = rbe::slice(x, 1, T - last, T).contiguous();
  {
    op_timer::Scope timer("layer norm");
    x = ln_f_->forward(x);
  }
  op_timer::Scope timer("head");
  Tensor logits = head(x);
  cache.length += T;
  return logits;
}

}  // namespace rbe
