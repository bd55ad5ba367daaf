// GEMV bandwidth: the 49 matrix-vector products of one GPT-2 124M token
// (12 x {qkv 2304x768, proj 768x768, fc 3072x768, fc-proj 768x3072} + head
// 50257x768), f32 and f16 weights, 1 and 2 threads, next to a plain read-sum
// of 512 MiB and to rbe-bench's read-bandwidth probe over the token's bytes
// (read_probe: the best of its read loops, counter probe_GBps). Counter
// bytes_per_second: weight bytes / time.
//   bench_gemv --benchmark_filter='token_gemvs/f(32|16)/2|read_probe'
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// token_reads/f32|f16/T: the same matrices read in the GEMV's row pieces
// (kGemvRowChunking) and its memory schedule (4 row streams per chunk, each
// prefetched 1 KiB (f32) / 2 KiB (f16) ahead into L2) with no arithmetic but a
// sum: the ceiling of that schedule (rows_avx512's: f16 everywhere, f32 on
// Intel; AMD's f32 runs 8 streams, the AVX2 kernel does not prefetch), to set
// token_gemvs against.
//   bench_gemv --benchmark_filter='token_(gemvs|reads)/f(32|16)/2|read_probe'
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// probe_estimators/f16: the median of each pass's fastest probe loop against
// the fastest loop's median (rbe-bench's bandwidth), below.
//   bench_gemv --benchmark_filter=probe_estimators
// token_vs_probe/f32|f16/2/M: the products for M = 1, 2, 4, 8 input rows as a
// fraction of the probe read right before each of them (counter of_probe), below.
//   bench_gemv --benchmark_filter='token_vs_probe/f(32|16)/2/1/'
// layer_calls/f32|f16/N/stacked: the cost of a call (12 products against one
// product of the same bytes), below.
// token_batch/*: the same 49 products for M = 1..32 input rows (batched
// decoding) through sgemv_multi / hgemv_multi (method 0; from 9 rows in even
// groups of at most 8) against the GEMM an inference linear layer would run
// (method 1: sgemm, or gemm_f32w_tiles from 32 rows / gemm_f16w, split AMX
// tiles from 9 rows, where the CPU has them) in the same run, default
// threads. Args: method, M.
//   bench_gemv --benchmark_filter=token_batch --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true
// chunks_vs_probe/f16: the f16 row kernel over rows of 768, 1536 and 3072
// weights in chunks of 64, 288 and 1152 KiB, each against a paired probe,
// below (what a chunk's start and a long row cost).
//   bench_gemv --benchmark_filter=chunks_vs_probe --benchmark_counters_tabular=true
// call_cost/f16/N/held: what starting and joining a product costs, under
// oneTBB and with threads held for the step, below.
// in_cache/f32|f16/KiB: one thread, one product of 768-wide rows whose
// weights (24 KiB: L1; 384 KiB: L2; 6 MiB: L3) stay in cache between
// iterations: the kernel's arithmetic rate with memory out of the way
// (counter ns_per_8: nanoseconds per 8 weights).
//   bench_gemv --benchmark_filter=in_cache
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>

#include "tensor/big_alloc.h"
#include "tensor/dtype.h"
#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemm_f16.h"
#include "tensor/kernels/gemm_split.h"
#include "tensor/kernels/gemv.h"
#include "tensor/kernels/gemv_internal.h"
#include "tensor/kernels/read_bandwidth.h"
#include "tensor/kernels/row_chunks.h"
#include "tensor/kernels/spin_pool.h"
#include "probe_pairs.h"

