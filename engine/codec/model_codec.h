#pragma once
// Compress a whole model, tensor by tensor, and run a model from compressed
// tensors. Matrices (Linear weights, the token embedding / tied head) are
// encoded; norms, biases and position embeddings are kept raw (F32).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "io/model_loader.h"

namespace rbe::codec {

struct TensorOverride {
  std::string pattern;     // glob on the tensor name: "h.*.mlp.*", "wte.weight"
  CodecSettings settings;  // used instead of the default for matching tensors
};

struct ModelCodecOptions {
  CodecSettings defaults;
  std::vector<TensorOverride> overrides;  // first match wins
  std::string calib_text;                 // calibration text (empty: none)
  int64_t calib_tokens = 4096;
};

// What compress_model produces: per tensor either an encoding or a raw tensor.
struct CompressedModel {
  ModelConfig config;
  nlohmann::json tokenizer;  // Tokenizer serialised (rbe_file stores it)
  std::vector<std::pair<std::string, std::shared_ptr<const EncodedTensor>>> encoded;  // in model order
  std::vector<std::pair<std::string, Tensor>> raw;
  nlohmann::json settings;  // the options used (defaults, overrides, calibration), as stored in the file
  nlohmann::json report() const;  // per tensor + whole model (bits/weight with everything counted)
};

CompressedModel compress_model(const LoadedModel& m, const ModelCodecOptions& opt, const ProgressFn& progress = {},
                               const CancelFn& cancel = {});
// The same from a model nothing needs afterwards (rbe-convert): each matrix's
// values are freed as soon as it is encoded (unless calibrating, which runs
// the model to the end), so that the peak memory is about the model's rather
// than the model's plus the whole output's. m keeps its modules, but those
// matrices are left empty ([0]).
CompressedModel compress_model(LoadedModel&& m, const ModelCodecOptions& opt, const ProgressFn& progress = {},
                               const CancelFn& cancel = {});

// Installs compressed weights into a model built from `cm.config`: packed
// matrices on Linear / Embedding layers, raw tensors copied in.
LoadedModel instantiate(const CompressedModel& cm);

// Opens any model: .rbe files (rbe_file.h; format "rbe"), .gguf files
// (io/gguf_import.h; format "gguf") and everything io::load_model opens.
// Errors name the path. `matrices` F16: the dense matrices (but those it
// keeps f32) in f16 (inference only), read straight into f16 from folders
// and GGUF files, cast after loading from .rbe files.
LoadedModel load_any_model(const std::string& path, const MatrixStorage& matrices = {});

}  // namespace rbe::codec
