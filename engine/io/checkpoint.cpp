#include "io/checkpoint.h"

#include <filesystem>
#include <map>
#include <set>

#include "io/json_integer.h"
#include "io/safetensors.h"
#include "tensor/atomic_file.h"
#include "tensor/ops.h"

namespace rbe::ckpt {

namespace fs = std::filesystem;
using nlohmann::json;

static std::string join(const std::string& dir, const char* name) { return (fs::path(dir) / name).string(); }

void save(const std::string& dir, const GPT2Model& model, const CharTokenizer* tokenizer, const AdamW* optimizer,
          const TrainState* state) {
  const ModelConfig& config = model.config();
  if (config.tokenizer == "char" && !tokenizer)
    throw CheckpointError(dir + ": a char-tokenizer model needs its tokenizer to be saved");
  if (tokenizer && tokenizer->size() != config.vocab_size)
    throw CheckpointError(dir + ": tokenizer has " + std::to_string(tokenizer->size()) +
                          " tokens but config.vocab_size is " + std::to_string(config.vocab_size));
  if (bool(optimizer) != bool(state))
    throw CheckpointError(dir + ": optimizer state and train state must be saved together");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw CheckpointError(dir + ": cannot create folder: " + ec.message());

  safetensors::save(join(dir, "model.safetensors"), model.named_parameters(), {{"format", "pt"}});
  config.save(join(dir, "config.json"));
  if (tokenizer) tokenizer->save(join(dir, "tokenizer.json"));
  if (optimizer) {
    safetensors::save(join(dir, "optimizer.safetensors"), optimizer->state_tensors(),
                      {{"step_count", std::to_string(optimizer->step_count())}});
    json j = {{"step", state->step},
              {"seed", state->seed},
              {"optimizer_step_count", optimizer->step_count()},
              {"options", state->options}};
    write_file_atomic(join(dir, "train_state.json"), j.dump(2) + "\n");
  }
}

void load_weights(GPT2Model& model, const safetensors::File& file) {
  const std::string& path = file.path();
  std::set<std::string> used;
  for (auto& [name, param] : model.named_parameters()) {
    if (!file.contains(name)) throw CheckpointError(path + ": missing tensor '" + name + "'");
    Tensor src = file.tensor(name);
    if (src.shape() != param.shape())
      throw CheckpointError(path + ": tensor '" + name + "' has shape " + shape_str(src.shape()) +
                            " but the model expects " + shape_str(param.shape()));
    if (src.dtype() == DType::I32 || src.dtype() == DType::Bool)
      throw CheckpointError(path + ": tensor '" + name + "' has dtype " + dtype_name(src.dtype()) +
                            ", expected a float type");
    Tensor dst = param;
    ops::copy_(dst, src);
    src = Tensor();
    file.release(name);  // so that the file's pages and the model's do not add up
    used.insert(name);
  }
  for (auto& info : file.tensors())
    if (!used.count(info.name)) throw CheckpointError(path + ": unexpected tensor '" + info.name + "'");
}

Loaded load(const std::string& dir) {
  if (!fs::is_directory(dir)) throw CheckpointError(dir + ": not a checkpoint folder (no such directory)");
  Loaded out;
  out.config = ModelConfig::load(join(dir, "config.json"));
  if (out.config.tokenizer == "char") {
    out.tokenizer = CharTokenizer::load(join(dir, "tokenizer.json"));
    if (out.tokenizer->size() != out.config.vocab_size)
      throw CheckpointError(dir + ": tokenizer.json has " + std::to_string(out.tokenizer->size()) +
                            " tokens but config.json says vocab_size " + std::to_string(out.config.vocab_size));
  }
  out.model = read_model(dir, out.config);
  return out;
}

std::unique_ptr<GPT2Model> read_model(const std::string& dir, const ModelConfig& config,
                                      const MatrixStorage& matrices) {
  const std::string path = join(dir, "model.safetensors");
  if (!fs::exists(path)) throw CheckpointError(dir + ": missing model.safetensors");
  const safetensors::File weights = safetensors::File::open(path);
  // Every parameter is read from the file below.
  auto model = GPT2Model::for_loading(config, join(dir, "config.json"), matrices, weights.element_count());
  load_weights(*model, weights);
  return model;
}

bool has_train_state(const std::string& dir) {
  return fs::exists(join(dir, "train_state.json")) && fs::exists(join(dir, "optimizer.safetensors"));
}

TrainState read_train_state(const std::string& dir) {
  const std::string state_path = join(dir, "train_state.json");
  if (!has_train_state(dir))
    throw CheckpointError(dir + ": no training state (train_state.json and optimizer.safetensors) to resume from");
  json j;
  try {
    j = json::parse(read_file(state_path));
  } catch (const json::parse_error& e) {
    throw CheckpointError(state_path + ": invalid JSON: " + e.what());
  }
  TrainState s;
  try {
    using E = CheckpointError;
    s.step = json_integer<int64_t, E>(j.at("step"), state_path + ": step");
    s.seed = json_integer<uint64_t, E>(j.at("seed"), state_path + ": seed");
    s.optimizer_steps = json_integer<int64_t, E>(j.at("optimizer_step_count"), state_path + ": optimizer_step_count");
    if (j.contains("options")) s.options = j["options"];
  } catch (const json::exception& e) {
    throw CheckpointError(state_path + ": " + e.what());
  }
  return s;
}

TrainState load_train_state(const std::string& dir, AdamW& optimizer) {
  TrainState s = read_train_state(dir);
  const std::string opt_path = join(dir, "optimizer.safetensors");
  safetensors::File file = safetensors::File::open(opt_path);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& info : file.tensors()) tensors.emplace_back(info.name, file.tensor(info.name));
  try {
    optimizer.load_state(tensors, s.optimizer_steps);
  } catch (const std::runtime_error& e) {
    throw CheckpointError(opt_path + ": " + e.what());
  }
  return s;
}

}  // namespace rbe::ckpt
