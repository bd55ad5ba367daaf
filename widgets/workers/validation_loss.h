#pragma once
// Validation loss on a held-out text, for comparing an original and a
// compressed model: the text's last 10% (the split TextDataset and rbe-train
// use) is tokenized and scored a batch of windows at a time, so a cancel
// request is honoured between batches. The first 90% may serve as calibration text.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/gpt2.h"
#include "models/tokenizer.h"

namespace workbench {

// Byte offset where the held-out tail starts (a UTF-8 character boundary).
size_t heldOutStart(const std::string& text);
// The held-out tail tokenized, cut to at most maxTokens. Throws what the tokenizer throws.
std::vector<int32_t> heldOutTokens(const rbe::Tokenizer& tokenizer, const std::string& text, size_t maxTokens);

// Mean next-token loss (nats/token) over `tokens` in non-overlapping windows of
// min(n_positions, 256) tokens. cancel() true: returns early by throwing
// rbe::codec::Cancelled. progress(f), f in [0, 1], after each batch of windows.
double validationLoss(rbe::GPT2Model& model, const std::vector<int32_t>& tokens, const std::function<bool()>& cancel,
                      const std::function<void(double)>& progress);

}  // namespace workbench
