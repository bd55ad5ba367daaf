#pragma once
// GPT2Model + GPT-2 BPE tokenizer -> a GGUF file that llama.cpp loads as
// architecture "gpt2" (the mapping is in docs/formats.md, "GGUF").
//
// Weights: our Linear weights are [out, in] row-major, which is ggml's
// ne = {in, out}, so they are written as they are. With F16, Q8_0 or Q4_0,
// 2-D weights take that type except position_embd (kept F32, as llama.cpp's
// converter does); norms and biases stay F32. io/ does not quantize: the
// caller passes the encoder (codec::encode with "q8_0" / "q4_0" produces
// ggml's blocks byte for byte). output.weight is always written (a copy of
// token_embd when tied), as llama.cpp's convert_hf_to_gguf.py does for GPT-2.
//
// Character-tokenizer models are refused: llama.cpp has no character-level
// vocabulary type, and a BPE vocabulary without an end-of-text token makes
// llama.cpp treat token 11 as end-of-generation.
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "models/gpt2.h"
#include "models/tokenizer.h"
#include "tensor/dtype.h"

namespace rbe {

// Thrown when a model cannot be expressed in llama.cpp's gpt2 architecture
// (post-LN, ReLU, no BPE tokenizer, vocabulary size mismatch).
class GgufExportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A matrix's ggml blocks (Q8_0 or Q4_0, rows in order: rows * cols / 32
// blocks). param: our parameter name ("h.0.mlp.c_fc.weight"; "wte.weight" for
// the tied head's copy too); W: its weight, F32 [rows, cols], contiguous.
using GgufQuantizeFn =
    std::function<std::vector<uint8_t>(const std::string& param, const Tensor& W, gguf::GgmlType type)>;

struct GgufExportOptions {
  DType dtype = DType::F32;      // F32 or F16 (weight matrices), unless `quant` is set
  std::string name = "gpt2";     // general.name
  // Q8_0 or Q4_0 weight matrices, encoded by `quantize` (required then).
  // Every matrix row must be a multiple of 32 weights (ggml's block).
  std::optional<gguf::GgmlType> quant;
  GgufQuantizeFn quantize;
};

struct GgufExportReport {
  size_t tensors = 0;
  uint64_t file_bytes = 0;
  std::vector<std::string> warnings;  // e.g. exact GELU computed as tanh GELU by llama.cpp
};

// Writes path atomically. tokenizer must be a GPT2Tokenizer with at most the
// model's vocab_size tokens (missing ids become unused "[PAD<id>]" tokens, with
// a warning). progress (optional): (tensors written, total).
GgufExportReport export_gguf(const std::string& path, const GPT2Model& model, const Tokenizer* tokenizer,
                             const GgufExportOptions& options = {},
                             const std::function<void(size_t, size_t)>& progress = nullptr);

// The matrices (our parameter names) written as F32 whatever `dtype` is: the
// position table, as llama.cpp's converter keeps it. A model read for an F16
// export can keep these f32 (MatrixStorage::keep_f32) and the rest f16.
std::vector<std::string> gguf_f32_matrices();

// GGUF name of one of our parameter names: "wte.weight" -> "token_embd.weight",
// "h.3.mlp.c_fc.bias" -> "blk.3.ffn_up.bias", ... Throws GgufExportError on an unknown name.
std::string gguf_tensor_name(const std::string& param_name);

}  // namespace rbe
