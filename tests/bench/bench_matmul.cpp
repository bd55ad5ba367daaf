// SGEMM throughput (GFLOP/s) of rbe::kernels::sgemm vs Eigen vs OpenBLAS at the shapes the
// Mini GPT-2 training step uses (B*T = 4096 rows, C = 256), and at those of a 128-token
// prompt through GPT-2 124M's four block matrices (prompt_*), at 1 and 2 threads.
//   bench_matmul --benchmark_filter=fwd          # a subset
//   bench_matmul --benchmark_filter='prompt_.*threads:2'
// tiles/prompt_*: the same prompt products on AMX bf16 tiles with both operands split
// in three parts (gemm_f32w_tiles, what inference runs where the CPU has AMX-BF16).
// Counter "FLOPS" is 2*M*N*K per iteration, reported as a rate (e.g. 150G/s = 150 GFLOP/s).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemm_split.h"

#ifdef RBE_HAVE_EIGEN
#include <Eigen/Core>
#endif
#ifdef RBE_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

struct Shape {
  std::string name;
  bool ta, tb;
  int64_t M, N, K;
};

std::vector<Shape> shapes() {
  constexpr int64_t BT = 4096, C = 256, V = 65;
  std::vector<Shape> s;
  struct Layer {
    const char* name;
    int64_t in, out;
  };
  const Layer layers[] = {{"qkv", C, 3 * C}, {"attproj", C, C}, {"fc", C, 4 * C},
                          {"fcproj", 4 * C, C}, {"lmhead", C, V}};
  for (const auto& l : layers) {
    // forward  Y[BT,out] = X[BT,in] . W[out,in]^T
    s.push_back({std::string("fwd_") + l.name, false, true, BT, l.out, l.in});
    // backward dX[BT,in] = dY[BT,out] . W[out,in]
    s.push_back({std::string("dX_") + l.name, false, false, BT, l.in, l.out});
    // backward dW[out,in] = dY^T[out,BT] . X[BT,in]
    s.push_back({std::string("dW_") + l.name, true, false, l.out, l.in, BT});
  }
  s.push_back({"att_qk", false, true, 256, 256, 64});  // Q[256,64] . K[256,64]^T
  s.push_back({"att_av", false, false, 256, 64, 256}); // P[256,256] . V[256,64]
  s.push_back({"square1024", false, false, 1024, 1024, 1024});
  // A 128-token prompt through GPT-2 124M's block matrices: Y[128,out] = X[128,in] . W[out,in]^T.
  for (const Layer& l : {Layer{"qkv", 768, 2304}, Layer{"attproj", 768, 768}, Layer{"fc", 768, 3072},
                         Layer{"fcproj", 3072, 768}})
    s.push_back({std::string("prompt_") + l.name, false, true, 128, l.out, l.in});
  return s;
}

struct Operands {
  std::vector<float> A, B, C;
  int64_t lda, ldb, ldc;
  explicit Operands(const Shape& s) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    const int64_t a_rows = s.ta ? s.K : s.M, b_rows = s.tb ? s.N : s.K;
    lda = s.ta ? s.M : s.K;
    ldb = s.tb ? s.K : s.N;
    ldc = s.N;
    A.resize(size_t(a_rows * lda));
    B.resize(size_t(b_rows * ldb));
    C.assign(size_t(s.M * s.N), 0.0f);
    for (auto& x : A) x = d(rng);
    for (auto& x : B) x = d(rng);
  }
};

void set_flops(benchmark::State& state, const Shape& s) {
  state.counters["FLOPS"] = benchmark::Counter(
      2.0 * double(s.M) * double(s.N) * double(s.K) * double(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1000);
}

void bm_ours(benchmark::State& state, Shape s, int threads) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
  Operands o(s);
  for (auto _ : state) {
    rbe::kernels::sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, o.A.data(), o.lda, o.B.data(), o.ldb,
                        0.0f, o.C.data(), o.ldc);
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
  state.SetLabel(rbe::kernels::sgemm_kernel_name());
}

void bm_tiles(benchmark::State& state, Shape s, int threads) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
  Operands o(s);
  if (!rbe::kernels::gemm_f32w_tiles_usable()) {
    state.SkipWithError("no usable AMX bf16 tiles here");
    return;
  }
  for (auto _ : state) {
    rbe::kernels::gemm_f32w_tiles(s.M, s.N, s.K, o.A.data(), o.lda, o.B.data(), o.ldb, 0.0f, o.C.data(), o.ldc);
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
  state.SetLabel("amx-bf16x6");
}

#ifdef RBE_HAVE_EIGEN
void bm_eigen(benchmark::State& state, Shape s, int threads) {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using CMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
  using MMap = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;
  Eigen::setNbThreads(threads);
  Operands o(s);
  const CMap A(o.A.data(), s.ta ? s.K : s.M, s.ta ? s.M : s.K, Eigen::OuterStride<>(o.lda));
  const CMap B(o.B.data(), s.tb ? s.N : s.K, s.tb ? s.K : s.N, Eigen::OuterStride<>(o.ldb));
  MMap C(o.C.data(), s.M, s.N, Eigen::OuterStride<>(o.ldc));
  for (auto _ : state) {
    if (!s.ta && !s.tb) C.noalias() = A * B;
    else if (!s.ta && s.tb) C.noalias() = A * B.transpose();
    else if (s.ta && !s.tb) C.noalias() = A.transpose() * B;
    else C.noalias() = A.transpose() * B.transpose();
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
  state.SetLabel("eigen threads=" + std::to_string(Eigen::nbThreads()));
}
#endif

#ifdef RBE_HAVE_OPENBLAS
void bm_openblas(benchmark::State& state, Shape s, int threads) {
  openblas_set_num_threads(threads);
  Operands o(s);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                int(s.M), int(s.N), int(s.K), 1.0f, o.A.data(), int(o.lda), o.B.data(),
                int(o.ldb), 0.0f, o.C.data(), int(o.ldc));
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
}
#endif

std::string shape_name(const Shape& s) {
  return s.name + "_" + std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
         std::to_string(s.K) + "_" + (s.ta ? "T" : "N") + (s.tb ? "T" : "N");
}

int register_all() {
  for (const auto& s : shapes()) {
    for (int threads : {1, 2}) {
      const std::string suffix = shape_name(s) + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(("ours/" + suffix).c_str(), bm_ours, s, threads)->UseRealTime();
      if (s.name.rfind("prompt_", 0) == 0)
        benchmark::RegisterBenchmark(("tiles/" + suffix).c_str(), bm_tiles, s, threads)->UseRealTime();
#ifdef RBE_HAVE_EIGEN
      benchmark::RegisterBenchmark(("eigen/" + suffix).c_str(), bm_eigen, s, threads)
          ->UseRealTime();
#endif
#ifdef RBE_HAVE_OPENBLAS
      benchmark::RegisterBenchmark(("openblas/" + suffix).c_str(), bm_openblas, s, threads)
          ->UseRealTime();
#endif
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
