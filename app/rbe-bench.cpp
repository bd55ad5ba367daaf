// rbe-bench: prompt-processing and generation speed of a GPT-2 model, next to
// the machine's measured read bandwidth and the bandwidth limit it implies.
//
//   rbe-bench --model DIR --threads 2 --prompt-tokens 128 --gen-tokens 64 [--json]
//   rbe-bench --preset 117M --dtype f16 --threads 2          (random model built in memory)
//   rbe-bench --preset 117M --codec q4_0 --threads 2         (every matrix packed, fused kernels)
//   rbe-bench --preset 117M --codec rbe --bpw 4.25 --threads 2
//   rbe-bench --preset 117M --compare --threads 2            (f16, q8_0, q4_0, rbe side by side)
//   rbe-bench --model model.rbe                              (.rbe files run from their packed form)
//   rbe-bench --preset 117M --dtype f16 --threads 2 --profile (where a token's and a prompt's time goes, step by step)
//   rbe-bench --preset 345M --dtype f16 --batch 4 --threads 2 (4 sequences decoded together)
//
// Generation at batch 1 reads every weight once per token, so its floor is
// gen_ms_limit = weight bytes read per token / read bandwidth. Counted per
// token: every matrix in its storage dtype (the block Linears and the output
// head, i.e. wte when tied), one row of wte and wpe (the embedding lookups;
// wte's counted only when the head is untied), and all f32 LayerNorm
// parameters and biases. A packed matrix counts its packed bytes (what the
// fused kernel reads). The KV cache reads are reported separately. The read
// bandwidth is the best of several read-only loops over the model's matrices
// themselves (tensor/kernels/read_bandwidth.h), every loop read once after
// every timed token: each loop's median over the tokens, the fastest loop's.
// With --batch B, B sequences are decoded together: a step gives each of them
// a token and still reads every weight once, so the limit is per step, and
// gen_tokens_per_s counts the B tokens of a step.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <vector>

#include "autodiff/node.h"
#include "cli_common.h"
#include "codec/codec.h"
#include "codec/fixed_kernels.h"
#include "codec/model_codec.h"
#include "io/model_loader.h"
#include "nn/layers.h"
#include "models/gpt2.h"
#include "tensor/dtype.h"
#include "tensor/kernels/argmax.h"
#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemm_f16.h"
#include "tensor/kernels/gemm_split.h"
#include "tensor/kernels/gemv.h"
#include "tensor/kernels/read_bandwidth.h"
#include "tensor/kernels/threads.h"
#include "tensor/op_timer.h"
#include "tensor/random.h"

using namespace rbe;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Args {
  std::string model, preset, dtype = "f32", codec, kv_cache = "auto";
  std::string probe = "paired";  // the bandwidth probe after every timed token, or only after the last
  double bpw = 0;  // 0: the codec's default
  int block_size = 64;
  bool compare = false;
  int threads = 0;
  int64_t prompt_tokens = 128, gen_tokens = 64, warmup_tokens = 4, bandwidth_mb = 0;  // 0: the weights per token
  int64_t batch = 1;  // sequences decoded together
  uint64_t seed = 1;
  bool json = false;
  bool profile = false;
};

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct ModelCosts {
  double weight_bytes_per_token = 0;  // see the header comment
  double matmul_params = 0;           // multiply-adds per token in the matrices (incl. the head)
  double head_params = 0;             // of which the output head's
  double stored_bytes = 0;            // every parameter as stored (packed bytes for packed matrices)
  double params = 0;
  double matrix_bytes = 0, matrix_weights = 0;  // the matrices alone (Linear weights and wte)
  std::map<std::string, double> step_bytes;     // --profile step -> the weight and bias bytes it reads per token
  std::vector<std::span<const std::byte>> matrices;  // the matrices a token reads whole, where they lie
};

