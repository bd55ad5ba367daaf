// rbe-bench: prompt-processing and generation speed of a GPT-2 model, next to
// the machine's measured read bandwidth and the bandwidth limit it implies.
//
//   rbe-bench --model DIR --threads 2 --prompt-tokens 128 --gen-tokens 64 [--json]
//   rbe-bench --preset 117M --dtype f16 --threads 2          (random model built in memory)
//
// Generation at batch 1 reads every weight once per token, so its floor is
// gen_ms_limit = weight bytes read per token / read bandwidth. Counted per
// token: every matrix in its storage dtype (the block Linears and the output
// head, i.e. wte when tied), one row of wte and wpe (the embedding lookups;
// wte's counted only when the head is untied), and all f32 LayerNorm
// parameters and biases. The KV cache reads are reported separately.
#include <sys/resource.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "autodiff/node.h"
#include "cli_common.h"
#include "io/model_loader.h"
#include "models/gpt2.h"
#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemv.h"

using namespace rbe;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Args {
  std::string model, preset, dtype = "f32";
  int threads = 0;
  int64_t prompt_tokens = 128, gen_tokens = 64, warmup_tokens = 4, bandwidth_mb = 1024;
  uint64_t seed = 1;
  bool json = false;
};

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// STREAM-like read bandwidth: sum a buffer much larger than the caches, split
// in 4 MiB chunks over the TBB threads (the way the GEMV splits a matrix);
// best of several passes.
double measure_read_bandwidth_gbs(int64_t mb) {
  typedef float v8f __attribute__((vector_size(32)));
  const int64_t n = mb * (1 << 20) / int64_t(sizeof(v8f));
  std::unique_ptr<v8f[]> buf(new v8f[size_t(n)]);
  const int64_t chunk = (4 << 20) / int64_t(sizeof(v8f)), nchunks = (n + chunk - 1) / chunk;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, nchunks, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t c = r.begin(); c < r.end(); ++c)
      for (int64_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i) buf[size_t(i)] = v8f{} + 1.f;
  });
  double best = 0;
  for (int pass = 0; pass < 6; ++pass) {
    std::vector<float> sums(static_cast<size_t>(nchunks));
    const auto t0 = Clock::now();
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, nchunks, 1),
        [&](const tbb::blocked_range<int64_t>& r) {
          for (int64_t c = r.begin(); c < r.end(); ++c) {
            v8f a0{}, a1{}, a2{}, a3{};
            const int64_t e = std::min(n, (c + 1) * chunk);
            int64_t i = c * chunk;
            for (; i + 4 <= e; i += 4) {
              a0 += buf[size_t(i)], a1 += buf[size_t(i + 1)], a2 += buf[size_t(i + 2)], a3 += buf[size_t(i + 3)];
            }
            for (; i < e; ++i) a0 += buf[size_t(i)];
            const v8f s = (a0 + a1) + (a2 + a3);
            float t = 0;
            for (int j = 0; j < 8; ++j) t += s[j];
            sums[size_t(c)] = t;
          }
        },
        tbb::simple_partitioner());
    const double dt = seconds_since(t0);
    double total = 0;
    for (float s : sums) total += s;
    if (total != double(n) * 8) throw std::runtime_error("bandwidth check: wrong sum");  // keeps the reads alive
    best = std::max(best, double(n) * sizeof(v8f) / dt / 1e9);
  }
  return best;
}

struct ModelCosts {
  double weight_bytes_per_token = 0;  // see the header comment
  double matmul_params = 0;           // multiply-adds per token in the matrices (incl. the head)
};

ModelCosts model_costs(const GPT2Model& m) {
  const ModelConfig& c = m.config();
  ModelCosts k;
  for (const auto& [name, t] : m.named_parameters()) {
    const double el = double(dtype_size(t.dtype()));
    if (name == "wpe.weight" || (name == "wte.weight" && !c.tie_word_embeddings)) {
      k.weight_bytes_per_token += double(c.n_embd) * el;  // one row per token
      continue;
    }
    k.weight_bytes_per_token += double(t.numel()) * el;
    if (t.dim() == 2) k.matmul_params += double(t.numel());
  }
  return k;
}

