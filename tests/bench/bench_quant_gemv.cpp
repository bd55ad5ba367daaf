// Fused decode x matvec of the fixed-rate forms against the f16 GEMV: GB/s of
// packed bytes and ms per product, for GPT-2 124M's matrix shapes, and one
// whole token's 49 products (12 x {qkv 2304x768, proj 768x768, fc 3072x768,
// fc-proj 768x3072} + head 50257x768). Matrices are cycled through enough
// copies (>= 256 MiB) that every product streams from DRAM, as in generation.
//   bench_quant_gemv --benchmark_filter=token
//   bench_quant_gemv --benchmark_filter='kernel/.*q4_0'     (kernel variants;
//                    argument 5: the VNNI kernel on rows regrouped by 16)
//   bench_quant_gemv --benchmark_filter=batch/               (prompt products)
//   RBE_BENCH_ONE_COPY=1 bench_quant_gemv ...                (weights from the caches)
// Arguments: threads (tbb::global_control), and for kernel/: the kernel index
// in codec::fixed_kernel_names(); for batch/: the batched kernel's index in
// codec::fixed_gemm_kernel_names() (the f16 form: what F::linear runs,
// hgemv_multi up to 8 rows, else gemm_f16w; index 1: gemm_f16w_converted, its
// SGEMM path), -1 for N calls of the form's matvec, or -2 for the packed
// form's PackedMatrix::gemm (what F::linear runs for it).
// batch/FORM/RxK/N: Y[N, R] = X[N, K] W^T for N rows (128, 896: prompts; 4, 8, 9, 12,
// 16: batched decoding steps; 9: the fewest that F::linear sends to a GEMM), counter GFLOPs (2 N R K / time); one copy of the
// weights, so they come from the caches when they fit (a prompt pass reads
// each matrix once per N rows; a decoding step's come from memory).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include "codec/codec.h"
#include "codec/fixed_interleaved.h"
#include "codec/fixed_internal.h"
#include "codec/fixed_kernels.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/fixed_rate.h"
#include "tensor/dtype.h"
#include "tensor/kernels/gemm_f16.h"
#include "tensor/kernels/gemv.h"
#include "tensor/random.h"

using namespace rbe;

namespace {

struct Mat {
  int64_t rows, cols;
};
struct Form {
  const char* name;
  const char* codec;  // "f16" or a fixed-rate codec
  double bpw;         // rbe only
};
const Form kForms[] = {{"f16", "f16", 0},       {"q8_0", "q8_0", 0},      {"q4_0", "q4_0", 0},
                       {"rbe4.5", "rbe", 4.5},  {"rbe4.25", "rbe", 4.25}, {"rbe2.5", "rbe", 2.5}};
const Mat kShapes[] = {{3072, 768}, {768, 3072}, {2304, 768}, {50257, 768}};

Tensor random_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  Tensor t = Tensor::empty({rows, cols});
  Rng rng(seed);
  for (int64_t i = 0; i < rows * cols; ++i) t.data<float>()[i] = float(rng.normal()) * 0.02f;
  return t;
}

// One matrix in one form, with `copies` copies of its bytes.
struct Packed {
  Mat m;
  std::shared_ptr<const codec::EncodedTensor> e;       // fixed-rate forms
  std::vector<std::shared_ptr<nn::PackedMatrix>> pm;   // one per copy
  std::vector<std::vector<uint16_t>> f16;              // f16 form: one per copy
  int64_t bytes = 0;                                   // of one copy
};

Packed make(const Form& f, Mat m, int copies) {
  Packed p;
  p.m = m;
  const Tensor W = random_matrix(m.rows, m.cols, uint64_t(m.rows * 131 + m.cols));
  if (std::string(f.codec) == "f16") {
    std::vector<uint16_t> h(size_t(m.rows * m.cols));
    for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16(W.data<float>()[i]);
    for (int c = 0; c < copies; ++c) p.f16.push_back(h);
    p.bytes = int64_t(h.size() * 2);
    return p;
  }
  codec::CodecSettings s;
  s.codec = f.codec;
  if (f.bpw > 0) s.bpw = f.bpw;
  auto e = std::make_shared<codec::EncodedTensor>(codec::encode_fixed(W, s, {}, {}, {}));
  p.bytes = e->size;
  p.e = e;
  for (int c = 0; c < copies; ++c) {
    auto ec = std::make_shared<codec::EncodedTensor>(*e);
    ec->set_owned(std::vector<uint8_t>(e->data, e->data + e->size));
    // The only owner of its tensor, as in a model read from a file: where the
    // matvecs run on a regrouped copy, made now (not in the timed loop), the
    // stored bytes then go and every product reads the copy (fixed_packed.cpp).
    p.pm.push_back(codec::make_packed_fixed(std::move(ec)));
    (void)p.pm.back()->storage();
  }
  return p;
}

