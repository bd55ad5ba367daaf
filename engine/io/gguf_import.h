#pragma once
// The reverse of gguf_export.h: a GGUF file of architecture "gpt2" (ours or
// llama.cpp's convert_hf_to_gguf.py / llama-quantize output; F32, F16, Q8_0
// and Q4_0 tensors) -> ModelConfig, GPT2Model and GPT2Tokenizer.
// output.weight equal to token_embd.weight (or absent) gives a tied model.
//
// Q8_0 / Q4_0 matrices are decoded to dense parameters, or, with
// GgufImportOptions::pack, attached to their Linear / token embedding as
// packed matrices that run straight from the file's blocks (io/ cannot make
// one itself: codec::make_packed does; codec::load_any_model passes it).
#include <functional>
#include <memory>
#include <string>

#include "io/gguf.h"
#include "models/gpt2.h"
#include "models/gpt2_tokenizer.h"
#include "models/model_config.h"
#include "nn/packed_matrix.h"

namespace rbe {

struct GgufModel {
  ModelConfig config;
  std::unique_ptr<GPT2Model> model;
  std::unique_ptr<GPT2Tokenizer> tokenizer;
};

// A Q8_0 / Q4_0 weight matrix as the file stores it: rows * cols / 32 ggml
// blocks, rows in order, inside the file's mapping (keepalive holds it).
struct GgufQuantizedMatrix {
  std::string param;  // our parameter name: "h.0.attn.c_attn.weight", "wte.weight", "lm_head.weight"
  gguf::GgmlType type = gguf::GgmlType::Q8_0;
  int64_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;
  uint64_t size = 0;  // rows * cols / 32 * (34 or 18)
  std::shared_ptr<const void> keepalive;
};

struct GgufImportOptions {
  // Empty: every tensor is decoded to F32. Set: called for each quantized
  // Linear weight and token embedding, whose dense parameter is then left
  // unset (never read: the layer runs from the packed matrix).
  std::function<std::shared_ptr<const nn::PackedMatrix>(const GgufQuantizedMatrix&)> pack;
  // The dtype of the dense matrices (GPT2Model::cast_matrices), converted
  // straight from the file's: F16 loads an F16 file with no f32 copy.
  MatrixStorage matrices = DType::F32;
};

// Throws gguf::FormatError (io/gguf.h) naming the file and the key or tensor
// for files that are malformed, not gpt2, or not expressible as our GPT-2
// (feed_forward_length other than 4 * embedding_length, missing or mis-shaped
// tensors, a quantized block with a non-finite scale).
GgufModel import_gguf(const std::string& path, const GgufImportOptions& options = {});

}  // namespace rbe
