#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "autodiff/node.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "train/adamw.h"
#include "train/evaluate.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/text_dataset.h"
#include "train/trainer.h"
#include "tensor/ops.h"

using namespace rbe;
namespace fs = std::filesystem;

// ---- AdamW ----

TEST(AdamW, OneStepMatchesHandComputation) {
  Tensor w = Tensor::from_vector(std::vector<float>{1.f, -2.f, 0.5f, 3.f}, {2, 2}).set_requires_grad(true);
  Tensor b = Tensor::from_vector(std::vector<float>{0.25f, -0.75f}, {2}).set_requires_grad(true);
  w.set_grad(Tensor::from_vector(std::vector<float>{0.1f, -0.2f, 0.0f, 4.f}, {2, 2}));
  b.set_grad(Tensor::from_vector(std::vector<float>{-1.f, 0.5f}, {2}));
  AdamWOptions o{0.1f, 0.9f, 0.99f, 1e-8f, 0.5f};
  AdamW opt({{"w", w}, {"b", b}}, o);
  EXPECT_TRUE(opt.decays(0));
  EXPECT_FALSE(opt.decays(1));  // 1-d: no weight decay

  std::vector<float> w0 = w.to_vector(), gw = w.grad().to_vector(), b0 = b.to_vector(), gb = b.grad().to_vector();
  opt.step();
  // Step 1 with zero moments: m_hat = g, v_hat = g^2, so update = lr * g / (|g| + eps).
  auto expect = [&](float p, float g, bool decay) {
    double pd = decay ? p * (1.0 - o.lr * o.weight_decay) : p;
    double m = (1 - o.beta1) * g, v = (1 - o.beta2) * double(g) * g;
    double mh = m / (1 - o.beta1), vh = v / (1 - o.beta2);
    return float(pd - o.lr * mh / (std::sqrt(vh) + o.eps));
  };
  auto wv = w.to_vector(), bv = b.to_vector();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(wv[i], expect(w0[i], gw[i], true), 1e-6) << i;
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(bv[i], expect(b0[i], gb[i], false), 1e-6) << i;
  EXPECT_EQ(opt.step_count(), 1);

  // Second step with the same gradient: compare against a double-precision re-run.
  double p = wv[3], m = 0.1 * 4.0, v = 0.01 * 16.0;
  m = 0.9 * m + 0.1 * 4.0;
  v = 0.99 * v + 0.01 * 16.0;
  double pd = p * (1 - 0.1 * 0.5);
  double want = pd - 0.1 * (m / (1 - 0.81)) / (std::sqrt(v / (1 - 0.99 * 0.99)) + 1e-8);
  opt.step();
  EXPECT_NEAR(w.to_vector()[3], want, 1e-5);

  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  std::vector<float> before = w.to_vector();
  opt.step();  // no gradients: nothing changes
  EXPECT_EQ(w.to_vector(), before);
}

TEST(AdamW, LargeParameterUsesParallelPathConsistently) {
  // Above the parallel threshold; every element must get the same update as a small copy.
  const int64_t n = 200000;
  Tensor big = Tensor::randn({n / 100, 100}, 7).set_requires_grad(true);
  Tensor small = ops::slice(big, 0, 0, 1).clone().set_requires_grad(true);
  Tensor g = Tensor::randn({n / 100, 100}, 8);
  big.set_grad(g);
  small.set_grad(ops::slice(g, 0, 0, 1).clone());
  AdamW a({{"big", big}}), b({{"small", small}});
  a.step();
  b.step();
  EXPECT_EQ(ops::slice(big, 0, 0, 1).to_vector(), small.to_vector());
}

TEST(AdamW, StateRoundTripAndErrors) {
  Tensor w = Tensor::randn({3, 2}, 1).set_requires_grad(true);
  w.set_grad(Tensor::ones({3, 2}));
  AdamW a({{"w", w}});
  a.step();
  auto state = a.state_tensors();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "m.w");
  EXPECT_EQ(state[1].first, "v.w");
  AdamW b({{"w", w}});
  b.load_state(state, 1);
  EXPECT_EQ(b.step_count(), 1);
  EXPECT_EQ(b.state_tensors()[0].second.to_vector(), state[0].second.to_vector());
  EXPECT_THROW(b.load_state({state[0]}, 1), std::runtime_error);
  EXPECT_THROW(b.load_state({state[0], {"v.w", Tensor::zeros({2, 3})}}, 1), std::runtime_error);
  EXPECT_THROW(b.load_state({state[0], state[1], {"m.other", Tensor::zeros({1})}}, 1), std::runtime_error);
}