// The --profile step that reads parameter `name` (a Linear's weight or bias), or "".
std::string step_of(const std::string& name, bool tied) {
  for (const std::string step : {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"})
    if (name.ends_with("." + step + ".weight") || name.ends_with("." + step + ".bias")) return step;
  if (name == "lm_head.weight" || (tied && name == "wte.weight")) return "head";
  return "";
}

ModelCosts model_costs(const GPT2Model& m) {
  const ModelConfig& c = m.config();
  ModelCosts k;
  std::map<std::string, std::shared_ptr<const nn::PackedMatrix>> packed;  // parameter name -> packed form
  for (const auto& [name, mod] : m.named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(mod.get()); lin && lin->packed()) packed[name + ".weight"] = lin->packed();
    if (auto* emb = dynamic_cast<nn::Embedding*>(mod.get()); emb && emb->packed()) packed[name + ".weight"] = emb->packed();
  }
  for (const auto& [name, t] : m.named_parameters()) {
    const auto it = packed.find(name);
    const double bytes = it != packed.end() ? double(it->second->bytes()) : double(t.numel() * dtype_size(t.dtype()));
    k.stored_bytes += bytes;
    k.params += double(t.numel());
    const std::string step = step_of(name, c.tie_word_embeddings);
    if (!step.empty()) k.step_bytes[step] += bytes;
    if (step == "head") k.head_params += double(t.numel());
    if (t.dim() == 2 && name != "wpe.weight") k.matrix_bytes += bytes, k.matrix_weights += double(t.numel());
    if (name == "wpe.weight" || (name == "wte.weight" && !c.tie_word_embeddings)) {
      k.weight_bytes_per_token += bytes / double(t.size(0));  // one row per token
      continue;
    }
    k.weight_bytes_per_token += bytes;
    if (t.dim() == 2) {
      k.matmul_params += double(t.numel());
      k.matrices.push_back(it != packed.end() ? it->second->storage()
                                              : std::span<const std::byte>(static_cast<const std::byte*>(t.raw_data()),
                                                                           size_t(bytes)));
    }
  }
  return k;
}

// GPT-2-like random values for parameter `name`: LayerNorm weights 1, the
// rest N(0, 0.02).
void draw_random(const std::string& name, float* p, int64_t n, Rng& rng) {
  const bool is_norm =
      name.find("ln_") != std::string::npos && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
  for (int64_t i = 0; i < n; ++i) p[i] = is_norm ? 1.f : float(rng.normal()) * 0.02f;
}

// A preset with f16 matrices, laid out as loading a folder with --dtype f16
// lays them out (GPT2Model::for_loading: every matrix in one f16 buffer) and
// drawn as pack_random_model draws, a slice at a time: no f32 copy of the
// matrices is ever filled, so peak_rss_mb is what the f16 model needs, not
// the f32 model it would otherwise be cast from.
std::unique_ptr<GPT2Model> random_f16_model(const ModelConfig& cfg, const std::string& source, uint64_t seed) {
  auto m = GPT2Model::for_loading(cfg, source, DType::F16);
  Rng rng(seed);
  std::vector<float> slice;
  for (auto& [name, t] : m->named_parameters()) {
    if (t.dtype() == DType::F32) {
      draw_random(name, t.data<float>(), t.numel(), rng);
      continue;
    }
    auto* dst = static_cast<uint16_t*>(t.raw_data());
    for (int64_t i = 0; i < t.numel(); i += 1 << 16) {
      const int64_t n = std::min<int64_t>(1 << 16, t.numel() - i);
      slice.resize(size_t(n));
      draw_random(name, slice.data(), n, rng);
      f32_to_f16_n(slice.data(), dst + i, n);
    }
  }
  return m;
}

// Encodes every matrix (Linear weights and the token embedding / tied head)
// with `s` and attaches the packed forms. The model was built without drawing
// its init (SkipInitGuard): each matrix is drawn here just before it is
// encoded, so the dense f32 weights never all live in memory at once; the
// other parameters get GPT-2-like values (draw_random).
double pack_random_model(GPT2Model& m, const codec::CodecSettings& s, uint64_t seed) {
  std::map<std::string, nn::Module*> packable;
  for (const auto& [name, mod] : m.named_modules())
    if (dynamic_cast<nn::Linear*>(mod.get()) || (name == "wte" && dynamic_cast<nn::Embedding*>(mod.get())))
      packable[name + ".weight"] = mod.get();
  Rng rng(seed);
  const auto t0 = Clock::now();
  for (auto& [name, t] : m.named_parameters()) {
    const auto it = packable.find(name);
    Tensor dst = it == packable.end() ? t : Tensor::empty(t.shape());
    draw_random(name, dst.data<float>(), dst.numel(), rng);
    if (it == packable.end()) continue;
    auto e = std::make_shared<const codec::EncodedTensor>(codec::encode(dst, s));
    auto packed = codec::make_packed(e);
    if (auto* lin = dynamic_cast<nn::Linear*>(it->second)) lin->set_packed(packed);
    else dynamic_cast<nn::Embedding*>(it->second)->set_packed(packed);
  }
  return seconds_since(t0);
}

// Each row's greedy pick at its last position: logits [B, T, V] -> B ids.
std::vector<int32_t> argmax_last(const Tensor& logits) {
  const int64_t B = logits.size(0), T = logits.size(1), V = logits.size(2);
  std::vector<int32_t> next(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    next[size_t(b)] = int32_t(kernels::argmax_f32(logits.data<float>() + (b * T + T - 1) * V, V));
  return next;
}

struct BenchModel {
  std::unique_ptr<GPT2Model> model;
  std::string source, form;  // form: "f32", "f16", "q4_0", "rbe-f4g64", ...
  double encode_s = 0;
};

BenchModel build_model(const Args& a, const std::string& codec_name) {
  BenchModel b;
  const std::string dtype = codec_name == "f16" || codec_name == "f32" ? codec_name : a.dtype;
  if (!a.model.empty()) {
    // .rbe, our checkpoint folder, HuggingFace GPT-2, GGUF; f16 matrices read as f16 where the format allows
    LoadedModel lm = codec::load_any_model(a.model, a.dtype == "f16" ? DType::F16 : DType::F32);
    b.model = std::move(lm.model);
    b.source = a.model;
  } else {
    ModelConfig cfg = ModelConfig::preset(a.preset);
    cfg.validate();
    b.source = "preset " + a.preset + " (random weights)";
    if (codec_name == "q8_0" || codec_name == "q4_0" || codec_name == "rbe") {
      {
        nn::SkipInitGuard no_init;
        b.model = std::make_unique<GPT2Model>(cfg, a.seed);
      }
      codec::CodecSettings s;
      s.codec = codec_name;
      s.storage = codec::Storage::Fixed;
      if (a.bpw > 0) s.bpw = a.bpw;
      s.block_size = a.block_size;
      b.encode_s = pack_random_model(*b.model, s, a.seed);
    } else if (dtype == "f16") {
      b.model = random_f16_model(cfg, b.source, a.seed);
    } else {
      b.model = std::make_unique<GPT2Model>(cfg, a.seed);
    }
  }
  b.model->eval();
  // A --model was loaded with f16 matrices already (load_any_model); casting it
  // again would convert the unused dense weights of its packed layers. (A
  // dense f16 preset has them already: nothing to convert.)
  if (dtype == "f16" && a.model.empty()) b.model->cast_matrices(DType::F16);
  b.form = dtype;
  for (const auto& [name, mod] : b.model->named_modules())
    if (auto* lin = dynamic_cast<nn::Linear*>(mod.get()); lin && lin->packed()) {
      b.form = lin->packed()->format();
      break;
    }
  return b;
}

// Reads one word of every 64-byte line of the keys and values a token's
// attention reads (each row's positions from row_start on, every layer and
// head), in place, and returns their sum.
uint32_t read_kv_cache(const nn::KVCache& cache) {
  uint32_t sum = 0;
  for (int64_t l = 0; l < cache.n_layer(); ++l)
    for (const Tensor* t : {&cache.k[size_t(l)], &cache.v[size_t(l)]}) {
      const int64_t heads = t->size(1), row = t->size(3) * int64_t(dtype_size(t->dtype()));  // [B, H, max_length, hd]
      const auto* base = static_cast<const std::byte*>(t->raw_data());
      for (int64_t b = 0; b < cache.batch; ++b) {
        const int64_t start = std::min(cache.row_start[size_t(b)], cache.length);
        for (int64_t h = 0; h < heads; ++h) {
          const std::byte* p = base + ((b * heads + h) * cache.max_length + start) * row;
          const int64_t bytes = (cache.length - start) * row;
          for (int64_t o = 0; o + int64_t(sizeof(uint32_t)) <= bytes; o += 64) {
            uint32_t w;
            std::memcpy(&w, p + o, sizeof w);
            sum += w;
          }
        }
      }
    }
  return sum;
}

// The read bandwidth probe, paired with the timed tokens: after each token,
// every loop of the probe reads the model's matrices once; the bandwidth is
// the fastest loop's median over the tokens, as the token time is a median of
// single passes of one kernel. (Until the thirtieth session it was the median
// of each token's fastest loop: the largest of eight noisy passes, above every
// loop's own median: 2-3% on the Zen 4 VM, where the eight loops' medians lie
// within 5% of each other; still reported as bandwidth_gbs_per_token_max;
// docs/performance.md, "The probe's estimator".) A VM's memory speed can
// drift by half within seconds (docs/performance.md, "AVX2 machines"); a
// probe run once before or after the tokens then measures another machine
// than the one they ran on.
class PairedProbe {
 public:
  // The probe reads the very matrices a token reads, in place: caches help it
  // exactly as much as they help the weights, and it leaves them holding what
  // a token would leave, so that the next token starts as it would after
  // another token. (A buffer of its own as large as the weights, read
  // between tokens, pushed them out of a last-level cache that could hold
  // them: on a 260 MiB L3 the f16 124M tokens ran 1.3x slower than without
  // it; docs/performance.md, "The probe reads the weights".) --bandwidth-mb
  // reads a buffer of that size instead. Past kMaxBytes only the last
  // kMaxBytes of the matrices (the end of a token's sweep, as a token leaves
  // the caches): a 1.5B f32 model's 6 GB read seven times after every token
  // made a run several times longer than its tokens, and 1 GiB is still
  // four times the largest last-level cache we have met.
  //
  // Before each pass the KV cache's filled positions are read too, untimed:
  // eight passes over the weights alone (2 GB for the f16 124M model) pushed
  // the cache out of a 300 MiB L3 that a token's own sweep leaves it in, and
  // the next token's attention took 0.17-0.25 ms against 0.15-0.16 for tokens
  // back to back without a probe; with the read, 0.16 (docs/performance.md,
  // "The probe reads the KV cache too").
  static constexpr int64_t kMaxBytes = int64_t(1) << 30;
  PairedProbe(const Args& a, const std::vector<std::span<const std::byte>>& matrices)
      : probe_(a.bandwidth_mb > 0 ? kernels::ReadProbe(a.bandwidth_mb << 20)
                                  : kernels::ReadProbe(matrices, kMaxBytes)),
        rates_(kernels::ReadProbe::loops()) {}

  void after_token(const nn::KVCache& cache) {
    for (size_t l = 0; l < rates_.size(); ++l) {
      const uint32_t kv = read_kv_cache(cache);
      asm volatile("" : : "g"(kv) : "memory");  // the reads stay, though nothing uses the sum
      rates_[l].push_back(probe_.pass(l));
    }
  }

  // The fastest loop's median over the tokens and its range, and the median
  // of each token's fastest pass (the estimator before, for comparison).
  void report(nlohmann::json& j) const {
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[v.size() / 2];
    };
    size_t best = 0;
    double best_median = 0;
    for (size_t l = 0; l < rates_.size(); ++l)
      if (const double m = median(rates_[l]); m > best_median) best_median = m, best = l;
    const std::vector<double>& r = rates_[best];
    std::vector<double> token_max(r.size(), 0.0);
    for (const auto& loop : rates_)
      for (size_t t = 0; t < loop.size(); ++t) token_max[t] = std::max(token_max[t], loop[t]);
    j["bandwidth_gbs"] = best_median;
    j["bandwidth_gbs_min"] = r.empty() ? 0.0 : *std::min_element(r.begin(), r.end());
    j["bandwidth_gbs_max"] = r.empty() ? 0.0 : *std::max_element(r.begin(), r.end());
    j["bandwidth_method"] = kernels::ReadProbe::loop_name(best);
    j["bandwidth_gbs_per_token_max"] = median(token_max);
    // Short of kMaxBytes, the probe holds every line of the matrices.
    const std::string mib = std::to_string(probe_.bytes() >> 20);
    j["bandwidth_read"] = probe_.owned_bytes() > 0      ? "a buffer of " + mib + " MiB"
                          : probe_.bytes() < kMaxBytes ? "the model's matrices"
                                                       : "the last " + mib + " MiB of the model's matrices";
    j["bandwidth_read_mb"] = double(probe_.bytes()) / 1e6;
  }

  double owned_megabytes() const { return double(probe_.owned_bytes()) / double(1 << 20); }

 private:
  kernels::ReadProbe probe_;
  std::vector<std::vector<double>> rates_;  // [loop][token], GB/s
};

// Builds and runs one model, its read bandwidth paired with the timed tokens.
nlohmann::json bench_one(const Args& a, const std::string& codec_name) {
  BenchModel bm = build_model(a, codec_name);
  GPT2Model* model = bm.model.get();
  const ModelConfig& cfg = model->config();
  const int threads = kernels::usable_threads();
  const int64_t P = a.prompt_tokens, W = a.warmup_tokens, G = a.gen_tokens, B = a.batch;
  if (P + W + G > cfg.n_positions)
    throw std::runtime_error("--prompt-tokens + --gen-tokens + " + std::to_string(W) + " warm-up tokens = " +
                             std::to_string(P + W + G) + " exceed the model's context (n_positions = " +
                             std::to_string(cfg.n_positions) + ")");
  NoGradGuard no_grad;
  std::mt19937 rng(uint32_t(a.seed));
  std::vector<int32_t> prompt(static_cast<size_t>(B * P));  // B different prompts of P tokens
  for (auto& id : prompt) id = int32_t(rng() % uint32_t(cfg.vocab_size));
  const Tensor ids = Tensor::from_vector(prompt, {B, P});

  // Prompt processing: one batched pass, as generate() runs a prompt (logits
  // for the last position only, as llama.cpp computes them); the first run
  // warms up, best of two after it.
  cli::set_kv_cache(*model, a.kv_cache);
  nn::KVCache cache = model->make_cache(B, P + W + G);
  double pp_s = 1e30, profiled_pass_s = 0;
  Tensor logits;
  std::vector<op_timer::Entry> pp_steps;
  for (int rep = 0; rep < 3; ++rep) {
    cache.reset();
    const bool profiled = a.profile && rep == 2;  // --profile: the steps of the last pass
    if (profiled) {
      op_timer::reset();
      op_timer::set_enabled(true);
    }
    const auto t0 = Clock::now();
    logits = model->forward_cached(ids, cache, /*last=*/1);
    const double pass_s = seconds_since(t0);
    if (rep > 0) pp_s = std::min(pp_s, pass_s);
    if (profiled) {
      op_timer::set_enabled(false);
      pp_steps = op_timer::entries();
      profiled_pass_s = pass_s;
    }
  }

  // Generation: greedy, one token at a time (a token for each of the B
  // sequences a step); W warm-up steps, then G timed ones, each followed by
  // the bandwidth probe (untimed).
  const ModelCosts k = model_costs(*model);
  std::vector<int32_t> next = argmax_last(logits);
  std::vector<double> ms;
  std::unique_ptr<PairedProbe> probe;
  double rss_before_probe = 0;
  for (int64_t i = 0; i < W + G; ++i) {
    if (i == W) {
      rss_before_probe = peak_rss_mb();
      probe = std::make_unique<PairedProbe>(a, k.matrices);
    }
    if (a.profile && i == W) {  // --profile: time the steps of the G timed tokens
      op_timer::reset();
      op_timer::set_enabled(true);
    }
    const auto t0 = Clock::now();
    logits = model->forward_cached(Tensor::from_vector(next, {B, 1}), cache);
    {
      op_timer::Scope timer("argmax");  // the greedy pick, part of every generated token
      next = argmax_last(logits);
    }
    if (i >= W) {
      ms.push_back(seconds_since(t0) * 1e3);
      // outside every op_timer scope: not a step of the token
      if (a.probe == "paired" || i + 1 == W + G) probe->after_token(cache);
    }
  }
  op_timer::set_enabled(false);
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double gen_median = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  double gen_mean = 0;
  for (double v : ms) gen_mean += v / double(ms.size());
  // The model's peak: before a --bandwidth-mb probe's buffer was allocated,
  // or during the timed tokens with that buffer (wholly resident: it was
  // filled) taken off.
  const double rss = std::max(rss_before_probe, peak_rss_mb() - probe->owned_megabytes());
  const double attn_flops = 4.0 * double(cfg.n_embd) * double(cfg.n_layer) * double(P) * double(P + 1) / 2;
  const double pp_flops =
      double(B) * (2.0 * (k.matmul_params - k.head_params) * double(P) + 2.0 * k.head_params + attn_flops);
  const double kv_bytes = double(B) * 2.0 * double(cfg.n_embd) * double(cfg.n_layer) *
                          double(dtype_size(cache.dtype())) * (double(P + W) + double(G + 1) / 2);
  const std::string source = bm.source;

  nlohmann::json j = {{"model", source},
                      {"dtype", bm.form == "f16" || bm.form == "f32" ? bm.form : a.dtype},
                      {"codec", codec_name.empty() ? bm.form : codec_name},
                      {"form", bm.form},
                      {"bits_per_weight", k.params > 0 ? 8.0 * k.stored_bytes / k.params : 0.0},
                      {"matrix_bits_per_weight", k.matrix_weights > 0 ? 8.0 * k.matrix_bytes / k.matrix_weights : 0.0},
                      {"encode_seconds", bm.encode_s},
                      {"threads", threads},
                      {"gemv_kernel", kernels::gemv_kernel_name()},
                      {"fixed_kernel", codec::fixed_kernel_name()},
                      {"fixed_matvec_rows", codec::fixed_matvecs_regrouped() ? "regrouped by 16" : "stored"},
                      {"fixed_gemm_kernel", codec::fixed_gemm_kernel_name()},
                      {"sgemm_kernel", kernels::sgemm_kernel_name()},
                      {"f16_gemm_kernel", kernels::gemm_f16w_kernel_name(P, cfg.n_embd)},
                      {"f32_gemm_kernel", kernels::gemm_f32w_kernel_name(P, cfg.n_embd)},
                      {"batch", B},
                      {"prompt_tokens", P},
                      {"gen_tokens", G},
                      {"pp_tokens_per_s", double(B * P) / pp_s},
                      {"pp_gflops", pp_flops / pp_s / 1e9},
                      {"gen_ms_per_token", gen_median},
                      {"gen_ms_per_token_mean", gen_mean},
                      {"gen_ms_min", sorted.empty() ? 0 : sorted.front()},
                      {"gen_tokens_per_s", gen_median > 0 ? double(B) * 1e3 / gen_median : 0.0},
                      {"peak_rss_mb", rss},
                      {"weight_bytes_per_token", k.weight_bytes_per_token},
                      {"kv_cache", cache.dtype() == DType::F16 ? "f16" : "f32"},
                      {"kv_cache_bytes_per_token", kv_bytes},
                      {"probe", a.probe}};
  probe->report(j);
  j["gen_ms_limit"] = k.weight_bytes_per_token / (j["bandwidth_gbs"].get<double>() * 1e9) * 1e3;
  j["efficiency"] = gen_median > 0 ? j["gen_ms_limit"].get<double>() / gen_median : 0.0;
  if (a.profile) {  // ms per token of each step; "other" is the rest of the mean token
    nlohmann::json steps = nlohmann::json::array();
    double timed_ms = 0;
    for (const op_timer::Entry& e : op_timer::entries()) {
      const double step_ms = e.seconds * 1e3 / double(G);
      timed_ms += step_ms;
      nlohmann::json st = {{"step", e.name}, {"ms_per_token", step_ms}, {"calls_per_token", double(e.calls) / double(G)}};
      if (const auto it = k.step_bytes.find(e.name); it != k.step_bytes.end() && step_ms > 0) {
        st["weight_bytes_per_token"] = it->second;
        st["gb_per_s"] = it->second / (step_ms * 1e-3) / 1e9;
      }
      if (e.name == "attn.core" && step_ms > 0) {  // what attention reads: the whole cache, every token
        st["kv_bytes_per_token"] = kv_bytes;
        st["gb_per_s"] = kv_bytes / (step_ms * 1e-3) / 1e9;
      }
      steps.push_back(st);
    }
    steps.push_back({{"step", "other"}, {"ms_per_token", std::max(0.0, gen_mean - timed_ms)}, {"calls_per_token", 1.0}});
    j["profile"] = steps;
    // The prompt pass's steps (its last timed pass), in ms for the whole pass.
    nlohmann::json pp = nlohmann::json::array();
    double pp_timed_ms = 0;
    for (const op_timer::Entry& e : pp_steps) {
      pp_timed_ms += e.seconds * 1e3;
      pp.push_back({{"step", e.name}, {"ms", e.seconds * 1e3}, {"calls", e.calls}});
    }
    pp.push_back({{"step", "other"}, {"ms", std::max(0.0, profiled_pass_s * 1e3 - pp_timed_ms)}, {"calls", 1}});
    j["prompt_profile"] = pp;
    j["prompt_profile_pass_ms"] = profiled_pass_s * 1e3;
  }
  return j;
}

void print_table(const nlohmann::json& j) {
  const std::string form = j["form"];
  std::printf("model            %s, %s weights (%.2f bits/weight over all parameters, %.2f over the matrices), "
              "%d threads (gemv %s, fixed-rate %s%s / batched %s, sgemm %s, f16 / f32 batched %s / %s)\n",
              j["model"].get<std::string>().c_str(), form.c_str(), j["bits_per_weight"].get<double>(),
              j["matrix_bits_per_weight"].get<double>(), j["threads"].get<int>(),
              j["gemv_kernel"].get<std::string>().c_str(), j["fixed_kernel"].get<std::string>().c_str(),
              j["fixed_matvec_rows"] == "stored" ? "" : " on rows regrouped by 16",
              j["fixed_gemm_kernel"].get<std::string>().c_str(),
              j["sgemm_kernel"].get<std::string>().c_str(), j["f16_gemm_kernel"].get<std::string>().c_str(),
              j["f32_gemm_kernel"].get<std::string>().c_str());
  if (j["encode_seconds"].get<double>() > 0) std::printf("encoding         %10.1f s\n", j["encode_seconds"].get<double>());
  const int64_t batch = j["batch"].get<int64_t>();
  if (batch > 1) {  // B sequences: per step (a token each), and tokens/s across them
    std::printf("prompt (%lld x %lld) %7.1f tokens/s  %8.1f GFLOP/s (the batch's prompts in one pass)\n",
                (long long)batch, (long long)j["prompt_tokens"].get<int64_t>(), j["pp_tokens_per_s"].get<double>(),
                j["pp_gflops"].get<double>());
    std::printf("generation (%3lld) %10.2f ms/step of %lld tokens (median; mean %.2f, min %.2f): %.1f tokens/s\n",
                (long long)j["gen_tokens"].get<int64_t>(), j["gen_ms_per_token"].get<double>(), (long long)batch,
                j["gen_ms_per_token_mean"].get<double>(), j["gen_ms_min"].get<double>(),
                j["gen_tokens_per_s"].get<double>());
  } else {
    std::printf("prompt (%4lld)    %10.1f tokens/s  %8.1f GFLOP/s (2*block matrix params*P + causal attention + head once)\n",
                (long long)j["prompt_tokens"].get<int64_t>(), j["pp_tokens_per_s"].get<double>(),
                j["pp_gflops"].get<double>());
    std::printf("generation (%3lld) %10.2f ms/token (median; mean %.2f, min %.2f)\n",
                (long long)j["gen_tokens"].get<int64_t>(), j["gen_ms_per_token"].get<double>(),
                j["gen_ms_per_token_mean"].get<double>(), j["gen_ms_min"].get<double>());
  }
  std::printf("read bandwidth   %10.1f GB/s (fastest loop's median over a read of %s %s, "
              "%.1f-%.1f; %d threads; loop: %s)\n",
              j["bandwidth_gbs"].get<double>(), j["bandwidth_read"].get<std::string>().c_str(),
              j["probe"] == "paired" ? "after each timed token" : "once, after the last timed token",
              j["bandwidth_gbs_min"].get<double>(),
              j["bandwidth_gbs_max"].get<double>(), j["threads"].get<int>(),
              j["bandwidth_method"].get<std::string>().c_str());
  std::printf(batch > 1 ? "weights/step     %10.1f MB (+ %s KV cache %.1f MB on average)\n"
                        : "weights/token    %10.1f MB (+ %s KV cache %.1f MB on average)\n",
              j["weight_bytes_per_token"].get<double>() / 1e6, j["kv_cache"].get<std::string>().c_str(),
              j["kv_cache_bytes_per_token"].get<double>() / 1e6);
  std::printf(batch > 1 ? "bandwidth limit  %10.2f ms/step -> efficiency %.0f%%\n"
                        : "bandwidth limit  %10.2f ms/token -> efficiency %.0f%%\n",
              j["gen_ms_limit"].get<double>(),
              100 * j["efficiency"].get<double>());
  std::printf("peak RSS         %10.1f MB\n", j["peak_rss_mb"].get<double>());
  if (j.contains("prompt_profile")) {
    const double pass_ms = j["prompt_profile_pass_ms"].get<double>();
    std::printf("\nwhere the prompt pass's time goes (%lld tokens, %.2f ms):\n",
                (long long)j["prompt_tokens"].get<int64_t>(), pass_ms);
    for (const auto& st : j["prompt_profile"])
      std::printf("  %-14s %8.3f ms        %5.1f%%  (%lld calls)\n", st["step"].get<std::string>().c_str(),
                  st["ms"].get<double>(), pass_ms > 0 ? 100 * st["ms"].get<double>() / pass_ms : 0.0,
                  (long long)st["calls"].get<int64_t>());
  }
  if (j.contains("profile")) {
    std::printf(batch > 1 ? "\nwhere a decoding step's time goes (mean %.2f ms; ms/token below is per step):\n"
                          : "\nwhere a generated token's time goes (mean %.2f ms):\n",
                j["gen_ms_per_token_mean"].get<double>());
    for (const auto& st : j["profile"]) {
      std::printf("  %-14s %8.3f ms/token  %5.1f%%  (%g calls/token)", st["step"].get<std::string>().c_str(),
                  st["ms_per_token"].get<double>(),
                  100 * st["ms_per_token"].get<double>() / j["gen_ms_per_token_mean"].get<double>(),
                  st["calls_per_token"].get<double>());
      if (st.contains("weight_bytes_per_token"))
        std::printf("  %6.1f MB at %5.1f GB/s", st["weight_bytes_per_token"].get<double>() / 1e6,
                    st["gb_per_s"].get<double>());
      if (st.contains("kv_bytes_per_token"))
        std::printf("  %6.1f MB of KV cache at %5.1f GB/s", st["kv_bytes_per_token"].get<double>() / 1e6,
                    st["gb_per_s"].get<double>());
      std::printf("\n");
    }
  }
}

int bench_main(const Args& a) {
  auto threads_guard = cli::limit_threads(a.threads);
  if (!a.compare) {
    nlohmann::json j = bench_one(a, a.codec);
    if (a.json) std::cout << j.dump() << std::endl;
    else print_table(j);
    return 0;
  }
  // --compare: the same shape in each form, one process, ratios against f16;
  // each form's limit from a probe over its own matrices.
  std::vector<nlohmann::json> rows;
  for (const char* c : {"f16", "q8_0", "q4_0", "rbe"}) {
    Args b = a;
    b.compare = false;
    rows.push_back(bench_one(b, c));
  }
  if (a.json) {
    std::cout << nlohmann::json(rows).dump() << std::endl;
    return 0;
  }
  const double f16_ms = rows[0]["gen_ms_per_token"].get<double>(), f16_pp = rows[0]["pp_tokens_per_s"].get<double>();
  std::printf("%s, %d threads (fixed-rate kernel %s%s, batched %s)%s\n", rows[0]["model"].get<std::string>().c_str(),
              rows[0]["threads"].get<int>(), codec::fixed_kernel_name(),
              codec::fixed_matvecs_regrouped() ? " on rows regrouped by 16" : "", codec::fixed_gemm_kernel_name(),
              a.batch > 1 ? (", batch " + std::to_string(a.batch) + ": a step gives each sequence a token").c_str() : "");
  std::printf("%-12s %9s %11s %9s %10s %9s %8s %12s %9s\n", "form", "bits/w", "weights MB",
              a.batch > 1 ? "ms/step" : "ms/token", "vs f16", "limit ms", "GB/s", "prompt tok/s", "vs f16");
  for (const auto& r : rows) {
    const double ms = r["gen_ms_per_token"].get<double>(), pp = r["pp_tokens_per_s"].get<double>();
    std::printf("%-12s %9.2f %11.1f %9.2f %9.2fx %9.2f %8.1f %12.1f %8.2fx\n", r["form"].get<std::string>().c_str(),
                r["bits_per_weight"].get<double>(), r["weight_bytes_per_token"].get<double>() / 1e6, ms,
                ms > 0 ? f16_ms / ms : 0.0, r["gen_ms_limit"].get<double>(), r["bandwidth_gbs"].get<double>(), pp,
                f16_pp > 0 ? pp / f16_pp : 0.0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measure prompt-processing and generation speed of a GPT-2 model against the memory-bandwidth limit.",
               "rbe-bench"};
  Args a;
  auto* model = app.add_option("--model", a.model,
                               "Model to run: our checkpoint or a HuggingFace GPT-2 folder, a .gguf file, or a .rbe file "
                               "(its fixed-rate matrices run packed)");
  app.add_option("--preset", a.preset, "Build a random model of this shape instead: 117M, 345M, 762M, 1.5B, mini")
      ->excludes(model);
  auto* dtype = app.add_option("--dtype", a.dtype, "Weight storage for the matrices: f32 or f16")
                    ->capture_default_str()
                    ->check(CLI::IsMember({"f32", "f16"}));
  auto* codec = app.add_option("--codec", a.codec,
                               "With --preset: store every matrix (and the tied head) in this form: q8_0, q4_0, rbe "
                               "(fixed-rate, fused kernels), or f16 / f32 (dense)")
                    ->check(CLI::IsMember({"q8_0", "q4_0", "rbe", "f16", "f32"}))
                    ->excludes(dtype)
                    ->excludes(model);
  auto* bpw = app.add_option("--bpw", a.bpw,
                             "With --codec rbe or --compare: rbe bits per weight budget (2.25, 2.5, 3.25, 3.5, 4.25, "
                             "4.5: the largest rate <= B)")
                  ->check(CLI::PositiveNumber);
  auto* block = app.add_option("--block-size", a.block_size,
                               "With --codec rbe or --compare: rbe scale group of 32 or 64 weights when --bpw is not given")
                    ->capture_default_str()
                    ->check(CLI::IsMember({32, 64}));
  app.add_flag("--compare", a.compare, "With --preset: f16, q8_0, q4_0 and rbe (--bpw, default 4.25) in one run, side by side")
      ->excludes(codec)
      ->excludes(dtype)
      ->excludes(model);
  app.add_option("--threads", a.threads, "Worker threads (0: all cores)")->capture_default_str()->check(cli::non_negative());
  app.add_option("--prompt-tokens", a.prompt_tokens, "Prompt length (one batched pass)")
      ->capture_default_str()
      ->check(cli::positive());
  app.add_option("--gen-tokens", a.gen_tokens, "Generated tokens timed (after 4 warm-up tokens)")
      ->capture_default_str()
      ->check(cli::positive());
  app.add_option("--batch", a.batch,
                 "Sequences decoded together (different random prompts): a step gives each a token and reads the "
                 "weights once; ms/token is then per step, and tokens/s counts the whole batch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(64)));
  app.add_option("--kv-cache", a.kv_cache,
                 "KV cache storage: f32 (exact), f16 (half the cache memory and reads; keys and values rounded) or "
                 "auto (f32 for f32 matrices, f16 for f16 or packed ones)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "f32", "f16"}));
  app.add_option("--bandwidth-mb", a.bandwidth_mb,
                 "Read a buffer of this size (MiB) to measure the read bandwidth (default: the model's own matrices, in place, "
                 "at most their last 1024 MiB)")
      ->check(cli::positive());
  app.add_option("--probe", a.probe,
                 "When the bandwidth probe reads: paired (after every timed token, untimed; the limit follows the "
                 "machine's memory speed token by token) or after (tokens back to back, as generation runs them, "
                 "and every probe loop once after the last: a diagnostic, its limit from one pass)")
      ->capture_default_str()
      ->check(CLI::IsMember({"paired", "after"}));
  app.add_option("--seed", a.seed, "Seed of the random prompt (and of a preset's weights)")->capture_default_str();
  app.add_flag("--json", a.json, "Print one JSON object instead of a table");
  app.add_flag("--profile", a.profile,
               "Also time each step of the generated tokens (the layers' products, attention, norms, head, the "
               "greedy argmax; \"other\" is the rest) and report ms per token for each, and the same steps of "
               "one prompt pass");
  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  if (a.model.empty() && a.preset.empty()) {
    std::fprintf(stderr, "rbe-bench: error: give --model PATH or --preset NAME\n");
    return cli::kExitUsage;
  }
  if ((bpw->count() > 0 || block->count() > 0) && a.codec != "rbe" && !a.compare) {
    std::fprintf(stderr, "rbe-bench: error: --bpw and --block-size apply to --codec rbe (or --compare)\n");
    return cli::kExitUsage;
  }
  return cli::run_main("rbe-bench", [&] { return bench_main(a); });
}
