// Training throughput of the Mini GPT-2 (the `mini` preset: 2 layers, 256 dim,
// 4 heads, context 256, vocab 65) at batch 16: one step = forward, backward,
// AdamW update, exactly what rbe-train does per step. Reported as tokens/s at
// 1 and 2 threads. tests/bench/train_speed.sh runs this beside PyTorch.
#include <benchmark/benchmark.h>
#include <tbb/global_control.h>

#include "autodiff/node.h"
#include "models/gpt2.h"
#include "nn/functional.h"
#include "tensor/random.h"
#include "train/adamw.h"

namespace {

void BM_TrainStepMini(benchmark::State& state) {
  const int threads = int(state.range(0));
  const int64_t B = state.range(1), T = 256;
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));

  rbe::ModelConfig cfg = rbe::ModelConfig::preset("mini");
  rbe::GPT2Model model(cfg, 1337);
  rbe::AdamW opt(model.named_parameters(), {.lr = 1e-3f, .weight_decay = 0.1f});

  // Random tokens: the cost of a step does not depend on the text.
  rbe::Rng rng(7);
  std::vector<int32_t> x(size_t(B * T)), y(size_t(B * T));
  for (auto& v : x) v = int32_t(rng.below(uint64_t(cfg.vocab_size)));
  for (auto& v : y) v = int32_t(rng.below(uint64_t(cfg.vocab_size)));
  rbe::Tensor ids = rbe::Tensor::from_vector(x, {B, T});
  rbe::Tensor targets = rbe::Tensor::from_vector(y, {B, T});

  float loss_value = 0;
  for (auto _ : state) {
    rbe::Tensor loss = rbe::nn::F::cross_entropy(model.forward(ids), targets);
    opt.zero_grad();
    rbe::backward(loss);
    opt.step();
    loss_value = loss.item();
  }
  benchmark::DoNotOptimize(loss_value);
  state.counters["tokens_per_s"] =
      benchmark::Counter(double(B * T), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

// Args: threads, batch.
BENCHMARK(BM_TrainStepMini)->Args({1, 16})->Args({2, 16})->Unit(benchmark::kMillisecond)->MinTime(5.0)->UseRealTime();

BENCHMARK_MAIN();
