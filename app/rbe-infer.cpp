// rbe-infer: generates text from a model (our checkpoint folders, HuggingFace
// GPT-2 folders, compressed .rbe files, GGUF files), measures its loss and perplexity on a text file,
// or converts between text and token ids.
//
//   rbe-infer --model DIR --prompt "ROMEO:" --temperature 0.8 --max-tokens 200 [--stop "\n\n"]
//   rbe-infer --model DIR --eval input.txt [--eval-all] [--ctx T] [--stride S] [--windows once|hf]
//   rbe-infer --model DIR --tokenize < text      (JSON array of ids on stdout)
//   rbe-infer --model DIR --detokenize < ids.json (text on stdout)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli_common.h"
#include "codec/model_codec.h"
#include "codec/rbe_file.h"
#include "generate/text_generation.h"
#include "io/hf_gpt2.h"
#include "io/model_loader.h"
#include "models/tokenizer_json.h"
#include "train/evaluate.h"
#include "train/text_dataset.h"

using namespace rbe;

namespace {

struct Args {
  std::string model, prompt, eval_file, kv_cache = "auto", dtype = "f32", windows = "once";
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool ignore_eot = false;
  int threads = 0;
  bool eval_all = false, tokenize = false, detokenize = false;
  int64_t ctx = 0, stride = 0, batch = 0;
};

const Tokenizer& require_tokenizer(const Tokenizer* tok, const std::string& dir) {
  if (!tok)
    throw std::runtime_error(dir + ": the model folder has no tokenizer (a GPT-2 model needs vocab.json and merges.txt "
                                   "next to config.json)");
  return *tok;
}

std::string read_stdin() {
  std::string s{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return s;
}

void write_stdout(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

// "\n", "\t", "\r" and "\\" in --stop become the characters (shells pass them literally).
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    switch (s[++i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      default: out += '\\', out += s[i];
    }
  }
  return out;
}

// Only the tokenizer is loaded: tokenizing needs no weights.
std::unique_ptr<Tokenizer> tokenizer_only(const std::string& dir) {
  if (codec::looks_like_rbe_file(dir)) {
    auto tok = tokenizer_from_json(codec::read_rbe_file(dir).tokenizer);
    if (!tok) throw std::runtime_error(dir + ": the .rbe file has no tokenizer");
    return tok;
  }
  ModelConfig config = hf::read_any_config(dir);
  return load_tokenizer(dir, config);
}

int tokenize_main(const Args& a) {
  auto tok = tokenizer_only(a.model);
  std::vector<int32_t> ids = tok->encode(read_stdin());  // "<|endoftext|>" becomes its id (GPT-2)
  std::cout << nlohmann::json(ids).dump() << std::endl;
  return 0;
}

int detokenize_main(const Args& a) {
  auto tok = tokenizer_only(a.model);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_stdin());
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(std::string("stdin: expected a JSON array of token ids: ") + e.what());
  }
  if (!j.is_array()) throw std::runtime_error("stdin: expected a JSON array of token ids, got " + std::string(j.type_name()));
  std::vector<int32_t> ids;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_integer() || j[i].get<int64_t>() < 0 || j[i].get<int64_t>() >= tok->vocab_size())
      throw std::runtime_error("stdin: entry " + std::to_string(i) + " (" + j[i].dump() +
                               ") is not a token id in [0, " + std::to_string(tok->vocab_size()) + ")");
    ids.push_back(int32_t(j[i].get<int64_t>()));
  }
  write_stdout(tok->decode(ids));
  return 0;
}

int eval_main(const Args& a, LoadedModel& m) {
  const std::string text = cli::read_text_file(a.eval_file);
  std::vector<int32_t> tokens = require_tokenizer(m.tokenizer.get(), a.model).encode(text);
  if (!a.eval_all) {
    TextDataset split(std::move(tokens));
    tokens = split.val_tokens();
  }
  if (tokens.size() < 2)
    throw std::runtime_error(a.eval_file + ": too little text to evaluate (" + std::to_string(tokens.size()) +
                             " tokens" + (a.eval_all ? "" : " in the validation part; try --eval-all") + ")");
  const int64_t ctx = a.ctx > 0 ? a.ctx : m.config.n_positions;
  if (ctx > m.config.n_positions)
    throw std::runtime_error("--ctx " + std::to_string(ctx) + " exceeds the model's context (n_positions = " +
                             std::to_string(m.config.n_positions) + ")");
  const int64_t stride = a.stride > 0 ? a.stride : ctx;
  if (stride > ctx)
    throw std::runtime_error("--stride " + std::to_string(stride) + " must not exceed the context (" +
                             std::to_string(ctx) + ")");
  // Default batch: logits and KV cache of at most ~512 MB (GPT-2's 50257-token
  // vocabulary makes the logits big; one window at ctx 1024 runs as fast as two).
  const int64_t floats_per_window = ctx * (m.config.vocab_size + 2 * m.config.n_layer * m.config.n_embd);
  const int64_t batch =
      a.batch > 0 ? a.batch : std::clamp<int64_t>((int64_t(1) << 27) / floats_per_window, 1, 8);
  // On a terminal, a progress line on stderr (a long text takes minutes).
  std::unique_ptr<cli::ProgressBar> bar;
  std::function<void(int64_t, int64_t)> progress;
  const auto t0 = std::chrono::steady_clock::now();
  if (cli::stderr_is_tty())
    progress = [&](int64_t scored, int64_t total) {
      if (!bar) bar = std::make_unique<cli::ProgressBar>(total, 0, "tokens");
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bar->update(scored, std::to_string(int64_t(double(scored) / std::max(s, 1e-9))) + " tok/s");
    };
  const EvalWindows rule = a.windows == "hf" ? EvalWindows::HuggingFace : EvalWindows::Once;
  if (rule == EvalWindows::HuggingFace && ctx < 2)
    throw std::runtime_error("--windows hf needs --ctx of at least 2 (a window of one token scores nothing)");
  EvalResult r = evaluate_tokens(*m.model, tokens, ctx, stride, batch, 0, progress, rule);
  if (bar) bar->finish();
  nlohmann::json j = {{"tokens", r.tokens}, {"loss", r.loss}, {"perplexity", r.perplexity}};
  std::cout << j.dump() << std::endl;
  return 0;
}