// ---- schedule and clipping ----

TEST(LrSchedule, WarmupThenCosine) {
  LrSchedule s{1.0f, 0.1f, 10, 110};
  EXPECT_FLOAT_EQ(s.at(0), 0.1f);
  EXPECT_FLOAT_EQ(s.at(4), 0.5f);
  EXPECT_FLOAT_EQ(s.at(9), 1.0f);
  EXPECT_FLOAT_EQ(s.at(10), 1.0f);                // decay starts at its peak
  EXPECT_NEAR(s.at(60), 0.55f, 1e-6);             // halfway: (max + min) / 2
  EXPECT_NEAR(s.at(35), 0.1f + 0.9f * 0.5f * (1 + std::cos(M_PI * 0.25)), 1e-6);
  EXPECT_FLOAT_EQ(s.at(110), 0.1f);
  EXPECT_FLOAT_EQ(s.at(500), 0.1f);
  for (int64_t i = 10; i < 110; ++i) EXPECT_GE(s.at(i), s.at(i + 1));  // monotone decay
  LrSchedule flat{0.5f, 0.5f, 0, 10};
  EXPECT_FLOAT_EQ(flat.at(3), 0.5f);
}

TEST(GradClip, ScalesToMaxNorm) {
  Tensor a = Tensor::zeros({2}).set_requires_grad(true);
  Tensor b = Tensor::zeros({2, 1}).set_requires_grad(true);
  Tensor c = Tensor::zeros({3}).set_requires_grad(true);  // no gradient
  a.set_grad(Tensor::from_vector(std::vector<float>{3.f, 0.f}, {2}));
  b.set_grad(Tensor::from_vector(std::vector<float>{0.f, 4.f}, {2, 1}));
  EXPECT_NEAR(grad_global_norm({a, b, c}), 5.0, 1e-12);
  EXPECT_NEAR(clip_grad_norm({a, b, c}, 10.0), 5.0, 1e-12);  // under the limit: untouched
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{3.f, 0.f}));
  EXPECT_NEAR(clip_grad_norm({a, b, c}, 1.0), 5.0, 1e-12);
  EXPECT_NEAR(a.grad().to_vector()[0], 0.6f, 1e-6);
  EXPECT_NEAR(b.grad().to_vector()[1], 0.8f, 1e-6);
  EXPECT_NEAR(grad_global_norm({a, b, c}), 1.0, 1e-5);
  EXPECT_NEAR(clip_grad_norm({a, b}, 0.0), 1.0, 1e-5);  // 0: off
}

// ---- data ----

TEST(TextDataset, SplitAndDeterministicBatches) {
  std::vector<int32_t> tokens(100);
  for (int i = 0; i < 100; ++i) tokens[i] = i;
  TextDataset d(tokens);
  EXPECT_EQ(d.train_tokens().size(), 90u);
  EXPECT_EQ(d.val_tokens().size(), 10u);
  EXPECT_EQ(d.val_tokens()[0], 90);
  Rng r1(5), r2(5);
  Batch a = d.sample_train(4, 8, r1), b = d.sample_train(4, 8, r2);
  EXPECT_EQ(a.inputs.shape(), (Shape{4, 8}));
  EXPECT_EQ(a.inputs.to_int_vector(), b.inputs.to_int_vector());
  auto x = a.inputs.to_int_vector(), y = a.targets.to_int_vector();
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(y[i], x[i] + 1);  // targets are inputs shifted by one
    EXPECT_LT(y[i], 90);        // never crosses into validation
  }
  Rng r3(1);
  EXPECT_THROW(TextDataset::sample(d.val_tokens(), 1, 10, r3), ShapeError);  // 10 tokens < ctx + 1
}

// ---- training a tiny model ----

namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 11;
  c.n_positions = 16;
  c.n_embd = 16;
  c.n_layer = 1;
  c.n_head = 2;
  c.tokenizer = "char";
  return c;
}

// A learnable pattern over 11 symbols.
std::vector<int32_t> tiny_tokens() {
  std::vector<int32_t> t(600);
  for (size_t i = 0; i < t.size(); ++i) t[i] = int32_t((i * 7 + i / 13) % 11);
  return t;
}

TrainOptions tiny_options(int64_t steps) {
  TrainOptions o;
  o.steps = steps;
  o.batch = 4;
  o.ctx = 8;
  o.lr = 1e-2f;
  o.warmup = 1;
  o.seed = 42;
  o.eval_every = 0;
  o.eval_batches = 2;
  return o;
}

