#include "train/trainer.h"

#include <charconv>
#include <chrono>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "autodiff/node.h"
#include "nn/functional.h"
#include "train/evaluate.h"
#include "train/grad_clip.h"

namespace rbe {

// The shortest decimal that reads back to v (JSON shows 0.001, not 0.0010000000474974513).
static double shortest(float v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::strtod(std::string(buf, end).c_str(), nullptr) : double(v);
}

nlohmann::json TrainOptions::to_json() const {
  return {{"steps", steps},
          {"batch", batch},
          {"ctx", ctx},
          {"lr", shortest(lr)},
          {"min_lr", shortest(schedule().min_lr)},
          {"warmup", warmup},
          {"weight_decay", shortest(weight_decay)},
          {"grad_clip", shortest(grad_clip)},
          {"beta1", shortest(beta1)},
          {"beta2", shortest(beta2)},
          {"eps", shortest(eps)},
          {"eval_every", eval_every},
          {"eval_batches", eval_batches},
          {"seed", seed}};
}

LrSchedule TrainOptions::schedule() const {
  return LrSchedule{lr, min_lr < 0 ? lr / 10 : min_lr, warmup, steps};
}

static AdamWOptions adamw_options(const TrainOptions& o) {
  return AdamWOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
}

Trainer::Trainer(GPT2Model& model, const TextDataset& data, TrainOptions options)
    : model_(model), data_(data), options_(options), optimizer_(model.named_parameters(), adamw_options(options)) {
  if (options_.ctx > model.config().n_positions)
    throw ShapeError("Trainer: ctx " + std::to_string(options_.ctx) + " exceeds the model's context n_positions = " +
                     std::to_string(model.config().n_positions));
  if (options_.steps < 0 || options_.batch <= 0 || options_.ctx <= 0)
    throw ShapeError("Trainer: steps must be >= 0, batch and ctx positive");
  if (int64_t(data.train_tokens().size()) < options_.ctx + 1)
    throw ShapeError("Trainer: the training split has " + std::to_string(data.train_tokens().size()) +
                     " tokens, fewer than ctx + 1 = " + std::to_string(options_.ctx + 1));
}

Batch Trainer::batch_for_step(int64_t k) const {
  uint64_t key = options_.seed ^ ((uint64_t(k) + 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull);
  Rng rng(key);
  return data_.sample_train(options_.batch, options_.ctx, rng);
}

StepInfo Trainer::train_step() {
  auto t0 = std::chrono::steady_clock::now();
  model_.train();
  Batch b = batch_for_step(step_);
  const float lr = options_.schedule().at(step_);

  optimizer_.zero_grad();
  float loss_value;
  {
    GradModeGuard grad_on(true);
    Tensor logits = model_.forward(b.inputs);               // [B, T, V]
    Tensor loss = nn::F::cross_entropy(logits, b.targets);  // scalar
    loss_value = loss.item();
    backward(loss);
  }
  StepInfo info;
  info.grad_norm = clip_grad_norm(model_.parameters(), options_.grad_clip);
  optimizer_.set_lr(lr);
  optimizer_.step();
  ++step_;

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  info.step = step_;
  info.total_steps = options_.steps;
  info.loss = loss_value;
  info.lr = lr;
  info.tokens_per_s = secs > 0 ? double(options_.batch * options_.ctx) / secs : 0;
  return info;
}

bool Trainer::run(const StepCallback& on_step, const std::atomic<bool>* cancel) {
  auto start = std::chrono::steady_clock::now();
  const auto& val = data_.val_tokens();
  while (step_ < options_.steps) {
    if (cancel && cancel->load()) return false;
    StepInfo info = train_step();
    bool eval_now = (options_.eval_every > 0 && step_ % options_.eval_every == 0) || step_ == options_.steps;
    if (eval_now && val.size() >= 2)
      info.val_loss = evaluate(model_, val, options_.batch, options_.ctx, options_.eval_batches);
    info.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (on_step) on_step(info);
  }
  return true;
}

}  // namespace rbe
