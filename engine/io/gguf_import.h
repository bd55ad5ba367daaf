#pragma once
// The reverse of gguf_export.h: a GGUF file of architecture "gpt2" (ours or
// llama.cpp's convert_hf_to_gguf.py output, F32/F16 tensors) -> ModelConfig,
// GPT2Model (F32 weights) and GPT2Tokenizer. output.weight equal to
// token_embd.weight (or absent) gives a tied model.
#include <memory>
#include <string>

#include "models/gpt2.h"
#include "models/gpt2_tokenizer.h"
#include "models/model_config.h"

namespace rbe {

struct GgufModel {
  ModelConfig config;
  std::unique_ptr<GPT2Model> model;
  std::unique_ptr<GPT2Tokenizer> tokenizer;
};

// Throws gguf::FormatError (io/gguf.h) naming the file and the key or tensor
// for files that are malformed, not gpt2, or not expressible as our GPT-2
// (feed_forward_length other than 4 * embedding_length, missing or mis-shaped tensors).
GgufModel import_gguf(const std::string& path);

}  // namespace rbe