std::vector<float> run_losses(int64_t steps) {
  GPT2Model model(tiny_config(), 3);
  TextDataset data(tiny_tokens());
  Trainer t(model, data, tiny_options(steps));
  std::vector<float> losses;
  t.run([&](const StepInfo& s) { losses.push_back(s.loss); });
  return losses;
}

fs::path temp_dir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("rbe_train_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  return p;
}

}  // namespace

TEST(Trainer, DeterministicWithSeed) {
  auto a = run_losses(3), b = run_losses(3);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a, b);
  for (float l : a) EXPECT_TRUE(std::isfinite(l));
  EXPECT_NEAR(a[0], std::log(11.f), 0.5f);  // starts near uniform
}

TEST(Trainer, LossDecreasesAndReportsValidation) {
  GPT2Model model(tiny_config(), 3);
  TextDataset data(tiny_tokens());
  TrainOptions o = tiny_options(30);
  o.eval_every = 10;
  Trainer t(model, data, o);
  std::vector<StepInfo> infos;
  std::atomic<bool> cancel{false};
  EXPECT_TRUE(t.run([&](const StepInfo& s) { infos.push_back(s); }, &cancel));
  ASSERT_EQ(infos.size(), 30u);
  EXPECT_LT(infos.back().loss, infos.front().loss - 0.3f);
  for (const auto& s : infos) EXPECT_EQ(s.val_loss.has_value(), s.step % 10 == 0) << s.step;
  EXPECT_GT(infos.back().tokens_per_s, 0);
  EXPECT_NEAR(infos[0].lr, 1e-2f, 1e-9);  // warmup 1: full lr at step 0

  cancel = true;
  t.set_step(0);
  EXPECT_FALSE(t.run(nullptr, &cancel));
  EXPECT_EQ(t.step(), 0);
}

