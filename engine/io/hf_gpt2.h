#pragma once
// HuggingFace GPT-2 folders (see docs/hf-models.md):
//   config.json                      HF keys (n_layer, n_embd, n_head, n_positions, ...)
//   model.safetensors                or model.safetensors.index.json + shards
//   vocab.json, merges.txt           the byte-level BPE tokenizer (optional here)
// Tensor names may carry the "transformer." prefix; Conv1D weights (c_attn,
// c_proj, c_fc, mlp.c_proj) are stored [in, out] and transposed to our Linear
// [out, in]; lm_head.weight is absent or equal to wte.weight when tied; the
// attn.bias / attn.masked_bias buffers are ignored; F16/BF16 become F32.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "io/safetensors.h"
#include "models/gpt2.h"
#include "models/gpt2_tokenizer.h"
#include "models/model_config.h"

namespace rbe::hf {

// Thrown for folders and weights that are not a usable HF GPT-2 model; the
// message names the file and, where relevant, the tensor or key.
class HfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "rbe-checkpoint" when dir/config.json carries our own keys ("tokenizer" or
// "pre_ln", which HF never writes), else "hf". HF folders may hold a
// tokenizer.json too (HF's fast-tokenizer file), so that file decides nothing.
// Throws ConfigError when config.json is missing or not JSON.
std::string detect_format(const std::string& dir);

// The config of either format.
ModelConfig read_any_config(const std::string& dir);

// HF config.json -> ModelConfig (tokenizer "gpt2"). Unknown keys are ignored;
// missing required keys and GPT-2 variants we do not implement (n_inner other
// than 4*n_embd, scale_attn_weights false, scale_attn_by_inverse_layer_idx,
// cross-attention) throw ConfigError naming the file and key.
ModelConfig read_config(const std::string& config_path);

// The config in HF's keys (what save() writes as config.json).
nlohmann::json config_to_json(const ModelConfig& config);

// The weights of a folder: model.safetensors, else model.safetensors.index.json.
// A folder with only pytorch_model.bin is refused (never unpickled) with a
// message on how to get safetensors.
safetensors::ShardedFile open_weights(const std::string& dir);

// The message used for folders that only have PyTorch pickles.
std::string pickle_refusal(const std::string& dir);

// Copies the HF tensors into model (built from the matching config). Missing,
// unexpected, duplicated or mis-shaped tensors throw HfError naming tensor and file.
void load_weights(GPT2Model& model, const safetensors::ShardedFile& weights);

// Reads config.json and the weights of an HF folder (not the tokenizer).
// `matrices`: F32, or F16 to read every matrix (but those it keeps f32)
// straight into f16 (GPT2Model::for_loading): no f32 copy of them is ever filled.
std::unique_ptr<GPT2Model> load(const std::string& dir, ModelConfig* config_out = nullptr,
                                const MatrixStorage& matrices = {});

struct TokenizerFiles {
  std::string vocab_json;  // contents of vocab.json (encoder.json)
  std::string merges_txt;  // contents of merges.txt (vocab.bpe)
};
// Reads vocab.json + merges.txt from dir (HF names), or encoder.json +
// vocab.bpe (OpenAI's names) when those are absent. Throws HfError.
TokenizerFiles read_tokenizer_files(const std::string& dir);
// The two files of a tokenizer (one loaded from GGUF metadata, say): vocab.json
// with the tokens in id order, as HF writes it, and merges.txt.
TokenizerFiles tokenizer_files(const GPT2Tokenizer& tokenizer);

// Writes an HF GPT-2 folder that transformers' GPT2LMHeadModel.from_pretrained
// loads: config.json, model.safetensors (or shards of at most max_shard_bytes
// when > 0), and vocab.json + merges.txt when tokenizer is given. Weights are
// `dtype` (F32, F16 or BF16; transformers reads each), Conv1D ones [in, out],
// converted one tensor at a time as the file is written. Tied models are
// written without the "transformer." prefix (as the hub's gpt2 files); untied
// ones with it, next to lm_head.weight (as save_pretrained writes). Post-LN
// models cannot be expressed in HF's GPT-2 and are refused.
void save(const std::string& dir, const GPT2Model& model, const TokenizerFiles* tokenizer,
          uint64_t max_shard_bytes = 0, DType dtype = DType::F32);

// True for HF's Conv1D weights, which are stored [in, out].
bool is_conv1d_weight(const std::string& name);

}  // namespace rbe::hf
