#include "tensor/kernels/read_bandwidth.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

#include "tensor/big_alloc.h"
#include "tensor/kernels/threads.h"

namespace rbe::kernels {
namespace {

typedef float v8f __attribute__((vector_size(32)));
constexpr int64_t kLine = 64, kPerLine = kLine / int64_t(sizeof(v8f));

// Sums `lines` cache lines of 1.0f as S equal streams, each prefetching
// kAhead bytes ahead (0: none) with temporal locality kLocality (3: L1, 2: L2).
template <int S, int kAhead, int kLocality>
double read_lines(const v8f* p, int64_t lines) {
  const int64_t per = lines / S;  // lines per stream; callers pass a multiple of S
  v8f acc[S][2] = {};
  for (int64_t i = 0; i < per; ++i) {
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      const v8f* q = p + (s * per + i) * kPerLine;
      if constexpr (kAhead > 0) __builtin_prefetch(reinterpret_cast<const char*>(q) + kAhead, 0, kLocality);
      acc[s][0] += q[0];
      acc[s][1] += q[1];
    }
  }
  v8f t = {};
  for (int s = 0; s < S; ++s) t += acc[s][0] + acc[s][1];
  double sum = 0;
  for (int j = 0; j < 8; ++j) sum += t[j];
  return sum;
}

struct Loop {
  const char* name;
  double (*fn)(const v8f*, int64_t);
};

const Loop kLoops[] = {
    {"plain", &read_lines<1, 0, 0>},
    {"4 streams", &read_lines<4, 0, 0>},
    {"prefetch 1 KiB ahead to L1", &read_lines<1, 1024, 3>},
    {"prefetch 1 KiB ahead to L2", &read_lines<1, 1024, 2>},
    {"prefetch 2 KiB ahead to L2", &read_lines<1, 2048, 2>},
    {"4 streams, prefetch 1 KiB ahead to L2", &read_lines<4, 1024, 2>},
};

}  // namespace

ReadProbe::ReadProbe(int64_t bytes)
    : lines_(std::max<int64_t>(1 << 20, (bytes + 4095) / 4096 * 4096) / kLine),
      buf_(allocate_aligned(size_t(lines_ * kLine)), &std::free) {
  const int threads = usable_threads();
  // Chunks of 4 MiB (fewer when the buffer is small), a multiple of 4 lines;
  // `lines_` is a multiple of 64, so every chunk, the last one too, splits into
  // whole lines for each of a loop's 1 or 4 streams.
  chunk_ = std::max<int64_t>(4, std::min<int64_t>((4 << 20) / kLine, lines_ / (4 * threads)) / 4 * 4);
  v8f* buf = static_cast<v8f*>(buf_.get());
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, lines_), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t i = r.begin(); i < r.end(); ++i) buf[size_t(i * kPerLine)] = buf[size_t(i * kPerLine + 1)] = v8f{} + 1.f;
  });
}

size_t ReadProbe::loops() { return std::size(kLoops); }
const char* ReadProbe::loop_name(size_t loop) { return kLoops[loop].name; }

double ReadProbe::pass(size_t loop) {
  using Clock = std::chrono::steady_clock;
  const Loop& l = kLoops[loop];
  const v8f* buf = static_cast<const v8f*>(buf_.get());
  const int64_t nchunks = (lines_ + chunk_ - 1) / chunk_;
  std::vector<double> sums(static_cast<size_t>(nchunks));
  const auto t0 = Clock::now();
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, nchunks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t c = r.begin(); c < r.end(); ++c) {
          const int64_t n = std::min(lines_, (c + 1) * chunk_) - c * chunk_;  // the last chunk may be short
          sums[size_t(c)] = l.fn(buf + c * chunk_ * kPerLine, n);
        }
      },
      tbb::simple_partitioner());
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  double total = 0;
  for (double s : sums) total += s;
  if (total != double(lines_) * 16) throw std::runtime_error("read bandwidth probe: wrong sum");  // keeps the reads alive
  return double(lines_ * kLine) / dt / 1e9;
}

ReadBandwidth measure_read_bandwidth(int64_t bytes, int passes) {
  ReadProbe probe(bytes);
  // Each loop's median pass (generation is reported as a median too), then the fastest loop.
  const size_t nloops = ReadProbe::loops();
  std::vector<std::vector<double>> rates(nloops);
  for (int pass = 0; pass < std::max(1, passes); ++pass)
    for (size_t l = 0; l < nloops; ++l) rates[l].push_back(probe.pass(l));
  ReadBandwidth best;
  for (size_t l = 0; l < nloops; ++l) {
    std::vector<double>& r = rates[l];
    std::sort(r.begin(), r.end());
    const double median = r[r.size() / 2];
    if (median > best.gbs) best = {median, ReadProbe::loop_name(l)};
  }
  return best;
}

}  // namespace rbe::kernels
