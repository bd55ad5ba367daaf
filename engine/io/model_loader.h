#pragma once
// One entry point to open a model from disk, whatever its format:
//   - our checkpoint folder (config.json with our keys, model.safetensors with
//     [out, in] Linear weights, tokenizer.json or vocab.json + merges.txt);
//   - a HuggingFace GPT-2 folder (config.json, model.safetensors or sharded
//     model.safetensors.index.json, vocab.json, merges.txt; Conv1D [in, out]
//     weights, names with or without the "transformer." prefix, tied lm_head).
// pytorch_model.bin is refused (never unpickled) with a message saying how to
// get safetensors.
#include <memory>
#include <string>

#include "models/gpt2.h"
#include "models/model_config.h"
#include "models/tokenizer.h"

namespace rbe {

struct LoadedModel {
  ModelConfig config;
  std::unique_ptr<GPT2Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;  // shared with copies of the model (GPT2Model::inference_copy)
  std::string format;  // "rbe-checkpoint" or "hf" here; codec::load_any_model adds "rbe" and "gguf"
};

// Throws std::runtime_error (or a subclass) whose message names the file and,
// where relevant, the tensor or config key. `matrices`: F32, or F16 to read
// every matrix (but those it keeps f32) straight into f16 (inference only:
// Module::cast_parameters).
LoadedModel load_model(const std::string& path, const MatrixStorage& matrices = {});

}  // namespace rbe
