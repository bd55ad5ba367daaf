#pragma once
// A checkpoint is a folder (see docs/formats.md):
//   model.safetensors      weights by parameter name (F32)
//   config.json            ModelConfig
//   tokenizer.json         char tokenizer (only when config.tokenizer == "char")
//   optimizer.safetensors  AdamW moments "m.<param>", "v.<param>"   } only in
//   train_state.json       step, seed, optimizer step count, options } training checkpoints
// Every file is written under a temporary name and renamed into place.
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/char_tokenizer.h"
#include "models/gpt2.h"
#include "train/adamw.h"

namespace rbe::ckpt {

// Thrown for missing files and weights that do not fit the model; names the file and tensor.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where training stopped. Batches are drawn from an Rng seeded by (seed, step),
// so (seed, step) is the whole data-order state.
struct TrainState {
  int64_t step = 0;
  uint64_t seed = 0;
  int64_t optimizer_steps = 0;  // AdamW's step count (bias correction); filled by read/load
  nlohmann::json options = nlohmann::json::object();  // training options, for the record
};

// tokenizer: required when model.config().tokenizer == "char".
// optimizer and state: both or neither (for resumable checkpoints).
void save(const std::string& dir, const GPT2Model& model, const CharTokenizer* tokenizer,
          const AdamW* optimizer = nullptr, const TrainState* state = nullptr);

struct Loaded {
  ModelConfig config;
  std::unique_ptr<GPT2Model> model;
  std::optional<CharTokenizer> tokenizer;  // set for char-tokenizer models
};

// Reads config.json, tokenizer.json (if char) and model.safetensors.
Loaded load(const std::string& dir);

// Builds the model `config` describes and reads dir/model.safetensors into it
// (load_weights); `matrices` as for GPT2Model::for_loading. Throws
// CheckpointError for a missing file.
std::unique_ptr<GPT2Model> read_model(const std::string& dir, const ModelConfig& config,
                                      const MatrixStorage& matrices = {});

// Copies weights from an opened safetensors file into model by parameter
// name (converting F16/BF16 to F32). Missing, unexpected or mis-shaped tensors
// throw. The caller opens the file once: for_loading counts its weights first.
void load_weights(GPT2Model& model, const safetensors::File& file);

bool has_train_state(const std::string& dir);
// Reads train_state.json; throws CheckpointError if absent or malformed.
TrainState read_train_state(const std::string& dir);
// Restores the optimizer moments and returns the train state; throws if absent.
TrainState load_train_state(const std::string& dir, AdamW& optimizer);

}  // namespace rbe::ckpt
