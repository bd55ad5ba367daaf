#pragma once
// Generation at the text level: tokens are decoded as they come, streamed as
// text, and watched for stop strings and the end-of-text token.
//
// Stop strings: generation stops as soon as the generated text (not the
// prompt) contains any stop string — which covers "the text ends with it" and
// also a token that carries the stop string followed by more bytes. The text
// returned and streamed ends just before the first occurrence: neither the
// stop string nor anything after it is emitted. tokens still holds every
// generated token, including the one that completed the stop string (a token
// cannot be split). While a suffix of the text could be the start of a stop
// string, those bytes are held back from the callback.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "generate/generate.h"
#include "models/tokenizer.h"

namespace rbe {

// Feeds on the bytes of generated tokens; says what may be shown.
class StopStringMatcher {
 public:
  // Empty stop strings are ignored.
  explicit StopStringMatcher(std::vector<std::string> stops = {});

  // Appends bytes; returns those safe to show now. Once a stop string is
  // complete, returns the text before it and stopped() turns true; later
  // pushes return nothing.
  std::string push(std::string_view bytes);
  // The held-back bytes, when generation ended without a stop string.
  std::string finish();

  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }  // the stop string found

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // not yet shown: could be the start of a stop string
  std::string matched_;
  bool stopped_ = false;
};

enum class StopReason { MaxTokens, StopString, EndOfText, ContextFull, Callback, Cancelled };
const char* stop_reason_name(StopReason r);  // "max_tokens", "stop_string", ...

struct TextGenerationParams {
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (see above)
  bool stop_at_eot = true;        // end at the tokenizer's end-of-text token (not emitted)
};

struct TextGenerationResult {
  std::vector<int32_t> tokens;  // every generated token
  std::string text;             // what was emitted: decoded, cut before a stop string / end-of-text
  StopReason reason = StopReason::MaxTokens;
};

// Called with each piece of text as it becomes safe to show (bytes; a UTF-8
// character may be split across calls). Return false to stop.
using TextCallback = std::function<bool(std::string_view text)>;

TextGenerationResult generate_text(GPT2Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                                   const TextGenerationParams& params, const TextCallback& on_text = nullptr,
                                   const std::atomic<bool>* cancel = nullptr);

// Several prompts as one batch (generate_batch's padding and seeds); on_text gets the
// prompt index.
using BatchTextCallback = std::function<bool(size_t seq, std::string_view text)>;
std::vector<TextGenerationResult> generate_text_batch(GPT2Model& model, const Tokenizer& tokenizer,
                                                      const std::vector<std::vector<int32_t>>& prompts,
                                                      const TextGenerationParams& params,
                                                      const BatchTextCallback& on_text = nullptr,
                                                      const std::atomic<bool>* cancel = nullptr);

}  // namespace rbe
