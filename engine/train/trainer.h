#pragma once
// The training loop: sample a batch, forward, cross-entropy, backward, clip,
// AdamW step with the scheduled learning rate, and (every eval_every steps)
// a validation loss. Deterministic for a seed: batch k is drawn from an Rng
// seeded by (seed, k), so a resumed run sees the same batches as a straight one.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include <nlohmann/json_fwd.hpp>

#include "models/gpt2.h"
#include "train/adamw.h"
#include "train/lr_schedule.h"
#include "train/text_dataset.h"

namespace rbe {

struct TrainOptions {
  int64_t steps = 100;
  int64_t batch = 8;
  int64_t ctx = 64;
  float lr = 1e-3f;
  float min_lr = -1.f;  // < 0: lr / 10
  int64_t warmup = 0;
  float weight_decay = 0.1f;
  float grad_clip = 1.0f;  // <= 0: off
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  int64_t eval_every = 0;  // 0: only at the end (when there is validation data)
  int64_t eval_batches = 8;
  uint64_t seed = 1337;

  nlohmann::json to_json() const;
  LrSchedule schedule() const;
};

struct StepInfo {
  int64_t step = 0;  // steps completed (1 after the first update)
  int64_t total_steps = 0;
  float loss = 0;
  float lr = 0;
  double grad_norm = 0;    // before clipping
  double tokens_per_s = 0;
  double elapsed_s = 0;    // since run() started
  std::optional<float> val_loss;
};

class Trainer {
 public:
  using StepCallback = std::function<void(const StepInfo&)>;

  // model and data must outlive the trainer.
  Trainer(GPT2Model& model, const TextDataset& data, TrainOptions options);

  // Runs steps step() .. options.steps. Returns false when cancelled (after
  // the step in progress completes), true when all steps ran.
  bool run(const StepCallback& on_step = nullptr, const std::atomic<bool>* cancel = nullptr);
  // One update; returns the training loss of its batch.
  StepInfo train_step();

  int64_t step() const { return step_; }
  void set_step(int64_t s) { step_ = s; }  // when resuming
  AdamW& optimizer() { return optimizer_; }
  const AdamW& optimizer() const { return optimizer_; }
  const TrainOptions& options() const { return options_; }
  GPT2Model& model() { return model_; }

  // Batch k of this run (a pure function of seed and k).
  Batch batch_for_step(int64_t k) const;

 private:
  GPT2Model& model_;
  const TextDataset& data_;
  TrainOptions options_;
  AdamW optimizer_;
  int64_t step_ = 0;
};

}  // namespace rbe
