// Decode attention over the KV cache as a batch-1 token runs it
// (MultiHeadAttention::attend_rows, one new position per layer), 124M shape:
// 12 layers of 12 heads of 64, an f16 or f32 cache holding P positions, two
// threads held as in a token (kernels::SpinScope). Before each layer's call
// the two threads read 20 MiB of other memory, as a token's products do
// between two attention calls, so that the cache comes from memory as it does
// in a token. Each iteration is paired with every loop of rbe-bench's read
// probe over the bytes attention reads (each head's keys and values, P + 1
// positions; 64 MiB of other memory read before each loop's pass, or the
// 6 MB would stay in L3): counter GBps is the cache bytes attention reads per
// second, of_probe the median over iterations of its rate over the probe's
// (ProbePairs, probe_pairs.h), probe_GBps the probe's rate. Args: P.
//   bench_attention --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include "nn/attention.h"
#include "probe_pairs.h"
#include "tensor/dtype.h"
#include "tensor/kernels/parallel_for_range.h"
#include "tensor/kernels/read_bandwidth.h"
#include "tensor/kernels/spin_pool.h"

namespace {

using rbe::bench::Buffer;
using rbe::bench::make_buffer;
using rbe::bench::median_of;
using rbe::bench::ProbePairs;

constexpr int64_t kLayers = 12, kHeads = 12, kHeadDim = 64, kWidth = kHeads * kHeadDim;

// Memory the cache is evicted by: each call reads the next `bytes` of a
// 256 MiB buffer (one 8-byte word per 64-byte line: every line comes in) on
// the current threads, wrapping around, so that no read finds its lines in
// cache from the previous one.
class OtherMemory {
 public:
  OtherMemory() : buf_(make_buffer<uint64_t>(kBytes / 8)) {
    for (int64_t i = 0; i < kBytes / 8; ++i) buf_[size_t(i)] = uint64_t(i);
  }
  void read(int64_t bytes) {
    if (pos_ + bytes > kBytes) pos_ = 0;
    const uint64_t* p = buf_.get() + pos_ / 8;
    std::atomic<uint64_t> sum{0};
    rbe::kernels::parallel_for_range(bytes / 64, 4096, [&](int64_t a, int64_t b) {
      uint64_t s = 0;
      for (int64_t i = a; i < b; ++i) s += p[i * 8];
      sum.fetch_add(s, std::memory_order_relaxed);
    });
    benchmark::DoNotOptimize(sum.load());
    pos_ += bytes;
  }

 private:
  static constexpr int64_t kBytes = int64_t(256) << 20;
  Buffer<uint64_t> buf_;
  int64_t pos_ = 0;
};

template <class T>
void BM_decode_attention(benchmark::State& state) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
  const int64_t P = state.range(0), ML = P + 1;
  const rbe::DType dtype = std::is_same_v<T, uint16_t> ? rbe::DType::F16 : rbe::DType::F32;
  rbe::nn::KVCache cache(kLayers, 1, kHeads, ML, kHeadDim, dtype);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t l = 0; l < kLayers; ++l)
    for (rbe::Tensor* t : {&cache.k[size_t(l)], &cache.v[size_t(l)]}) {
      T* p = static_cast<T*>(t->raw_data());
      for (int64_t i = 0; i < kHeads * ML * kHeadDim; ++i) {
        if constexpr (std::is_same_v<T, uint16_t>) p[i] = rbe::f32_to_f16(normal(rng));
        else p[i] = normal(rng);
      }
    }
  cache.length = P;
  const rbe::nn::MultiHeadAttention attn(kWidth, kHeads);
  std::vector<float> qkv(3 * kWidth), y(kWidth);
  for (float& v : qkv) v = normal(rng);

  // Each call writes the new position's keys and values, the same every time:
  // written once before the probe's first pass, whose sum every pass must match.
  for (int64_t l = 0; l < kLayers; ++l) attn.attend_rows(qkv.data(), 1, cache, l, y.data());

  // What a call reads of each head: the P cached positions and the new one.
  std::vector<std::span<const std::byte>> spans;
  const size_t head_bytes = size_t(ML * kHeadDim) * sizeof(T);
  for (int64_t l = 0; l < kLayers; ++l)
    for (const rbe::Tensor* t : {&cache.k[size_t(l)], &cache.v[size_t(l)]})
      for (int64_t h = 0; h < kHeads; ++h)
        spans.emplace_back(static_cast<const std::byte*>(t->raw_data()) + size_t(h) * head_bytes, head_bytes);
  const double bytes = double(spans.size() * head_bytes);
  rbe::kernels::ReadProbe probe(spans);
  OtherMemory other;
  ProbePairs pairs;

  for (auto _ : state) {
    pairs.read(probe, [&] { other.read(int64_t(64) << 20); });
    double dt = 0;
    {
      rbe::kernels::SpinScope held;  // the threads of a token
      for (int64_t l = 0; l < kLayers; ++l) {
        other.read(int64_t(20) << 20);
        const auto t0 = std::chrono::steady_clock::now();
        attn.attend_rows(qkv.data(), 1, cache, l, y.data());
        dt += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    }
    benchmark::DoNotOptimize(y.data());
    state.SetIterationTime(dt);
    pairs.add_run(bytes / dt / 1e9);
  }
  const double gbs = median_of(pairs.run_gbs);
  state.counters["GBps"] = gbs;
  state.counters["probe_GBps"] = median_of(pairs.probe_gbs());
  state.counters["of_probe"] = pairs.ratio();
  state.counters["us_per_layer"] = bytes / (gbs * 1e9) / double(kLayers) * 1e6;
}

}  // namespace

BENCHMARK_TEMPLATE(BM_decode_attention, uint16_t)
    ->Name("decode_attention/f16")->Arg(160)->Arg(512)->Arg(1000)->Iterations(40)
    ->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK_TEMPLATE(BM_decode_attention, float)
    ->Name("decode_attention/f32")->Arg(160)->Arg(512)->Arg(1000)->Iterations(40)
    ->Unit(benchmark::kMicrosecond)->UseManualTime();

BENCHMARK_MAIN();
