// Batched generation of prompts of different lengths on the 117M preset
// (random weights): one left-padded batch (generate_batch) against the same 8
// prompts run one at a time (generate), which is what the former
// group-by-length path did when no two lengths were equal. Greedy, 32 new
// tokens per prompt; counter gen_tokens_per_s = 8 * 32 / time. Arg: 0 = f32
// weights, 1 = f16. BM_DecodeStep times one decoding step at batch 1, 2, 8;
// BM_HeldThreadsVsTbb pairs steps with and without threads held for the step,
// BM_BufferStepsVsTensors steps on row buffers and through the tensor ops.
// Run by hand from the build directory:
//   ./tests/bench_batch --benchmark_min_time=0.01 --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_filter=-DecodeStep
//   ./tests/bench_batch --benchmark_filter=DecodeStep
//   ./tests/bench_batch --benchmark_filter=HeldThreads --benchmark_min_time=3
//   ./tests/bench_batch --benchmark_filter=BufferSteps --benchmark_min_time=3
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/node.h"
#include "generate/generate.h"
#include "models/gpt2.h"
#include "nn/decode_step.h"
#include "tensor/kernels/spin_pool.h"

namespace {

using namespace rbe;

constexpr int kNewTokens = 32;

GPT2Model& model(int64_t f16) {
  static std::unique_ptr<GPT2Model> m[2];
  if (!m[f16]) {
    m[f16] = std::make_unique<GPT2Model>(ModelConfig::preset("117M"), 1);
    m[f16]->eval();
    if (f16) m[f16]->cast_parameters(DType::F16);
  }
  return *m[f16];
}

std::vector<std::vector<int32_t>> prompts(bool ragged) {
  const int64_t lengths[8] = {7, 19, 33, 48, 64, 80, 101, 128};  // mean 60
  std::vector<std::vector<int32_t>> p;
  for (int i = 0; i < 8; ++i) {
    const int64_t n = ragged ? lengths[i] : 60;
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) ids[size_t(t)] = int32_t((i * 7919 + t * 104729 + 13) % 50257);
    p.push_back(std::move(ids));
  }
  return p;
}

SamplingParams greedy() {
  SamplingParams s;
  s.temperature = 0.f;
  s.max_tokens = kNewTokens;
  return s;
}

void count(benchmark::State& state, size_t generated) {
  state.counters["gen_tokens_per_s"] =
      benchmark::Counter(double(generated) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// The 8 ragged prompts as one left-padded batch.
void BM_RaggedBatch(benchmark::State& state) {
  GPT2Model& m = model(state.range(0));
  const auto p = prompts(true);
  size_t n = 0;
  for (auto _ : state) {
    n = 0;
    for (const auto& out : generate_batch(m, p, greedy())) n += out.size();
  }
  count(state, n);
}

// The same prompts one after another.
void BM_OneAtATime(benchmark::State& state) {
  GPT2Model& m = model(state.range(0));
  const auto p = prompts(true);
  size_t n = 0;
  for (auto _ : state) {
    n = 0;
    for (const auto& prompt : p) n += generate(m, prompt, greedy()).size();
  }
  count(state, n);
}

// 8 prompts of the mean length (60) in one batch: no padding, for scale.
void BM_EqualLengthBatch(benchmark::State& state) {
  GPT2Model& m = model(state.range(0));
  const auto p = prompts(false);
  size_t n = 0;
  for (auto _ : state) {
    n = 0;
    for (const auto& out : generate_batch(m, p, greedy())) n += out.size();
  }
  count(state, n);
}

// A batch-B KV cache after a 60-token prompt, and one new token per row.
struct Decoding {
  GPT2Model& m;
  int64_t B;
  nn::KVCache cache;
  std::vector<int32_t> prompt, next;
  Decoding(GPT2Model& model, int64_t b)
      : m(model), B(b), cache(model.make_cache(b, 1024)), prompt(size_t(b * 60), 13), next(size_t(b), 7) {
    restart();
  }
  void restart() {
    cache.reset();
    m.forward_cached(Tensor::from_vector(prompt, {B, 60}), cache, /*last=*/1);
  }
  Tensor step() { return m.forward_cached(Tensor::from_vector(next, {B, 1}), cache); }
};

// One decoding step (1 new token per row) at batch B after a 60-token prompt:
// what batching saves per token. Args: f16, B.
void BM_DecodeStep(benchmark::State& state) {
  NoGradGuard ng;
  Decoding d(model(state.range(0)), state.range(1));
  for (auto _ : state) {
    if (d.cache.length == d.cache.max_length) {
      state.PauseTiming();
      d.restart();
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(d.step().data<float>());
  }
  state.counters["rows"] = double(d.B);  // time per row = time / rows
}

// Decoding steps in two modes alternating step by step in one run (the VM's
// memory speed drifts over seconds): set(true) selects mode a, set(false)
// mode b. Counters <a>_ms and <b>_ms (mean time of a step) and
// <a>_over_<b>, the median over pairs of the two steps' time ratio.
void paired_steps(benchmark::State& state, const std::function<void(bool)>& set, const std::string& a,
                  const std::string& b) {
  NoGradGuard ng;
  Decoding d(model(state.range(0)), state.range(1));
  std::vector<double> ratios;
  double t_sum[2] = {0, 0};
  bool a_first = true;
  for (auto _ : state) {
    if (d.cache.length + 2 > d.cache.max_length) {
      state.PauseTiming();
      d.restart();
      state.ResumeTiming();
    }
    double t[2];  // [0]: a, [1]: b
    for (int k = 0; k < 2; ++k) {
      const int mode = a_first ? k : 1 - k;
      set(mode == 0);
      const auto t0 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(d.step().data<float>());
      t[mode] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    a_first = !a_first;
    t_sum[0] += t[0], t_sum[1] += t[1];
    ratios.push_back(t[0] / t[1]);
  }
  std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
  const double n = double(state.iterations());
  state.counters[a + "_ms"] = t_sum[0] / n;
  state.counters[b + "_ms"] = t_sum[1] / n;
  state.counters[a + "_over_" + b] = ratios.empty() ? 0.0 : ratios[ratios.size() / 2];
}

// Threads held for the step (kernels::SpinScope) against oneTBB's loops. Args: f16, B.
void BM_HeldThreadsVsTbb(benchmark::State& state) {
  const bool was = kernels::spin_pool_enabled();
  paired_steps(state, [](bool held) { kernels::set_spin_pool_enabled(held); }, "held", "tbb");
  kernels::set_spin_pool_enabled(was);
}

// The blocks on row buffers (nn/decode_step.h) against the tensor path. Args: f16, B.
void BM_BufferStepsVsTensors(benchmark::State& state) {
  const bool was = nn::buffer_steps_enabled();
  paired_steps(state, [](bool buffers) { nn::set_buffer_steps_enabled(buffers); }, "buffers", "tensors");
  nn::set_buffer_steps_enabled(was);
}

BENCHMARK(BM_RaggedBatch)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OneAtATime)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EqualLengthBatch)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeStep)->ArgsProduct({{0, 1}, {1, 2, 8}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_HeldThreadsVsTbb)->ArgsProduct({{0, 1}, {1, 8}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BufferStepsVsTensors)->ArgsProduct({{0, 1}, {1, 8}})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
