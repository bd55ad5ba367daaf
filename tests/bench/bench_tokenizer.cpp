// GPT-2 tokenizer throughput on Tiny Shakespeare (1.1 MB), in bytes of text
// per second. Run by hand from the build directory:
//   ./tests/bench_tokenizer [--benchmark_repetitions=5]
// Encode "cold" builds a fresh tokenizer each iteration (empty piece cache,
// loading excluded from the timing); "warm" reuses one whose cache already
// holds the text's pieces.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tensor/atomic_file.h"
#include "models/gpt2_tokenizer.h"

namespace {

// ../shared next to the source tree (found from this file's path), or
// RBE_SHARED_DIR from the environment.
std::string shared_dir() {
  if (const char* d = std::getenv("RBE_SHARED_DIR")) return d;
  return (std::filesystem::path(__FILE__).parent_path() / "../../../shared").string();
}

const std::string& text() {
  static const std::string t = rbe::read_file(shared_dir() + "/data/tinyshakespeare.txt");
  return t;
}

rbe::GPT2Tokenizer load() {
  std::string d = shared_dir() + "/data/gpt2/";
  return rbe::GPT2Tokenizer::from_files(d + "encoder.json", d + "vocab.bpe");
}

void BM_EncodeWarm(benchmark::State& state) {
  auto tok = load();
  tok.encode(text());
  size_t n = 0;
  for (auto _ : state) {
    auto ids = tok.encode(text());
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text().size()));
  state.counters["tokens"] = double(n);
}

void BM_EncodeCold(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto tok = load();
    state.ResumeTiming();
    auto ids = tok.encode(text());
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text().size()));
}

void BM_Decode(benchmark::State& state) {
  auto tok = load();
  auto ids = tok.encode(text());
  for (auto _ : state) {
    auto s = tok.decode(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text().size()));
  state.counters["tokens"] = double(ids.size());
}

void BM_Load(benchmark::State& state) {
  for (auto _ : state) {
    auto tok = load();
    benchmark::DoNotOptimize(tok.vocab_size());
  }
}

BENCHMARK(BM_EncodeWarm)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeCold)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
