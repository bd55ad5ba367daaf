// rbe-train: trains a GPT-2 model on a text file and saves a checkpoint folder.
//
//   rbe-train --data input.txt --preset mini --steps 2000 --batch 16 --ctx 128
//             --lr 1e-3 --seed 1 --out ckpt/ [--log train.jsonl] [--resume ckpt/]
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "io/checkpoint.h"
#include "models/char_tokenizer.h"
#include "models/gpt2.h"
#include "train/text_dataset.h"
#include "train/trainer.h"

using namespace rbe;

namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_sigint(int) { g_cancel.store(true); }

struct Args {
  std::string data, preset, config, out, resume, log;
  TrainOptions train;
  int threads = 0;
  bool checkpointing = false;
  int64_t save_every = 0;
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string describe(const ModelConfig& c, int64_t params) {
  std::ostringstream s;
  s << fmt("%.2f", double(params) / 1e6) << "M parameters (" << c.n_layer << " layers, " << c.n_embd << " dim, "
    << c.n_head << " heads, context " << c.n_positions << ", vocab " << c.vocab_size << ", tokenizer " << c.tokenizer
    << ")";
  return s.str();
}

int train_main(const Args& a, const CLI::App& app) {
  auto threads = cli::limit_threads(a.threads);
  const std::string text = cli::read_text_file(a.data);

  // Model configuration and tokenizer: from the checkpoint when resuming,
  // else from the preset or config file; a char tokenizer is built from the data.
  ModelConfig config;
  std::optional<CharTokenizer> tokenizer;
  if (!a.resume.empty()) {
    config = ModelConfig::load(a.resume + "/config.json");
    if (config.tokenizer == "char") tokenizer = CharTokenizer::load(a.resume + "/tokenizer.json");
  } else {
    config = a.config.empty() ? ModelConfig::preset(a.preset) : ModelConfig::load(a.config);
    if (config.tokenizer == "char") {
      tokenizer = CharTokenizer::from_text(text);
      config.vocab_size = tokenizer->size();
    }
  }
  if (config.tokenizer != "char")
    throw std::runtime_error("tokenizer '" + config.tokenizer +
                             "' is not supported for training yet; use a config with \"tokenizer\": \"char\"");
  config.validate();

  TrainOptions opts = a.train;
  if (opts.ctx <= 0) opts.ctx = std::min<int64_t>(config.n_positions, 256);
  if (opts.ctx > config.n_positions)
    throw std::runtime_error("--ctx " + std::to_string(opts.ctx) + " exceeds the model's context (n_positions = " +
                             std::to_string(config.n_positions) + ")");

  TextDataset data(tokenizer->encode(text));
  if (int64_t(data.train_tokens().size()) < opts.ctx + 1)
    throw std::runtime_error(a.data + ": the training split has " + std::to_string(data.train_tokens().size()) +
                             " tokens, too few for --ctx " + std::to_string(opts.ctx) + " (need at least " +
                             std::to_string(opts.ctx + 1) + ")");

  std::optional<ckpt::Loaded> resumed;
  std::unique_ptr<GPT2Model> fresh;
  if (!a.resume.empty()) {
    resumed = ckpt::load(a.resume);
  } else {
    fresh = std::make_unique<GPT2Model>(config, opts.seed);
  }
  GPT2Model& model = resumed ? *resumed->model : *fresh;
  model.set_gradient_checkpointing(a.checkpointing);

  int64_t start_step = 0;
  if (resumed) {
    // The data order depends on the seed: keep the original unless --seed is given.
    ckpt::TrainState state = ckpt::read_train_state(a.resume);
    if (app.count("--seed") == 0) opts.seed = state.seed;
    start_step = state.step;
  }
  Trainer trainer(model, data, opts);
  if (resumed) {
    ckpt::load_train_state(a.resume, trainer.optimizer());
    trainer.set_step(start_step);
  }

  std::cerr << "model: " << describe(config, model.parameter_count()) << "\n"
            << "data: " << a.data << ": " << data.train_tokens().size() << " training and "
            << data.val_tokens().size() << " validation tokens\n";
  if (resumed) std::cerr << "resuming from " << a.resume << " at step " << start_step << "\n";
  if (start_step >= opts.steps)
    std::cerr << "nothing to do: the checkpoint is already at step " << start_step << " of " << opts.steps << "\n";

  std::ofstream log;
  if (!a.log.empty()) {
    log.open(a.log, resumed ? std::ios::app : std::ios::trunc);
    if (!log) throw std::runtime_error(a.log + ": cannot open log file for writing");
  }

  auto save = [&](const std::string& dir) {
    ckpt::TrainState s{trainer.step(), opts.seed, 0, opts.to_json()};
    ckpt::save(dir, model, tokenizer ? &*tokenizer : nullptr, &trainer.optimizer(), &s);
  };

  cli::ProgressBar bar(opts.steps, start_step);
  std::signal(SIGINT, on_sigint);
  bool finished = trainer.run(
      [&](const StepInfo& s) {
        std::string fields = "loss " + fmt("%.4f", s.loss) + " | lr " + fmt("%.2e", s.lr) + " | " +
                             fmt("%.0f", s.tokens_per_s) + " tok/s";
        if (s.val_loss) fields += " | val " + fmt("%.4f", *s.val_loss);
        bar.update(s.step, fields, s.val_loss.has_value());
        if (log.is_open()) {
          nlohmann::json j = {{"step", s.step},
                              {"loss", cli::json_float(s.loss)},
                              {"lr", cli::json_float(s.lr)},
                              {"tokens_per_s", std::round(s.tokens_per_s * 10) / 10}};
          if (s.val_loss) j["val_loss"] = cli::json_float(*s.val_loss);
          log << j.dump() << "\n";
          log.flush();
        }
        if (a.save_every > 0 && s.step % a.save_every == 0 && s.step < opts.steps) save(a.out);
      },
      &g_cancel);
  bar.finish();
  std::signal(SIGINT, SIG_DFL);

  save(a.out);
  if (!finished) {
    std::cerr << "interrupted at step " << trainer.step() << "; checkpoint saved to " << a.out
              << " (continue with --resume " << a.out << ")\n";
    return 130;
  }
  std::cerr << "saved checkpoint to " << a.out << " (step " << trainer.step() << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a GPT-2 model on a text file and save a checkpoint folder.", "rbe-train"};
  Args a;
  a.train.ctx = 0;  // 0: chosen from the model
  a.train.steps = 1000;
  a.train.batch = 16;
  app.add_option("--data", a.data, "Training text file (last 10% is validation)")->required();
  auto* preset = app.add_option("--preset", a.preset, "Model preset")
                     ->check(CLI::IsMember({"mini", "117M", "124M", "345M", "762M", "1.5B"}));
  auto* config = app.add_option("--config", a.config, "Model config.json (instead of --preset)");
  preset->excludes(config);
  auto* resume = app.add_option("--resume", a.resume, "Continue training from this checkpoint folder");
  resume->excludes(preset)->excludes(config);
  app.add_option("--out", a.out, "Checkpoint folder to write")->required();
  app.add_option("--steps", a.train.steps, "Total optimizer steps")->capture_default_str()->check(cli::non_negative());
  app.add_option("--batch", a.train.batch, "Sequences per step")->capture_default_str()->check(cli::positive());
  app.add_option("--ctx", a.train.ctx, "Tokens per sequence (default: min(n_positions, 256))")
      ->check(cli::positive());
  app.add_option("--lr", a.train.lr, "Peak learning rate")->capture_default_str()->check(cli::positive());
  app.add_option("--min-lr", a.train.min_lr, "Final learning rate of the cosine decay (default: lr/10)")
      ->check(cli::non_negative());
  app.add_option("--warmup", a.train.warmup, "Linear warmup steps")->capture_default_str()->check(cli::non_negative());
  app.add_option("--weight-decay", a.train.weight_decay, "AdamW weight decay (matrices only)")
      ->capture_default_str()
      ->check(cli::non_negative());
  app.add_option("--grad-clip", a.train.grad_clip, "Global gradient norm limit (0: off)")
      ->capture_default_str()
      ->check(cli::non_negative());
  app.add_option("--eval-every", a.train.eval_every, "Validation loss every N steps (0: only at the end)")
      ->capture_default_str()
      ->check(cli::non_negative());
  app.add_option("--eval-batches", a.train.eval_batches, "Batches per validation")
      ->capture_default_str()
      ->check(cli::positive());
  app.add_option("--threads", a.threads, "Worker threads (0: all cores)")->capture_default_str()->check(cli::non_negative());
  app.add_option("--seed", a.train.seed, "Seed for initialisation and batch order")->capture_default_str();
  app.add_option("--log", a.log, "Write JSON lines {step, loss, lr, tokens_per_s[, val_loss]} to FILE");
  app.add_flag("--checkpointing", a.checkpointing, "Gradient checkpointing (less memory, ~30% slower)");
  app.add_option("--save-every", a.save_every, "Also save the checkpoint every N steps")
      ->capture_default_str()
      ->check(cli::non_negative());

  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  if (a.preset.empty() && a.config.empty() && a.resume.empty()) {
    std::cerr << "rbe-train: error: one of --preset, --config or --resume is required (run with --help for usage)\n";
    return cli::kExitUsage;
  }
  return cli::run_main("rbe-train", [&] { return train_main(a, app); });
}
