#pragma once
// GPT-2: token + learned position embeddings, n_layer transformer blocks,
// final LayerNorm, and an output head tied to the token embedding (unless
// tie_word_embeddings is false). Parameter names follow HuggingFace GPT-2
// (wte.weight, wpe.weight, h.N.ln_1.weight, h.N.attn.c_attn.weight, ...),
// but every Linear weight is stored [out, in] (HF's Conv1D stores [in, out];
// loaders transpose).
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "models/model_config.h"
#include "nn/module.h"
#include "nn/transformer.h"

namespace rbe {

// How a loader stores a model's matrices (the 2-D weights cast_matrices
// converts): `dtype`, except the parameters named in `keep_f32`, which stay
// F32 (a GGUF export keeps the position table f32, as llama.cpp's converter
// does). A plain DType converts to it, with nothing kept.
struct MatrixStorage {
  DType dtype = DType::F32;
  std::vector<std::string> keep_f32;
  MatrixStorage(DType d = DType::F32, std::vector<std::string> keep = {})  // NOLINT: implicit on purpose
      : dtype(d), keep_f32(std::move(keep)) {}
  bool keeps_f32(const std::string& name) const;
};

class GPT2Model : public nn::Module {
 public:
  // Weights initialised as GPT-2 does (normal 0.02; residual projections scaled
  // by 1/sqrt(2*n_layer)), from the seed.
  // Throws ConfigError for a bad config, or one whose f32 parameters exceed
  // this machine's memory (physical plus swap).
  GPT2Model(const ModelConfig& config, uint64_t seed = 1337);
  // For a loader that fills every parameter from a file next: the weights are
  // left uninitialised (nn::SkipInitGuard), and a bad config or a failed
  // allocation throws ConfigError naming `source` (the file the config came
  // from). `matrices` F16: the matrices are f16 from the start
  // (Module::cast_parameters, in one buffer), for a model loaded for
  // inference in f16. `stored_weights` (when >= 0): how many weights the
  // file(s) hold; a config that describes more than twice as many parameters
  // is refused before anything is allocated (a damaged vocab_size or n_layer
  // in a small file would otherwise reserve the model's memory first).
  static std::unique_ptr<GPT2Model> for_loading(const ModelConfig& config, const std::string& source,
                                                const MatrixStorage& matrices = {}, double stored_weights = -1);

  const ModelConfig& config() const { return config_; }

  // Converts the dense matrices (Module::cast_parameters' default set: Linear
  // and embedding weights) to `matrices.dtype`, leaving out those named in
  // `matrices.keep_f32` and the dense weights of packed layers: they are never
  // read, and converting them would only fill memory. Returns how many tensors
  // were converted. values: as cast_parameters' (Uninitialised for matrices
  // never written, as for_loading leaves them).
  int64_t cast_matrices(const MatrixStorage& matrices, CastValues values = CastValues::Convert);

  // Names (as named_parameters gives them) of the dense weights of packed layers.
  std::unordered_set<std::string> packed_weight_names() const;

  // A second model for inference with the same weights, its dense matrices
  // stored as `matrices` (F32 or F16, exactly as cast_matrices converts them;
  // norms and biases stay f32). Packed (compressed) layers are shared with this
  // model, not copied. This model is left as it is. The copy is in eval mode,
  // with this model's KV cache dtype.
  std::unique_ptr<GPT2Model> inference_copy(DType matrices) const;

  // ids: [B, T] I32 with T <= n_positions. Returns logits [B, T, vocab_size].
  // Records the graph when gradients are enabled.
  Tensor forward(const Tensor& ids);

  // Recompute each block in backward instead of storing its activations.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }

  // Inference with a KV cache: ids [B, T_new] at positions cache.length ...;
  // returns logits [B, T_new, vocab_size] and advances the cache. Row b of a
  // left-padded batch (cache.row_start[b] > 0) gets position ids pos -
  // row_start[b]; its padded tokens are never looked up (their embeddings are
  // zero) and their logits are finite but meaningless. last > 0: logits of
  // the last `last` positions only, [B, min(last, T_new), vocab_size] (1 is
  // what generation needs, the scored tail of a window what perplexity
  // needs: the head is a large share of a prompt's cost).
  nn::KVCache make_cache(int64_t batch, int64_t max_length) const;
  Tensor forward_cached(const Tensor& ids, nn::KVCache& cache, int64_t last = 0);
  // Storage of the caches make_cache() builds from now on: F32 (the default,
  // exact) or F16 (half the memory and half the cache reads of each decoded
  // token; keys and values rounded to f16). Throws for other dtypes.
  void set_kv_cache_dtype(DType dtype);
  DType kv_cache_dtype() const { return kv_dtype_; }
  // The cache storage that goes with the matrices (the CLIs' --kv-cache
  // auto): F32 when every matrix is dense f32 (the exact path), F16 when any
  // is f16 or packed (lower precision chosen already; llama.cpp caches in f16
  // whatever the weights).
  DType kv_cache_dtype_for_matrices() const;

 private:
  Tensor embed(const Tensor& ids, int64_t pos_offset) const;  // wte[ids] + wpe[positions]
  Tensor embed_padded(const Tensor& ids, const nn::KVCache& cache) const;  // per-row positions
  Tensor head(const Tensor& x) const;  // x: [B, T, C] -> logits [B, T, V]
  bool step_on_buffers(Tensor& x, nn::KVCache& cache) const;  // a decoding step's blocks (nn/decode_step.h)

  ModelConfig config_;
  bool checkpointing_ = false;
  DType kv_dtype_ = DType::F32;
  Rng dropout_rng_;  // one dropout seed per forward()
  std::shared_ptr<nn::Embedding> wte_;
  std::shared_ptr<nn::Embedding> wpe_;
  std::vector<std::shared_ptr<nn::TransformerBlock>> blocks_;
  std::shared_ptr<nn::LayerNorm> ln_f_;
  std::shared_ptr<nn::Linear> lm_head_;  // null when tied
};

}  // namespace rbe