TEST(Trainer, ResumeMatchesStraightRun) {
  auto straight = run_losses(4);

  auto dir = temp_dir("resume");
  TextDataset data(tiny_tokens());
  std::vector<float> resumed;
  auto tok = CharTokenizer::from_text("0123456789a");
  {
    GPT2Model model(tiny_config(), 3);
    Trainer t(model, data, tiny_options(4));
    for (int i = 0; i < 2; ++i) resumed.push_back(t.train_step().loss);
    ckpt::TrainState s{t.step(), t.options().seed, 0, t.options().to_json()};
    ckpt::save(dir.string(), model, &tok, &t.optimizer(), &s);
  }
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "optimizer.safetensors", "train_state.json"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  {
    ckpt::Loaded ck = ckpt::load(dir.string());
    ASSERT_TRUE(ck.tokenizer.has_value());
    EXPECT_EQ(ck.tokenizer->size(), 11);
    Trainer t(*ck.model, data, tiny_options(4));
    ckpt::TrainState s = ckpt::load_train_state(dir.string(), t.optimizer());
    EXPECT_EQ(s.step, 2);
    EXPECT_EQ(s.seed, 42u);
    t.set_step(s.step);
    t.run([&](const StepInfo& info) { resumed.push_back(info.loss); });
  }
  ASSERT_EQ(resumed.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(resumed[i], straight[i], 1e-5) << "step " << i;
  fs::remove_all(dir);
}

// train_state.json's numbers are read as integers of their fields' types: a
// float or an out-of-range integer is an error that names the field, not a
// cast (undefined for 1e300).
TEST(Checkpoint, TrainStateNumbersMustBeIntegers) {
  auto dir = temp_dir("ckstate");
  auto tok = CharTokenizer::from_text("0123456789a");
  TextDataset data(tiny_tokens());
  GPT2Model model(tiny_config(), 3);
  Trainer t(model, data, tiny_options(4));
  t.train_step();
  ckpt::TrainState s{t.step(), t.options().seed, 1, t.options().to_json()};
  ckpt::save(dir.string(), model, &tok, &t.optimizer(), &s);
  const fs::path state = dir / "train_state.json";
  const nlohmann::json good = nlohmann::json::parse(std::ifstream(state));
  EXPECT_EQ(ckpt::read_train_state(dir.string()).step, 1);
  const std::vector<std::pair<std::string, nlohmann::json>> bad_values = {
      {"step", 1e300}, {"step", 2.5}, {"seed", -1}, {"seed", 1e300}, {"optimizer_step_count", 1.0}};
  for (const auto& [key, value] : bad_values) {
    nlohmann::json bad = good;
    bad[key] = value;
    std::ofstream(state) << bad.dump();
    try {
      ckpt::load_train_state(dir.string(), t.optimizer());
      ADD_FAILURE() << key << " = " << value.dump() << " was accepted";
    } catch (const ckpt::CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(key + " must be an integer"), std::string::npos) << e.what();
    }
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, LoadErrorsNameTheTensor) {
  auto dir = temp_dir("ckerr");
  auto tok = CharTokenizer::from_text("0123456789a");
  GPT2Model model(tiny_config(), 1);
  ckpt::save(dir.string(), model, &tok);
  EXPECT_FALSE(ckpt::has_train_state(dir.string()));

  // Weights round trip exactly.
  auto ck = ckpt::load(dir.string());
  auto a = model.named_parameters(), b = ck.model->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].second.to_vector(), b[i].second.to_vector()) << a[i].first;

  auto expect_msg = [](auto f, const std::string& part) {
    try {
      f();
      ADD_FAILURE() << "expected an error containing " << part;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  auto params = model.named_parameters();
  const std::string weights = (dir / "model.safetensors").string();
  // Missing tensor.
  auto missing = params;
  std::string dropped = missing.back().first;
  missing.pop_back();
  safetensors::save(weights, missing);
  expect_msg([&] { ckpt::load(dir.string()); }, "missing tensor '" + dropped + "'");
  // Extra tensor.
  auto extra = params;
  extra.emplace_back("h.9.bogus", Tensor::zeros({1}));
  safetensors::save(weights, extra);
  expect_msg([&] { ckpt::load(dir.string()); }, "unexpected tensor 'h.9.bogus'");
  // Wrong shape.
  auto wrong = params;
  wrong[0].second = Tensor::zeros({3});
  safetensors::save(weights, wrong);
  expect_msg([&] { ckpt::load(dir.string()); }, "'" + params[0].first + "' has shape [3]");
  // F16 weights load (converted).
  std::vector<std::pair<std::string, Tensor>> half;
  for (auto& [n, t] : params) half.emplace_back(n, t.to(DType::F16));
  safetensors::save(weights, half);
  EXPECT_NO_THROW(ckpt::load(dir.string()));
  // No train state to resume from.
  AdamW opt(model.named_parameters());
  expect_msg([&] { ckpt::load_train_state(dir.string(), opt); }, "no training state");
  expect_msg([&] { ckpt::load((dir / "nope").string()); }, "nope");
  fs::remove(weights);
  expect_msg([&] { ckpt::load(dir.string()); }, "missing model.safetensors");
  fs::remove_all(dir);
}

TEST(Evaluate, WindowsScoreEveryPredictionOnce) {
  GPT2Model model(tiny_config(), 5);
  auto tokens = tiny_tokens();
  tokens.resize(50);
  // Non-overlapping (stride = ctx) with different batch sizes: same answer.
  EvalResult a = evaluate_tokens(model, tokens, 8, 8, 1);
  EvalResult b = evaluate_tokens(model, tokens, 8, 8, 4);
  EXPECT_EQ(a.tokens, 49);
  EXPECT_EQ(b.tokens, 49);
  EXPECT_NEAR(a.loss, b.loss, 1e-5);
  EXPECT_NEAR(a.perplexity, std::exp(a.loss), 1e-6);
  // Sliding windows also score each of the 49 predictions once.
  EvalResult c = evaluate_tokens(model, tokens, 8, 3, 2);
  EXPECT_EQ(c.tokens, 49);
  EXPECT_TRUE(std::isfinite(c.loss));
  // With the full context in one window, stride does not matter.
  EvalResult d = evaluate_tokens(model, std::vector<int32_t>(tokens.begin(), tokens.begin() + 9), 8, 2, 2);
  EvalResult e = evaluate_tokens(model, std::vector<int32_t>(tokens.begin(), tokens.begin() + 9), 8, 8, 2);
  EXPECT_NEAR(d.loss, e.loss, 1e-5);
  // Progress after each batch: 50 tokens in windows of 8, stride 3 -> the
  // first window scores 8, then 14 more windows (13 of 3, the last of 2) in
  // batches of 4 of equal length.
  std::vector<std::pair<int64_t, int64_t>> calls;
  EvalResult f = evaluate_tokens(model, tokens, 8, 3, 4, 0, [&](int64_t done, int64_t total) {
    calls.emplace_back(done, total);
  });
  EXPECT_NEAR(f.loss, c.loss, 1e-6);
  const std::vector<std::pair<int64_t, int64_t>> want{{8 + 3 * 3, 49}, {8 + 7 * 3, 49}, {8 + 11 * 3, 49}, {49, 49}};
  EXPECT_EQ(calls, want);
  // max_windows: the total is what the run will score.
  calls.clear();
  evaluate_tokens(model, tokens, 8, 3, 4, 2, [&](int64_t done, int64_t total) { calls.emplace_back(done, total); });
  EXPECT_EQ(calls, (std::vector<std::pair<int64_t, int64_t>>{{11, 11}}));
  // A throwing callback leaves the model in the mode it was in.
  model.train();
  EXPECT_THROW(evaluate_tokens(model, tokens, 8, 8, 1, 0, [](int64_t, int64_t) { throw std::runtime_error("stop"); }),
               std::runtime_error);
  EXPECT_TRUE(model.is_training());
  model.eval();
  EXPECT_THROW(evaluate_tokens(model, tokens, 32, 8, 1), ShapeError);  // ctx > n_positions
  EXPECT_THROW(evaluate_tokens(model, tokens, 8, 9, 1), ShapeError);   // stride > ctx
  EXPECT_THROW(evaluate_tokens(model, {1}, 8, 8, 1), ShapeError);
}

// The loop of HuggingFace's "Perplexity of fixed-length models" example,
// written out with the training forward (no KV cache), losses in double.
double hf_example_loss(GPT2Model& model, const std::vector<int32_t>& tokens, int64_t max_length, int64_t stride,
                       int64_t* n_tokens) {
  NoGradGuard no_grad;
  const int64_t seq_len = int64_t(tokens.size()), vocab = model.config().vocab_size;
  double nll_sum = 0;
  int64_t prev_end_loc = 0;
  *n_tokens = 0;
  for (int64_t begin_loc = 0; begin_loc < seq_len; begin_loc += stride) {
    const int64_t end_loc = std::min(begin_loc + max_length, seq_len);
    const int64_t trg_len = end_loc - prev_end_loc, len = end_loc - begin_loc;
    Tensor ids = Tensor::empty({1, len}, DType::I32);
    std::copy(tokens.begin() + begin_loc, tokens.begin() + end_loc, ids.data<int32_t>());
    Tensor logits = model.forward(ids).contiguous();  // [1, len, vocab]
    // Labels are the last trg_len inputs; logits row p - 1 predicts label p.
    double sum = 0;
    int64_t valid = 0;
    for (int64_t p = std::max<int64_t>(len - trg_len, 1); p < len; ++p, ++valid) {
      const float* row = logits.data<float>() + (p - 1) * vocab;
      double z = 0;
      for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(row[v]));
      sum += std::log(z) - double(row[tokens[size_t(begin_loc + p)]]);
    }
    const int64_t num_loss_tokens = trg_len - 1;  // valid labels minus the batch size (1)
    nll_sum += sum / double(valid) * double(num_loss_tokens);
    *n_tokens += num_loss_tokens;
    prev_end_loc = end_loc;
    if (end_loc == seq_len) break;
  }
  return nll_sum / double(*n_tokens);
}

