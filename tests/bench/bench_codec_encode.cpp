// Codec throughput: encode and decode of one GPT-2 mlp.c_fc-shaped weight
// (768 x 3072, N(0, 0.02^2)) in each form, 1 and 2 threads. Counter
// bytes_per_second: f32 input bytes / time (encode) or output bytes / time (decode).
//   bench_codec_encode --benchmark_filter=entropy
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include <oneapi/tbb/global_control.h>

#include "codec/codec.h"

namespace {

using namespace rbe;

const Tensor& weight() {
  static const Tensor w = Tensor::randn({768, 3072}, 7, 0.f, 0.02f);
  return w;
}

codec::CodecSettings settings(const std::string& form, double bpw) {
  codec::CodecSettings s;
  if (form == "rbe-entropy" || form == "rbe-fixed") {
    s.codec = "rbe";
    s.storage = form == "rbe-entropy" ? codec::Storage::Entropy : codec::Storage::Fixed;
    s.bpw = bpw;
  } else {
    s.codec = form;
  }
  return s;
}

void encode(benchmark::State& st, const std::string& form, double bpw) {
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, size_t(st.range(0)));
  const codec::CodecSettings s = settings(form, bpw);
  for (auto _ : st) benchmark::DoNotOptimize(codec::encode(weight(), s));
  st.SetBytesProcessed(int64_t(st.iterations()) * weight().numel() * 4);
}

void decode(benchmark::State& st, const std::string& form, double bpw) {
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, size_t(st.range(0)));
  const codec::EncodedTensor e = codec::encode(weight(), settings(form, bpw));
  for (auto _ : st) benchmark::DoNotOptimize(codec::decode(e));
  st.SetBytesProcessed(int64_t(st.iterations()) * weight().numel() * 4);
}

BENCHMARK_CAPTURE(encode, rbe_entropy_3bpw, std::string("rbe-entropy"), 3.0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(encode, rbe_entropy_4bpw, std::string("rbe-entropy"), 4.0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(encode, rbe_fixed_4_5bpw, std::string("rbe-fixed"), 4.5)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(encode, q4_0, std::string("q4_0"), 4.5)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(decode, rbe_entropy_3bpw, std::string("rbe-entropy"), 3.0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(decode, rbe_fixed_4_5bpw, std::string("rbe-fixed"), 4.5)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(decode, q4_0, std::string("q4_0"), 4.5)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