// RBE_BENCH_ONE_COPY=1: one copy of every matrix (shape/, kernel/, token/),
// read from the caches where it fits, as generation reads a model that fits
// in a large L3.
bool one_copy() {
  static const bool one = [] {
    const char* env = std::getenv("RBE_BENCH_ONE_COPY");
    return env && std::string(env) == "1";
  }();
  return one;
}

int copies_for(int64_t bytes) {
  if (one_copy()) return 1;
  return int(std::clamp<int64_t>((256ll << 20) / std::max<int64_t>(bytes, 1) + 1, 2, 256));
}

void gemv(const Packed& p, int copy, const float* x, float* y) {
  if (!p.f16.empty())
    kernels::hgemv(p.m.rows, p.m.cols, p.f16[size_t(copy)].data(), p.m.cols, x, nullptr, y);
  else
    p.pm[size_t(copy)]->gemv(x, nullptr, y);
}

// One product per iteration, cycling over the copies.
void BM_shape(benchmark::State& state, Form f, Mat m) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  const int64_t one = std::string(f.codec) == "f16" ? m.rows * m.cols * 2 : 0;
  Packed p = make(f, m, 1);
  p = make(f, m, copies_for(one ? one : p.bytes));
  const int n = int(p.f16.empty() ? p.pm.size() : p.f16.size());
  std::vector<float> x(size_t(m.cols), 0.5f), y(size_t(m.rows));
  int c = 0;
  for (auto _ : state) {
    gemv(p, c, x.data(), y.data());
    c = (c + 1) % n;
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * p.bytes);
  state.counters["bpw"] = 8.0 * double(p.bytes) / double(m.rows * m.cols);
}

// The kernel variants (fixed::gemv without the rotation, which is the same
// for all); index kInterleavedIndex: the VNNI kernel on the rows regrouped
// sixteen at a time (fixed_interleaved.h), what PackedMatrix runs with it.
constexpr int64_t kInterleavedIndex = 5;
void BM_kernel(benchmark::State& state, Form f, Mat m) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  const auto names = codec::fixed_kernel_names();
  const bool interleaved = state.range(1) == kInterleavedIndex;
  if (!interleaved && state.range(1) >= int64_t(names.size())) {
    state.SkipWithError("kernel not available here");
    return;
  }
  Packed p = make(f, m, 1);
  const codec::fixed::Layout L = codec::fixed::layout_of(*p.e);
  if (interleaved && !codec::fixed::InterleavedRows::available(L)) {
    state.SkipWithError("no interleaved kernel for this form here");
    return;
  }
  const std::string kname = interleaved ? "avx512vnni interleaved" : names[size_t(state.range(1))];
  const codec::fixed::FixedKernels* ks = interleaved ? nullptr : codec::fixed::find_kernels(kname.c_str());
  const int copies = copies_for(p.bytes);
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<std::unique_ptr<codec::fixed::InterleavedRows>> regrouped;
  for (int c = 0; c < copies; ++c)
    if (interleaved) regrouped.push_back(std::make_unique<codec::fixed::InterleavedRows>(L, p.e->data));
    else bufs.emplace_back(p.e->data, p.e->data + p.e->size);
  std::vector<float> x(size_t(m.cols), 0.5f), y(size_t(m.rows));
  int c = 0;
  for (auto _ : state) {
    if (interleaved) regrouped[size_t(c)]->gemv(x.data(), nullptr, y.data());
    else codec::fixed::gemv(*ks, L, bufs[size_t(c)].data(), x.data(), nullptr, y.data());
    c = (c + 1) % copies;
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(kname);
  state.SetBytesProcessed(state.iterations() * p.bytes);
}

// One GPT-2 124M token's 49 products: every weight of the model read once,
// all in one form. Whole tokens' worth of matrices (12 layers' four matrices
// + the head) are cycled through enough copies (>= 512 MiB) that a token's
// weights are not still in a large L3 from the token before (the 70 MB of a
// q4_0 token fit in a 480 MB L3; with one copy they read at L3, not DRAM, speed).
void BM_token(benchmark::State& state, Form f) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  int64_t bytes = 0, weights = 0;
  const Mat shapes[] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
  {
    std::vector<Packed> one;  // one copy, to size the sets
    for (Mat m : shapes) one.push_back(make(f, m, 1));
    for (const Packed& p : one) bytes += 12 * p.bytes, weights += 12 * p.m.rows * p.m.cols;
  }
  Packed head = make(f, Mat{50257, 768}, 1);
  bytes += head.bytes, weights += 50257 * 768;
  const int sets = one_copy() ? 1 : int(std::max<int64_t>(1, ((512ll << 20) + bytes - 1) / bytes));
  std::vector<Packed> layer;  // a layer's 4 matrices, copied for 12 layers x sets
  for (Mat m : shapes) layer.push_back(make(f, m, 12 * sets));
  head = make(f, Mat{50257, 768}, sets);
  std::vector<float> x(3072, 0.5f), y(50257);
  int set = 0;
  for (auto _ : state) {
    for (int l = 0; l < 12; ++l)
      for (const Packed& p : layer) gemv(p, set * 12 + l, x.data(), y.data());
    gemv(head, set, x.data(), y.data());
    set = (set + 1) % sets;
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["bpw"] = 8.0 * double(bytes) / double(weights);
  state.counters["MB"] = double(bytes) / 1e6;
  state.counters["sets"] = sets;
}