TEST(Evaluate, HuggingFaceWindowsMatchTheirExampleLoop) {
  GPT2Model model(tiny_config(), 5);
  model.eval();
  auto tokens = tiny_tokens();
  tokens.resize(50);
  // {ctx, stride, batch}: overlapping, non-overlapping (HF skips each window's
  // first token), a last window of 2 inputs, and batches of several windows.
  for (auto [ctx, stride, batch] : std::vector<std::array<int64_t, 3>>{{8, 3, 1}, {8, 3, 4}, {8, 8, 2}, {16, 12, 3}, {2, 1, 8}}) {
    SCOPED_TRACE("ctx " + std::to_string(ctx) + " stride " + std::to_string(stride));
    int64_t want_tokens = 0;
    const double want = hf_example_loss(model, tokens, ctx, stride, &want_tokens);
    EvalResult r = evaluate_tokens(model, tokens, ctx, stride, batch, 0, nullptr, EvalWindows::HuggingFace);
    EXPECT_EQ(r.tokens, want_tokens);
    EXPECT_NEAR(r.loss, want, 1e-5 * want);
  }
  // Not the default windows: at stride = ctx HF scores n - windows tokens, we n - 1.
  EXPECT_EQ(evaluate_tokens(model, tokens, 8, 8, 1, 0, nullptr, EvalWindows::HuggingFace).tokens, 50 - 7);
  EXPECT_EQ(evaluate_tokens(model, tokens, 8, 8, 1).tokens, 49);
  // One-token windows score nothing.
  EXPECT_THROW(evaluate_tokens(model, tokens, 1, 1, 1, 0, nullptr, EvalWindows::HuggingFace), ShapeError);
}
