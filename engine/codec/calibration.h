#pragma once
// Calibration statistics for error-aware rounding: for every Linear layer,
// H = X^T X / n over the n calibration tokens that reach it (X [n, in] are the
// layer's inputs on calibration text, from the uncompressed model).
//
// Layers are visited block by block so that at most one block's Hessians are
// held at a time (GPT-2 124M: 4 matrices of up to 3072 x 3072 floats), plus
// the residual stream of the calibration windows ([tokens, n_embd] floats).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "models/gpt2.h"
#include "models/tokenizer.h"

namespace rbe::codec {

class Calibrator {
 public:
  // Tokenizes text (errors name "calibration text"), keeps its first
  // max_tokens tokens, cut into windows of n_positions, and embeds them.
  // The model is only read, except that Linear observers are set while a
  // block runs (and always restored).
  Calibrator(GPT2Model& model, const Tokenizer& tok, const std::string& text, int64_t max_tokens,
             const CancelFn& cancel = {});
  ~Calibrator();

  int64_t tokens() const { return tokens_; }

  // Hessians of the inputs of every Linear in block `layer`, keyed by weight
  // name ("h.3.attn.c_attn.weight"). Layers must be asked for in increasing
  // order; skipped blocks are run without statistics.
  std::map<std::string, Tensor> block_hessians(int64_t layer);
  // Hessian of the head's input (ln_f's output), for the tied wte / lm_head.
  // Runs any blocks not yet run.
  Tensor head_hessian();

 private:
  void run_block(int64_t layer, bool observe, std::map<std::string, Tensor>* out);

  GPT2Model& model_;
  CancelFn cancel_;
  int64_t tokens_ = 0;
  int64_t next_layer_ = 0;
  std::vector<Tensor> stream_;  // residual stream per window, [1, T, C]
};

// Accumulates H += X^T X for X [..., in] (F32/F16, any layout): the observer body.
void accumulate_gram(const Tensor& x, Tensor& H, int64_t& rows);

}  // namespace rbe::codec