namespace {

using rbe::bench::Buffer;
using rbe::bench::make_buffer;
using rbe::bench::median_of;
using rbe::bench::ProbePairs;

// The M inputs X [M, K] times W [N, K] into Y [M, N] for either storage (the
// benchmarks are templated on it); M = 1 is the single-vector product.
void product(int64_t M, int64_t N, int64_t K, const float* W, const float* X, float* Y) {
  if (M == 1) rbe::kernels::sgemv(N, K, W, K, X, nullptr, Y);
  else rbe::kernels::sgemv_multi(M, N, K, W, K, X, K, nullptr, Y, N);
}
void product(int64_t M, int64_t N, int64_t K, const uint16_t* W, const float* X, float* Y) {
  if (M == 1) rbe::kernels::hgemv(N, K, W, K, X, nullptr, Y);
  else rbe::kernels::hgemv_multi(M, N, K, W, K, X, K, nullptr, Y, N);
}

struct Mat {
  int64_t N, K;
};

std::vector<Mat> token_matrices() {
  const int64_t C = 768;
  std::vector<Mat> m;
  for (int l = 0; l < 12; ++l) {
    m.push_back({3 * C, C});
    m.push_back({C, C});
    m.push_back({4 * C, C});
    m.push_back({C, 4 * C});
  }
  m.push_back({50257, C});
  return m;
}

// The token's matrices, filled (f16 bits i % 7: tiny subnormals, fine), with
// their total bytes and the largest row count.
template <class T>
struct TokenWeights {
  std::vector<Buffer<T>> w;
  int64_t bytes = 0, max_n = 0;
};
template <class T>
TokenWeights<T> token_weights(const std::vector<Mat>& mats) {
  TokenWeights<T> t;
  for (const Mat& m : mats) {
    t.w.push_back(make_buffer<T>(m.N * m.K));
    for (int64_t i = 0; i < m.N * m.K; ++i) t.w.back()[size_t(i)] = T(i % 7);
    t.bytes += m.N * m.K * int64_t(sizeof(T));
    t.max_n = std::max(t.max_n, m.N);
  }
  return t;
}

template <class T>
void BM_token_gemvs(benchmark::State& state) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  const auto mats = token_matrices();
  const TokenWeights<T> tw = token_weights<T>(mats);
  const auto& w = tw.w;
  const int64_t bytes = tw.bytes, max_n = tw.max_n;
  std::vector<float> x(4 * 768, 0.5f), y(static_cast<size_t>(max_n));
  for (auto _ : state) {
    for (size_t i = 0; i < mats.size(); ++i) product(1, mats[i].N, mats[i].K, w[i].get(), x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

// Sums rows [0, n) of `row_bytes` bytes each as the GEMV kernel walks them:
// four streams of n/4 rows, kAhead bytes prefetched ahead into L2; the rest
// (fewer than 4 rows) plainly.
template <int kAhead>
float read_rows(const char* p, int64_t n, int64_t row_bytes) {
  typedef float v8f __attribute__((vector_size(32)));
  const int64_t h = n / 4, len = h * row_bytes;
  v8f acc[4] = {};
  for (int64_t i = 0; i < len; i += 64)
    for (int s = 0; s < 4; ++s) {
      const char* q = p + s * len + i;
      __builtin_prefetch(q + kAhead, 0, 2);
      v8f a, b;
      std::memcpy(&a, q, 32);
      std::memcpy(&b, q + 32, 32);
      acc[s] += a + b;
    }
  for (const char* q = p + 4 * len; q < p + n * row_bytes; q += 32) {
    v8f a;
    std::memcpy(&a, q, 32);
    acc[0] += a;
  }
  const v8f t = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  return t[0] + t[7];
}

template <class T>
void BM_token_reads(benchmark::State& state) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  const auto mats = token_matrices();
  const TokenWeights<T> tw = token_weights<T>(mats);
  const auto& w = tw.w;
  const int64_t bytes = tw.bytes, max_n = tw.max_n;
  std::vector<float> y(static_cast<size_t>(max_n));
  constexpr int kAhead = sizeof(T) == 2 ? 2048 : 1024;  // as the GEMV kernel (gemv_avx512.cpp)
  for (auto _ : state) {
    for (size_t i = 0; i < mats.size(); ++i) {
      const int64_t row_bytes = mats[i].K * int64_t(sizeof(T));
      const char* base = reinterpret_cast<const char*>(w[i].get());
      rbe::kernels::parallel_row_chunks(mats[i].N, row_bytes, rbe::kernels::kGemvRowChunking,
                                        [&](int64_t r0, int64_t r1) {
                                          y[size_t(r0)] = read_rows<kAhead>(base + r0 * row_bytes, r1 - r0, row_bytes);
                                        });
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

// The token's products for M input rows: multi-vector GEMV or GEMM.
template <class T>
void BM_token_batch(benchmark::State& state) {
  const bool gemm = state.range(0) != 0;
  const int64_t M = state.range(1);
  const auto mats = token_matrices();
  const TokenWeights<T> tw = token_weights<T>(mats);
  const auto& w = tw.w;
  const int64_t bytes = tw.bytes, max_n = tw.max_n;
  const int64_t max_k = 4 * 768;
  Buffer<float> x = make_buffer<float>(M * max_k), y = make_buffer<float>(M * max_n);
  for (int64_t i = 0; i < M * max_k; ++i) x[size_t(i)] = 0.5f;
  for (auto _ : state) {
    for (size_t i = 0; i < mats.size(); ++i) {
      const int64_t N = mats[i].N, K = mats[i].K;
      if (!gemm) product(M, N, K, w[i].get(), x.get(), y.get());
      else if constexpr (sizeof(T) == 4) {
        if (M < rbe::kernels::kSplitTilesMinRowsF32 ||
            !rbe::kernels::gemm_f32w_tiles(M, N, K, x.get(), K, w[i].get(), K, 0.f, y.get(), N))
          rbe::kernels::sgemm(false, true, M, N, K, 1.f, x.get(), K, w[i].get(), K, 0.f, y.get(), N);
      } else rbe::kernels::gemm_f16w(M, N, K, x.get(), K, w[i].get(), K, 0.f, y.get(), N);
    }
    benchmark::DoNotOptimize(y.get());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

// The cost of a call: 12 products of N x 768 (separate calls over 12 slices
// of one buffer: the same memory, the same 2 MiB pages) against one product
// of 12N x 768 over the whole buffer. Each iteration first reads 256 MiB
// (untimed) so that the weights come from memory, as in a token. The gap
// between the two is what starting and ending 11 more parallel products costs.
// Args: N, stacked (0: 12 calls, 1: one call); 30 iterations (the untimed
// reads would otherwise make Google Benchmark's default run take minutes).
//   bench_gemv --benchmark_filter=layer_calls --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true
template <class T>
void BM_layer_calls(benchmark::State& state) {
  const int64_t N = state.range(0), K = 768, L = 12;
  const bool stacked = state.range(1) != 0;
  Buffer<T> w = make_buffer<T>(L * N * K);
  for (int64_t i = 0; i < L * N * K; ++i) w[size_t(i)] = T(i % 7);
  const int64_t flush_n = (256 << 20) / 4;
  Buffer<float> flush = make_buffer<float>(flush_n);
  for (int64_t i = 0; i < flush_n; ++i) flush[size_t(i)] = 1.f;
  std::vector<float> x(size_t(K), 0.5f), y(size_t(L * N));
  auto gemv = [&](int64_t rows, const T* W, float* out) { product(1, rows, K, W, x.data(), out); };
  for (auto _ : state) {
    state.PauseTiming();
    float sum = 0.f;
    for (int64_t i = 0; i < flush_n; i += 16) sum += flush[size_t(i)];
    benchmark::DoNotOptimize(sum);
    state.ResumeTiming();
    if (stacked) gemv(L * N, w.get(), y.data());
    else
      for (int64_t l = 0; l < L; ++l) gemv(N, w.get() + l * N * K, y.data() + l * N);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * L * N * K * int64_t(sizeof(T)));
}

// Plain read-sum of 512 MiB in 4 MiB chunks over the threads (the "plain" loop of
// rbe-bench's probe, over a fixed buffer).
void BM_read_sum(benchmark::State& state) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  typedef float v8f __attribute__((vector_size(32)));
  const int64_t n = (512 << 20) / 32, chunk = (4 << 20) / 32;
  Buffer<v8f> buf = make_buffer<v8f>(n);
  for (int64_t i = 0; i < n; ++i) buf[size_t(i)] = v8f{} + 1.f;
  for (auto _ : state) {
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, n / chunk, 1),
        [&](const tbb::blocked_range<int64_t>& r) {
          for (int64_t c = r.begin(); c < r.end(); ++c) {
            v8f a0{}, a1{}, a2{}, a3{};
            for (int64_t i = c * chunk; i < (c + 1) * chunk; i += 4)
              a0 += buf[size_t(i)], a1 += buf[size_t(i + 1)], a2 += buf[size_t(i + 2)], a3 += buf[size_t(i + 3)];
            v8f s = (a0 + a1) + (a2 + a3);
            benchmark::DoNotOptimize(s);
          }
        },
        tbb::simple_partitioner());
  }
  state.SetBytesProcessed(state.iterations() * n * 32);
}

// rbe-bench's probe (the best of several read loops) over as many bytes as
// the token's products read, default threads.
template <class T>
void BM_read_probe(benchmark::State& state) {
  int64_t bytes = 0;
  for (const Mat& m : token_matrices()) bytes += m.N * m.K * int64_t(sizeof(T));
  double gbs = 0;
  for (auto _ : state) gbs = rbe::kernels::measure_read_bandwidth(bytes).gbs;
  state.counters["probe_GBps"] = gbs;
}

// Two estimators of rbe-bench's probe over an f16 token's bytes (default
// threads). Each iteration reads the bytes once with every loop of the probe,
// then eight times with its first loop ("plain"). Counters: per_token_max,
// the median over iterations of each iteration's fastest pass (rbe-bench's
// estimator until the thirtieth session); fastest_median, the fastest loop's
// median over the iterations (rbe-bench's now, as measure_read_bandwidth's);
// and their ratio, max_over_median. same_loop_ratio is that ratio for the
// eight passes of the one loop, where no loop can be faster than another:
// the part of the gap that is only the largest of eight noisy passes.
//   bench_gemv --benchmark_filter=probe_estimators
void BM_probe_estimators(benchmark::State& state) {
  int64_t bytes = 0;
  for (const Mat& m : token_matrices()) bytes += m.N * m.K * 2;
  rbe::kernels::ReadProbe probe(bytes);
  const size_t loops = rbe::kernels::ReadProbe::loops();
  std::vector<std::vector<double>> rates(loops);
  std::vector<double> round_max, same_all, same_max;
  for (auto _ : state) {
    double best = 0;
    for (size_t l = 0; l < loops; ++l) {
      rates[l].push_back(probe.pass(l));
      best = std::max(best, rates[l].back());
    }
    round_max.push_back(best);
    double same_best = 0;
    for (int i = 0; i < 8; ++i) {
      same_all.push_back(probe.pass(0));
      same_best = std::max(same_best, same_all.back());
    }
    same_max.push_back(same_best);
  }
  double fastest = 0;
  for (const auto& r : rates) fastest = std::max(fastest, median_of(r));
  state.counters["per_token_max"] = median_of(round_max);
  state.counters["fastest_median"] = fastest;
  state.counters["max_over_median"] = median_of(round_max) / fastest;
  state.counters["same_loop_ratio"] = median_of(same_max) / median_of(same_all);
  state.SetBytesProcessed(state.iterations() * bytes * int64_t(loops + 8));
}

// A token's products paired with the probe: each iteration reads the same
// bytes once with every loop of rbe-bench's probe (untimed), then runs the 49
// products for M input rows (timed; M > 1 through sgemv_multi / hgemv_multi);
// counter of_probe is the median over iterations of the products' rate over
// the probe's rate in that iteration (ProbePairs: the loop with the largest
// median; of_probe_per_pass_max against each iteration's fastest pass, as
// before the thirtieth session). Pairing each token with a probe
// next to it in time keeps a VM's drifting memory speed (it moved 1.5x within
// seconds on the Zen 3 VM) out of the ratio. Args: threads, M.
//   bench_gemv --benchmark_filter=token_vs_probe
template <class T>
void BM_token_vs_probe(benchmark::State& state) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  const int64_t M = state.range(1);
  const auto mats = token_matrices();
  const TokenWeights<T> tw = token_weights<T>(mats);
  rbe::kernels::ReadProbe probe(tw.bytes);
  const int64_t max_k = 4 * 768;
  Buffer<float> x = make_buffer<float>(M * max_k), y = make_buffer<float>(M * tw.max_n);
  for (int64_t i = 0; i < M * max_k; ++i) x[size_t(i)] = 0.5f;
  ProbePairs pairs;
  for (auto _ : state) {
    pairs.read(probe);
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < mats.size(); ++i) {
      product(M, mats[i].N, mats[i].K, tw.w[i].get(), x.get(), y.get());
    }
    benchmark::DoNotOptimize(y.get());
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(dt);
    pairs.add_run(double(tw.bytes) / dt / 1e9);
  }
  state.counters["of_probe"] = pairs.ratio();
  state.counters["of_probe_per_pass_max"] = pairs.ratio(/*per_pass_max=*/true);
  state.SetBytesProcessed(state.iterations() * tw.bytes);
}

// What a chunk's start and a row's length cost the f16 row kernel: 144 MiB of
// f16 rows of width K = 768, 1536 or 3072, read by the active kernel in fixed
// chunks of 64, 288 or 1152 KiB handed out by oneTBB (parallel_uniform_chunks;
// the GEMV driver's pieces halve from half a thread's part down to 32 KiB,
// row_chunks.h). Each iteration runs all nine, each paired with every probe
// loop over the same bytes right before it, as in token_vs_probe (the
// configuration's fastest loop by median: ProbePairs), so that every
// configuration meets the same memory speeds. Counters
// K<width>_c<KiB>_lo and _hi: the median ratio (products' rate over the probe's) over the pairs
// whose probe was in the bottom and top third of the run's; probe_lo_GBps and
// probe_hi_GBps, the middle of those thirds (a VM whose memory switches
// between two speeds shows each in one). Default threads.
//   bench_gemv --benchmark_filter=chunks_vs_probe
void BM_chunks_vs_probe(benchmark::State& state) {
  const int64_t bytes = int64_t(144) << 20;
  const int64_t widths[] = {768, 1536, 3072};
  struct Config {
    size_t width;  // index into widths, weights and probes
    int64_t chunk_kib;
    ProbePairs pairs;
  };
  std::vector<Config> configs;
  for (size_t wi = 0; wi < std::size(widths); ++wi)
    for (int64_t c : {64, 288, 1152}) configs.push_back({wi, c, {}});
  std::vector<TokenWeights<uint16_t>> weights;
  std::vector<std::unique_ptr<rbe::kernels::ReadProbe>> probes;
  for (int64_t K : widths) {
    weights.push_back(token_weights<uint16_t>({{bytes / (2 * K), K}}));
    const auto* p = reinterpret_cast<const std::byte*>(weights.back().w[0].get());
    probes.push_back(std::make_unique<rbe::kernels::ReadProbe>(
        std::vector<std::span<const std::byte>>{{p, size_t(weights.back().bytes)}}));
  }
  Buffer<float> x = make_buffer<float>(3072), y = make_buffer<float>(bytes / (2 * 768));
  for (int64_t i = 0; i < 3072; ++i) x[size_t(i)] = 0.5f;
  const auto rows = rbe::kernels::gemv_detail::active().f16;  // what hgemv runs
  double total = 0;
  for (auto _ : state) {
    for (Config& c : configs) {
      const size_t wi = c.width;
      const uint16_t* W = weights[wi].w[0].get();
      const int64_t K = widths[wi], N = bytes / (2 * K);
      c.pairs.read(*probes[wi]);
      const auto t0 = std::chrono::steady_clock::now();
      rbe::kernels::parallel_uniform_chunks(N, 2 * K, c.chunk_kib << 10, [&](int64_t r0, int64_t r1) {
        rows(r0, r1, K, W, K, x.get(), nullptr, y.get());
      });
      benchmark::DoNotOptimize(y.get());
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      total += dt;
      c.pairs.add_run(double(weights[wi].bytes) / dt / 1e9);
    }
    state.SetIterationTime(total), total = 0;
  }
  std::vector<std::vector<double>> probes_of(configs.size());  // [config][pair]
  std::vector<double> all_probes;
  for (size_t ci = 0; ci < configs.size(); ++ci) {
    probes_of[ci] = configs[ci].pairs.probe_gbs();
    all_probes.insert(all_probes.end(), probes_of[ci].begin(), probes_of[ci].end());
  }
  std::sort(all_probes.begin(), all_probes.end());
  const size_t n = all_probes.size();
  const double lo_below = all_probes[n / 3], hi_above = all_probes[n - 1 - n / 3];
  for (size_t ci = 0; ci < configs.size(); ++ci) {
    const Config& c = configs[ci];
    std::vector<double> lo, hi;  // ratios of the pairs whose probe was in the bottom or top third
    for (size_t i = 0; i < c.pairs.run_gbs.size(); ++i) {
      const double probe = probes_of[ci][i], ratio = c.pairs.run_gbs[i] / probe;
      if (probe <= lo_below) lo.push_back(ratio);
      if (probe >= hi_above) hi.push_back(ratio);
    }
    char lo_name[32], hi_name[32];
    const auto K = static_cast<long long>(widths[c.width]), kib = static_cast<long long>(c.chunk_kib);
    std::snprintf(lo_name, sizeof lo_name, "K%lld_c%lld_lo", K, kib);
    std::snprintf(hi_name, sizeof hi_name, "K%lld_c%lld_hi", K, kib);
    if (!lo.empty()) state.counters[lo_name] = median_of(lo);
    if (!hi.empty()) state.counters[hi_name] = median_of(hi);
  }
  state.counters["probe_lo_GBps"] = all_probes[n / 6];
  state.counters["probe_hi_GBps"] = all_probes[n - 1 - n / 6];
  state.SetBytesProcessed(state.iterations() * bytes * int64_t(configs.size()));
}

// One thread, so the product runs on the calling core (no task split).
template <class T>
void BM_in_cache(benchmark::State& state) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
  const int64_t K = 768, N = std::max<int64_t>(4, (state.range(0) << 10) / (K * int64_t(sizeof(T))));
  const TokenWeights<T> tw = token_weights<T>({{N, K}});
  std::vector<float> x(static_cast<size_t>(K), 0.5f), y(static_cast<size_t>(N));
  for (auto _ : state) {
    product(1, N, K, tw.w[0].get(), x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * tw.bytes);
  state.counters["ns_per_8"] = benchmark::Counter(double(state.iterations()) * double(N * K) / 8,
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// What starting and joining a parallel product costs, with memory out of the
// way: 60 products (a token's worth) of N x 768 weights that stay in cache,
// on two threads, under oneTBB (held 0) or inside one kernels::SpinScope
// (held 1: threads held for the step, as a decoding step runs them); time
// per product in the counter us_per_call.
//   bench_gemv --benchmark_filter=call_cost --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
template <class T>
void BM_call_cost(benchmark::State& state) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
  const int64_t K = 768, N = state.range(0), calls = 60;
  const bool held = state.range(1) != 0;
  const TokenWeights<T> tw = token_weights<T>({{N, K}});
  std::vector<float> x(static_cast<size_t>(K), 0.5f), y(static_cast<size_t>(N));
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    {
      std::optional<rbe::kernels::SpinScope> scope;
      if (held) scope.emplace();
      for (int64_t c = 0; c < calls; ++c) product(1, N, K, tw.w[0].get(), x.data(), y.data());
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["us_per_call"] = seconds * 1e6 / (double(state.iterations()) * double(calls));
}

BENCHMARK_TEMPLATE(BM_token_gemvs, float)->Name("token_gemvs/f32")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_token_gemvs, uint16_t)->Name("token_gemvs/f16")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_token_reads, float)->Name("token_reads/f32")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_token_reads, uint16_t)->Name("token_reads/f16")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_token_batch, float)->Name("token_batch/f32")->ArgsProduct({{0, 1}, {1, 2, 4, 8, 9, 12, 16, 17, 24, 32}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_token_batch, uint16_t)->Name("token_batch/f16")->ArgsProduct({{0, 1}, {1, 2, 4, 8, 9, 12, 16, 17, 24, 32}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_in_cache, float)->Name("in_cache/f32")->Arg(24)->Arg(384)->Arg(6144)->UseRealTime();
BENCHMARK_TEMPLATE(BM_in_cache, uint16_t)->Name("in_cache/f16")->Arg(24)->Arg(384)->Arg(6144)->UseRealTime();
BENCHMARK_TEMPLATE(BM_layer_calls, float)->Name("layer_calls/f32")->ArgsProduct({{768, 3072}, {0, 1}})->Iterations(30)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_layer_calls, uint16_t)->Name("layer_calls/f16")->ArgsProduct({{768, 3072}, {0, 1}})->Iterations(30)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_token_vs_probe, float)->Name("token_vs_probe/f32")->ArgsProduct({{2}, {1, 2, 4, 8}})->Iterations(40)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK_TEMPLATE(BM_token_vs_probe, uint16_t)->Name("token_vs_probe/f16")->ArgsProduct({{2}, {1, 2, 4, 8}})->Iterations(40)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK_TEMPLATE(BM_call_cost, uint16_t)->Name("call_cost/f16")->ArgsProduct({{32, 64, 256}, {0, 1}})->UseRealTime();
BENCHMARK(BM_probe_estimators)->Name("probe_estimators/f16")->Iterations(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_chunks_vs_probe)->Name("chunks_vs_probe/f16")->Iterations(150)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK(BM_read_sum)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_read_probe, float)->Name("read_probe/f32")->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_read_probe, uint16_t)->Name("read_probe/f16")->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
