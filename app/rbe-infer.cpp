// rbe-infer: generates text from a checkpoint folder, or measures its loss
// and perplexity on a text file.
//
//   rbe-infer --model ckpt/ --prompt "ROMEO:" --temperature 0.8 --max-tokens 200
//   rbe-infer --model ckpt/ --eval input.txt [--eval-all] [--ctx T] [--stride S]
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli_common.h"
#include "generate/generate.h"
#include "io/checkpoint.h"
#include "train/evaluate.h"
#include "train/text_dataset.h"

using namespace rbe;

namespace {

struct Args {
  std::string model, prompt, eval_file;
  SamplingParams sampling;
  int threads = 0;
  bool eval_all = false;
  int64_t ctx = 0, stride = 0, batch = 8;
};

const CharTokenizer& require_tokenizer(const ckpt::Loaded& ck) {
  if (!ck.tokenizer)
    throw std::runtime_error("tokenizer '" + ck.config.tokenizer +
                             "' is not supported by rbe-infer yet (only char-tokenizer checkpoints)");
  return *ck.tokenizer;
}

int eval_main(const Args& a, ckpt::Loaded& ck) {
  const std::string text = cli::read_text_file(a.eval_file);
  std::vector<int32_t> tokens = require_tokenizer(ck).encode(text);
  if (!a.eval_all) {
    TextDataset split(std::move(tokens));
    tokens = split.val_tokens();
  }
  if (tokens.size() < 2)
    throw std::runtime_error(a.eval_file + ": too little text to evaluate (" + std::to_string(tokens.size()) +
                             " tokens" + (a.eval_all ? "" : " in the validation part; try --eval-all") + ")");
  const int64_t ctx = a.ctx > 0 ? a.ctx : ck.config.n_positions;
  if (ctx > ck.config.n_positions)
    throw std::runtime_error("--ctx " + std::to_string(ctx) + " exceeds the model's context (n_positions = " +
                             std::to_string(ck.config.n_positions) + ")");
  const int64_t stride = a.stride > 0 ? a.stride : ctx;
  if (stride > ctx)
    throw std::runtime_error("--stride " + std::to_string(stride) + " must not exceed the context (" +
                             std::to_string(ctx) + ")");
  EvalResult r = evaluate_tokens(*ck.model, tokens, ctx, stride, a.batch);
  nlohmann::json j = {{"tokens", r.tokens}, {"loss", r.loss}, {"perplexity", r.perplexity}};
  std::cout << j.dump() << std::endl;
  return 0;
}

int generate_main(const Args& a, ckpt::Loaded& ck) {
  const CharTokenizer& tok = require_tokenizer(ck);
  std::vector<int32_t> prompt;
  if (a.prompt.empty()) {
    // Start from a newline (a natural document boundary) when the vocabulary has one.
    prompt.push_back(tok.contains('\n') ? tok.encode("\n")[0] : 0);
  } else {
    prompt = tok.encode(a.prompt);
  }
  SamplingParams p = a.sampling;
  generate(*ck.model, prompt, p, [&](int32_t t) {
    std::string s = tok.decode_one(t);
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (::isatty(STDOUT_FILENO)) std::fputc('\n', stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate text from a checkpoint folder, or measure its loss and perplexity on a text file.",
               "rbe-infer"};
  Args a;
  a.sampling.temperature = 0.8f;
  a.sampling.max_tokens = 200;
  app.add_option("--model", a.model, "Checkpoint folder (config.json, model.safetensors, tokenizer.json)")
      ->required();
  app.add_option("--prompt", a.prompt, "Text to continue (default: a newline)");
  app.add_option("--temperature", a.sampling.temperature, "Sampling temperature (0: greedy)")
      ->capture_default_str()
      ->check(cli::non_negative());
  app.add_option("--top-k", a.sampling.top_k, "Sample from the k most likely tokens (0: off)")
      ->capture_default_str()
      ->check(cli::non_negative());
  app.add_option("--top-p", a.sampling.top_p, "Nucleus sampling probability mass (1: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--repetition-penalty", a.sampling.repetition_penalty, "CTRL-style repetition penalty (1: off)")
      ->capture_default_str()
      ->check(cli::positive());
  app.add_option("--seed", a.sampling.seed, "Sampling seed")->capture_default_str();
  app.add_option("--max-tokens", a.sampling.max_tokens, "Tokens to generate")
      ->capture_default_str()
      ->check(cli::non_negative());
  app.add_option("--threads", a.threads, "Worker threads (0: all cores)")->capture_default_str()->check(cli::non_negative());
  auto* eval = app.add_option("--eval", a.eval_file,
                              "Print {\"tokens\",\"loss\",\"perplexity\"} as one JSON line for the validation part "
                              "(last 10%) of FILE instead of generating");
  app.add_flag("--eval-all", a.eval_all, "With --eval: score the whole file")->needs(eval);
  app.add_option("--ctx", a.ctx, "With --eval: window length (default: the model's context)")
      ->check(cli::positive())
      ->needs(eval);
  app.add_option("--stride", a.stride,
                 "With --eval: sliding windows; each window after the first scores only its last S tokens "
                 "(default: ctx, non-overlapping)")
      ->check(cli::positive())
      ->needs(eval);
  app.add_option("--batch", a.batch, "With --eval: windows per forward pass")
      ->capture_default_str()
      ->check(cli::positive())
      ->needs(eval);

  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  return cli::run_main("rbe-infer", [&] {
    auto threads = cli::limit_threads(a.threads);
    ckpt::Loaded ck = ckpt::load(a.model);
    ck.model->eval();
    return a.eval_file.empty() ? generate_main(a, ck) : eval_main(a, ck);
  });
}
