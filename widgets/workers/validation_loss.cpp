#include "workers/validation_loss.h"

#include <algorithm>

#include "codec/codec.h"
#include "train/evaluate.h"
#include "train/text_dataset.h"

namespace workbench {

size_t heldOutStart(const std::string& text) {
  size_t start = rbe::TextDataset::split_point(text.size());
  while (start < text.size() && (uint8_t(text[start]) & 0xC0) == 0x80) ++start;  // not inside a character
  return start;
}

std::vector<int32_t> heldOutTokens(const rbe::Tokenizer& tokenizer, const std::string& text, size_t maxTokens) {
  std::vector<int32_t> tokens = tokenizer.encode(std::string_view(text).substr(heldOutStart(text)));
  if (tokens.size() > maxTokens) tokens.resize(maxTokens);
  return tokens;
}

double validationLoss(rbe::GPT2Model& model, const std::vector<int32_t>& tokens, const std::function<bool()>& cancel,
                      const std::function<void(double)>& progress) {
  if (tokens.size() < 2) throw std::runtime_error("the held-out text is too short to measure a loss (fewer than 2 tokens)");
  const int64_t ctx = std::min<int64_t>(model.config().n_positions, 256);
  constexpr int64_t kBatch = 4;
  if (cancel && cancel()) throw rbe::codec::Cancelled();
  // One run through one KV cache; the callback after each batch of windows
  // reports progress and, on a cancel request, ends the run by throwing.
  return rbe::evaluate_tokens(model, tokens, ctx, ctx, kBatch, 0,
                              [&](int64_t scored, int64_t total) {
                                if (progress) progress(double(scored) / double(total));
                                if (cancel && cancel()) throw rbe::codec::Cancelled();
                              })
      .loss;
}

}  // namespace workbench
