#include "generate/text_generation.h"

#include <algorithm>

namespace rbe {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopStringMatcher::push(std::string_view bytes) {
  if (stopped_) return {};
  pending_.append(bytes);
  // Earliest occurrence of any stop string. Everything shown before could
  // not start one, so an occurrence lies entirely inside pending_.
  size_t best = std::string::npos;
  for (const auto& s : stops_) {
    size_t at = pending_.find(s);
    if (at < best || (at == best && at != std::string::npos && s.size() > matched_.size())) {
      best = at;
      matched_ = s;
    }
  }
  if (best != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, best);
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_)
    for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k)
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopStringMatcher::finish() {
  std::string out;
  if (!stopped_) out.swap(pending_);
  return out;
}

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::MaxTokens: return "max_tokens";
    case StopReason::StopString: return "stop_string";
    case StopReason::EndOfText: return "end_of_text";
    case StopReason::ContextFull: return "context_full";
    case StopReason::Callback: return "callback";
    case StopReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

std::vector<TextGenerationResult> generate_text_batch(GPT2Model& model, const Tokenizer& tokenizer,
                                                      const std::vector<std::vector<int32_t>>& prompts,
                                                      const TextGenerationParams& params,
                                                      const BatchTextCallback& on_text,
                                                      const std::atomic<bool>* cancel) {
  struct Seq {
    StopStringMatcher matcher;
    bool done = false;
  };
  std::vector<TextGenerationResult> results(prompts.size());
  std::vector<Seq> seqs;
  for (size_t i = 0; i < prompts.size(); ++i) seqs.push_back({StopStringMatcher(params.stop)});
  const int32_t eot = params.stop_at_eot ? tokenizer.eot_id() : -1;

  auto emit = [&](size_t i, const std::string& text) {
    if (text.empty()) return true;
    results[i].text += text;
    return !on_text || on_text(i, text);
  };
  auto on_token = [&](size_t i, int32_t tok) {
    Seq& s = seqs[i];
    TextGenerationResult& r = results[i];
    if (eot >= 0 && tok == eot) {
      r.reason = StopReason::EndOfText;
      s.done = true;
      return false;
    }
    const bool go_on = emit(i, s.matcher.push(tokenizer.decode_one(tok)));
    if (s.matcher.stopped()) {
      r.reason = StopReason::StopString;
      s.done = true;
      return false;
    }
    if (!go_on) {
      r.reason = StopReason::Callback;
      s.done = true;
    }
    return go_on;
  };
  std::vector<std::vector<int32_t>> tokens = generate_batch(model, prompts, params.sampling, on_token, cancel);

  const int64_t ctx = model.config().n_positions;
  for (size_t i = 0; i < prompts.size(); ++i) {
    TextGenerationResult& r = results[i];
    r.tokens = std::move(tokens[i]);
    if (seqs[i].done) continue;
    emit(i, seqs[i].matcher.finish());  // no stop string: show what was held back
    if (int64_t(r.tokens.size()) >= params.sampling.max_tokens) r.reason = StopReason::MaxTokens;
    else if (cancel && cancel->load()) r.reason = StopReason::Cancelled;
    else if (std::min<int64_t>(int64_t(prompts[i].size()), ctx) + int64_t(r.tokens.size()) >= ctx)
      r.reason = StopReason::ContextFull;
    else r.reason = StopReason::Cancelled;
  }
  return results;
}

TextGenerationResult generate_text(GPT2Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                                   const TextGenerationParams& params, const TextCallback& on_text,
                                   const std::atomic<bool>* cancel) {
  BatchTextCallback cb;
  if (on_text) cb = [&](size_t, std::string_view text) { return on_text(text); };
  return std::move(generate_text_batch(model, tokenizer, {prompt}, params, cb, cancel)[0]);
}

}  // namespace rbe