int generate_main(const Args& a, LoadedModel& m) {
  const Tokenizer& tok = require_tokenizer(m.tokenizer.get(), a.model);
  std::vector<int32_t> prompt;
  if (a.prompt.empty()) {
    // No prompt: start at a document boundary — GPT-2's <|endoftext|>, or a newline for char models.
    if (tok.eot_id() >= 0) prompt.push_back(tok.eot_id());
    else {
      try {
        prompt = tok.encode("\n");
      } catch (const std::exception&) {
      }
      if (prompt.empty()) prompt.push_back(0);
    }
  } else {
    prompt = tok.encode(a.prompt);
  }
  TextGenerationParams p;
  p.sampling = a.sampling;
  for (const auto& s : a.stop) p.stop.push_back(unescape(s));
  p.stop_at_eot = !a.ignore_eot;
  generate_text(*m.model, tok, prompt, p, [](std::string_view s) {
    write_stdout(std::string(s));
    return true;
  });
  if (::isatty(STDOUT_FILENO)) std::fputc('\n', stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate text from a model folder (ours or HuggingFace GPT-2), measure its loss and perplexity on a "
               "text file, or tokenize and detokenize.",
               "rbe-infer"};
  Args a;
  a.sampling.temperature = 0.8f;
  a.sampling.max_tokens = 200;
  app.add_option("--model", a.model,
                 "Model: our checkpoint folder, a HuggingFace GPT-2 folder (config.json, model.safetensors, "
                 "vocab.json, merges.txt), a compressed .rbe file or a .gguf file")
      ->required();
  app.add_option("--prompt", a.prompt, "Text to continue (default: <|endoftext|>, or a newline for char models)");
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
  app.add_option("--stop", a.stop,
                 "Stop when the generated text contains STRING (\\n, \\t, \\r, \\\\ are escapes); the text is cut "
                 "before it (repeatable)");
  app.add_flag("--ignore-eot", a.ignore_eot, "Keep generating after the end-of-text token");
  app.add_option("--kv-cache", a.kv_cache,
                 "KV cache storage for generation: f32 (exact), f16 (half the cache memory, faster at long "
                 "contexts; keys and values rounded to f16) or auto (f32 for f32 matrices, f16 for f16 or packed "
                 "ones)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "f32", "f16"}));
  app.add_option("--dtype", a.dtype,
                 "Dense weight matrices for inference: f32 (as loaded) or f16 (half their memory, faster "
                 "generation; weights rounded to f16, products summed in f32). Packed matrices stay packed")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16"}));
  app.add_option("--threads", a.threads, "Worker threads (0: all cores)")->capture_default_str()->check(cli::non_negative());
  auto* tokenize = app.add_flag("--tokenize", a.tokenize,
                                "Read text on stdin, print its token ids as a JSON array (<|endoftext|> maps to its id)");
  auto* detokenize = app.add_flag("--detokenize", a.detokenize, "Read a JSON array of token ids on stdin, print the text");
  tokenize->excludes(detokenize);
  auto* eval = app.add_option("--eval", a.eval_file,
                              "Print {\"tokens\",\"loss\",\"perplexity\"} as one JSON line for the validation part "
                              "(last 10%) of FILE instead of generating");
  eval->excludes(tokenize)->excludes(detokenize);
  app.add_flag("--eval-all", a.eval_all, "With --eval: score the whole file")->needs(eval);
  app.add_option("--ctx", a.ctx, "With --eval: window length (default: the model's context)")
      ->check(cli::positive())
      ->needs(eval);
  app.add_option("--stride", a.stride,
                 "With --eval: sliding windows; each window after the first scores only its last S tokens, with "
                 "up to ctx tokens of context (HuggingFace's sliding-window perplexity; default: ctx, non-overlapping)")
      ->check(cli::positive())
      ->needs(eval);
  app.add_option("--windows", a.windows,
                 "With --eval: 'once' scores every token once; 'hf' reproduces the example code of HuggingFace's "
                 "\"Perplexity of fixed-length models\" to the digit (which tokens each window scores and how "
                 "windows are weighted; see docs/hf-models.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"once", "hf"}))
      ->needs(eval);
  app.add_option("--batch", a.batch, "With --eval: windows per forward pass (default: by memory, at most 8)")
      ->check(cli::positive())
      ->needs(eval);

  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  return cli::run_main("rbe-infer", [&] {
    auto threads = cli::limit_threads(a.threads);
    if (a.tokenize) return tokenize_main(a);
    if (a.detokenize) return detokenize_main(a);
    LoadedModel m = codec::load_any_model(a.model, a.dtype == "f16" ? DType::F16 : DType::F32);
    m.model->eval();
    cli::set_kv_cache(*m.model, a.kv_cache);
    return a.eval_file.empty() ? generate_main(a, m) : eval_main(a, m);
  });
}
