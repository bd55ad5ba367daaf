// The cost of picking a token from GPT-2's 50257 logits (generate.h's
// sample_token), per setting, against the greedy pick (argmax) in the same
// run. Run by hand from the build directory:
//   ./tests/bench_sampling --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// The logits: normal with standard deviation 3 and a few dozen at 12-16 (a
// peak, as a trained model's); `flat` keeps only the normal part, where
// top-p's nucleus holds thousands of tokens (its worst case here).
#include <benchmark/benchmark.h>

#include <vector>

#include "generate/generate.h"
#include "tensor/random.h"

namespace {

std::vector<float> logits(bool peak) {
  rbe::Rng gen(7);
  std::vector<float> l(50257);
  for (float& v : l) v = float(gen.normal() * 3.0);
  if (peak)
    for (int i = 0; i < 40; ++i) l[size_t(gen.below(l.size()))] = 12.f + float(i % 5);
  return l;
}

// Args: temperature x 100 (0: greedy), top_k, top_p x 100, peak.
void BM_sample(benchmark::State& state) {
  rbe::SamplingParams p;
  p.temperature = float(state.range(0)) / 100.f;
  p.top_k = int(state.range(1));
  p.top_p = float(state.range(2)) / 100.f;
  const std::vector<float> base = logits(state.range(3) != 0);
  std::vector<float> work(base.size());
  rbe::Rng rng(1);
  for (auto _ : state) {
    work = base;  // sample_token may change them (the repetition penalty); copied in every setting alike
    benchmark::DoNotOptimize(rbe::sample_token(work.data(), int64_t(work.size()), p, rng, {}));
  }
}

}  // namespace

BENCHMARK(BM_sample)
    ->ArgNames({"temp", "top_k", "top_p", "peak"})
    ->Args({0, 0, 100, 1})    // greedy: the baseline
    ->Args({100, 0, 100, 1})  // temperature only (rbe-infer's default, at 0.8)
    ->Args({100, 40, 100, 1})
    ->Args({100, 0, 90, 1})
    ->Args({100, 40, 90, 1})
    ->Args({100, 0, 90, 0})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