// The batched product of a prompt of N rows through batched kernel `index`.
void BM_batch(benchmark::State& state, Form f, Mat m, int64_t N) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(state.range(0)));
  const Packed p = make(f, m, 1);
  std::vector<float> X(size_t(N * m.cols)), Y(size_t(N * m.rows));
  Rng rng(7);
  for (auto& v : X) v = float(rng.normal());
  std::string kname = N <= 8 ? "hgemv_multi" : std::string("gemm_f16w ") + kernels::gemm_f16w_kernel_name(N, m.cols);
  const bool matvecs = state.range(1) == -1;  // -1: N calls of the form's matvec instead
  const bool packed = state.range(1) == -2;   // -2: the form's PackedMatrix::gemm (what F::linear runs)
  if (matvecs) {
    kname = "N matvecs";
  } else if (packed) {
    if (!p.f16.empty()) {
      state.SkipWithError("the f16 form has no PackedMatrix");
      return;
    }
    kname = "PackedMatrix::gemm";
  } else if (p.f16.empty()) {
    const auto names = codec::fixed_gemm_kernel_names();
    if (state.range(1) >= int64_t(names.size())) {
      state.SkipWithError("kernel not available here");
      return;
    }
    kname = names[size_t(state.range(1))];
  } else if (state.range(1) > 1 || (state.range(1) == 1 && N <= 8)) {
    state.SkipWithError("the f16 form has two batched kernels, from 9 rows");
    return;
  } else if (state.range(1) == 1) {
    kname = "gemm_f16w_converted";
  }
  for (auto _ : state) {
    if (matvecs)
      for (int64_t n = 0; n < N; ++n) gemv(p, 0, X.data() + n * m.cols, Y.data() + n * m.rows);
    else if (packed)
      p.pm[0]->gemm(N, X.data(), nullptr, Y.data());
    else if (p.f16.empty())
      codec::fixed_gemm_with_kernel(kname.c_str(), *p.e, N, X.data(), nullptr, Y.data());
    else if (N <= 8)  // what F::linear runs for a few rows
      kernels::hgemv_multi(N, m.rows, m.cols, p.f16[0].data(), m.cols, X.data(), m.cols, nullptr, Y.data(), m.rows);
    else if (state.range(1) == 1)
      kernels::gemm_f16w_converted(N, m.rows, m.cols, X.data(), m.cols, p.f16[0].data(), m.cols, 0.f, Y.data(),
                                   m.rows);
    else
      kernels::gemm_f16w(N, m.rows, m.cols, X.data(), m.cols, p.f16[0].data(), m.cols, 0.f, Y.data(), m.rows);
    benchmark::DoNotOptimize(Y.data());
  }
  state.SetLabel(kname);
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * double(N) * double(m.rows) * double(m.cols) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

int register_all() {
  for (const Form& f : kForms) {
    benchmark::RegisterBenchmark((std::string("token/") + f.name).c_str(), BM_token, f)
        ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
    for (Mat m : kShapes)
      benchmark::RegisterBenchmark(
          (std::string("shape/") + f.name + "/" + std::to_string(m.rows) + "x" + std::to_string(m.cols)).c_str(),
          BM_shape, f, m)
          ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
    for (Mat m : {Mat{3072, 768}, Mat{768, 3072}})
      for (int64_t N : {4, 8, 9, 12, 16, 128, 896})
        benchmark::RegisterBenchmark((std::string("batch/") + f.name + "/" + std::to_string(m.rows) + "x" +
                                      std::to_string(m.cols) + "/" + std::to_string(N)).c_str(),
                                     BM_batch, f, m, N)
            ->Args({2, 0})->Args({2, 1})->Args({2, 2})->Args({2, -1})->Args({2, -2})->Unit(benchmark::kMillisecond)->UseRealTime();
    if (std::string(f.codec) != "f16")
      for (int k = 0; k <= kInterleavedIndex; ++k)  // avx512vnni avx512 avx2q8 avx2 generic, interleaved
        benchmark::RegisterBenchmark((std::string("kernel/") + f.name + "/3072x768").c_str(), BM_kernel, f,
                                     Mat{3072, 768})
            ->Args({1, k})->Args({2, k})->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  return 0;
}
const int g_registered = register_all();

}  // namespace

BENCHMARK_MAIN();