int32_t argmax_last(const Tensor& logits) {  // logits [1, T, V]
  const int64_t V = logits.size(2), T = logits.size(1);
  const float* p = logits.data<float>() + (T - 1) * V;
  return int32_t(std::max_element(p, p + V) - p);
}

int bench_main(const Args& a) {
  auto threads_guard = cli::limit_threads(a.threads);
  const int threads = tbb::this_task_arena::max_concurrency();
  std::unique_ptr<GPT2Model> model;
  std::string source;
  if (!a.model.empty()) {
    LoadedModel lm = load_model(a.model);  // our checkpoint folder or a HuggingFace GPT-2 folder
    model = std::move(lm.model);
    source = a.model;
  } else {
    ModelConfig cfg = ModelConfig::preset(a.preset);
    cfg.validate();
    model = std::make_unique<GPT2Model>(cfg, a.seed);
    source = "preset " + a.preset + " (random weights)";
  }
  model->eval();
  if (a.dtype == "f16") model->cast_parameters(DType::F16);
  const ModelConfig& cfg = model->config();
  const int64_t P = a.prompt_tokens, W = a.warmup_tokens, G = a.gen_tokens;
  if (P + W + G > cfg.n_positions)
    throw std::runtime_error("--prompt-tokens + --gen-tokens + " + std::to_string(W) + " warm-up tokens = " +
                             std::to_string(P + W + G) + " exceed the model's context (n_positions = " +
                             std::to_string(cfg.n_positions) + ")");
  NoGradGuard no_grad;
  std::mt19937 rng(uint32_t(a.seed));
  std::vector<int32_t> prompt(static_cast<size_t>(P));
  for (auto& id : prompt) id = int32_t(rng() % uint32_t(cfg.vocab_size));
  const Tensor ids = Tensor::from_vector(prompt, {1, P});

  // Prompt processing: one batched pass; the first run warms up, best of two after it.
  nn::KVCache cache = model->make_cache(1, P + W + G);
  double pp_s = 1e30;
  Tensor logits;
  for (int rep = 0; rep < 3; ++rep) {
    cache.reset();
    const auto t0 = Clock::now();
    logits = model->forward_cached(ids, cache);
    if (rep > 0) pp_s = std::min(pp_s, seconds_since(t0));
  }

  // Generation: greedy, one token at a time; W warm-up tokens, then G timed ones.
  int32_t next = argmax_last(logits);
  std::vector<double> ms;
  for (int64_t i = 0; i < W + G; ++i) {
    const auto t0 = Clock::now();
    logits = model->forward_cached(Tensor::from_vector(std::vector<int32_t>{next}, {1, 1}), cache);
    next = argmax_last(logits);
    if (i >= W) ms.push_back(seconds_since(t0) * 1e3);
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double gen_median = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  double gen_mean = 0;
  for (double v : ms) gen_mean += v / double(ms.size());
  const double rss = peak_rss_mb();  // before the bandwidth buffer

  const double bw = measure_read_bandwidth_gbs(a.bandwidth_mb);
  const ModelCosts k = model_costs(*model);
  const double limit_ms = k.weight_bytes_per_token / (bw * 1e9) * 1e3;
  const double attn_flops = 4.0 * double(cfg.n_embd) * double(cfg.n_layer) * double(P) * double(P + 1) / 2;
  const double pp_flops = 2.0 * k.matmul_params * double(P) + attn_flops;
  const double kv_bytes = 2.0 * double(cfg.n_layer) * double(cfg.n_embd) * 4.0 * (double(P + W) + double(G + 1) / 2);

  nlohmann::json j = {{"model", source},
                      {"dtype", a.dtype},
                      {"threads", threads},
                      {"gemv_kernel", kernels::gemv_kernel_name()},
                      {"sgemm_kernel", kernels::sgemm_kernel_name()},
                      {"prompt_tokens", P},
                      {"gen_tokens", G},
                      {"pp_tokens_per_s", double(P) / pp_s},
                      {"pp_gflops", pp_flops / pp_s / 1e9},
                      {"gen_ms_per_token", gen_median},
                      {"gen_ms_per_token_mean", gen_mean},
                      {"gen_ms_min", sorted.empty() ? 0 : sorted.front()},
                      {"peak_rss_mb", rss},
                      {"bandwidth_gbs", bw},
                      {"weight_bytes_per_token", k.weight_bytes_per_token},
                      {"kv_cache_bytes_per_token", kv_bytes},
                      {"gen_ms_limit", limit_ms},
                      {"efficiency", gen_median > 0 ? limit_ms / gen_median : 0}};
  if (a.json) {
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::printf("model            %s, %s weights, %d threads (gemv %s, sgemm %s)\n", source.c_str(), a.dtype.c_str(),
              threads, kernels::gemv_kernel_name(), kernels::sgemm_kernel_name());
  std::printf("prompt (%4lld)    %10.1f tokens/s  %8.1f GFLOP/s (2*matrix params*P + causal attention)\n",
              (long long)P, double(P) / pp_s, pp_flops / pp_s / 1e9);
  std::printf("generation (%3lld) %10.2f ms/token (median; mean %.2f, min %.2f)\n", (long long)G, gen_median,
              gen_mean, sorted.empty() ? 0 : sorted.front());
  std::printf("read bandwidth   %10.1f GB/s (%d threads)\n", bw, threads);
  std::printf("weights/token    %10.1f MB (+ KV cache %.1f MB on average)\n", k.weight_bytes_per_token / 1e6,
              kv_bytes / 1e6);
  std::printf("bandwidth limit  %10.2f ms/token -> efficiency %.0f%%\n", limit_ms,
              gen_median > 0 ? 100 * limit_ms / gen_median : 0.0);
  std::printf("peak RSS         %10.1f MB\n", rss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measure prompt-processing and generation speed of a GPT-2 model against the memory-bandwidth limit.",
               "rbe-bench"};
  Args a;
  auto* model = app.add_option("--model", a.model, "Model folder: our checkpoint or a HuggingFace GPT-2 folder");
  app.add_option("--preset", a.preset, "Build a random model of this shape instead: 117M, 345M, 762M, 1.5B, mini")
      ->excludes(model);
  app.add_option("--dtype", a.dtype, "Weight storage for the matrices: f32 or f16")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16"}));
  app.add_option("--threads", a.threads, "Worker threads (0: all cores)")->capture_default_str()->check(cli::non_negative());
  app.add_option("--prompt-tokens", a.prompt_tokens, "Prompt length (one batched pass)")
      ->capture_default_str()
      ->check(cli::positive());
  app.add_option("--gen-tokens", a.gen_tokens, "Generated tokens timed (after 4 warm-up tokens)")
      ->capture_default_str()
      ->check(cli::positive());
  app.add_option("--bandwidth-mb", a.bandwidth_mb, "Buffer size of the read-bandwidth measurement")
      ->capture_default_str()
      ->check(cli::positive());
  app.add_option("--seed", a.seed, "Seed of the random prompt (and of a preset's weights)")->capture_default_str();
  app.add_flag("--json", a.json, "Print one JSON object instead of a table");
  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  if (a.model.empty() && a.preset.empty()) {
    std::fprintf(stderr, "rbe-bench: error: give --model PATH or --preset NAME\n");
    return cli::kExitUsage;
  }
  return cli::run_main("rbe-bench", [&] { return bench_main(a); });
}
