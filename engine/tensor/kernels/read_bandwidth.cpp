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
#include "tensor/kernels/stream_rows.h"
#include "tensor/kernels/threads.h"

namespace rbe::kernels {
namespace {

typedef uint32_t v8u __attribute__((vector_size(32)));
constexpr int64_t kLine = 64, kPerLine = kLine / int64_t(sizeof(v8u));

// Sums `lines` cache lines as 32-bit words (mod 2^32, so any split of the
// lines gives the same total) in S equal streams, each prefetching kAhead
// bytes ahead (0: none) with temporal locality kLocality (3: L1, 2: L2),
// spaced as the kernels space theirs (stream_rows.h); the lines left over
// are read after them.
template <int S, int kAhead, int kLocality>
uint32_t read_lines(const v8u* p, int64_t lines) {
  const int64_t per = stream_rows(lines, S, kLine);  // lines per stream
  v8u acc[S][2] = {};
  for (int64_t i = 0; i < per; ++i) {
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      const v8u* q = p + (s * per + i) * kPerLine;
      if constexpr (kAhead > 0) __builtin_prefetch(reinterpret_cast<const char*>(q) + kAhead, 0, kLocality);
      acc[s][0] += q[0];
      acc[s][1] += q[1];
    }
  }
  for (int64_t i = per * S; i < lines; ++i) {
    acc[0][0] += p[i * kPerLine];
    acc[0][1] += p[i * kPerLine + 1];
  }
  v8u t = {};
  for (int s = 0; s < S; ++s) t += acc[s][0] + acc[s][1];
  uint32_t sum = 0;
  for (int j = 0; j < 8; ++j) sum += t[j];
  return sum;
}

struct Loop {
  const char* name;
  uint32_t (*fn)(const v8u*, int64_t);
};

const Loop kLoops[] = {
    {"plain", &read_lines<1, 0, 0>},
    {"4 streams", &read_lines<4, 0, 0>},
    {"prefetch 1 KiB ahead to L1", &read_lines<1, 1024, 3>},
    {"prefetch 1 KiB ahead to L2", &read_lines<1, 1024, 2>},
    {"prefetch 2 KiB ahead to L2", &read_lines<1, 2048, 2>},
    {"4 streams, prefetch 1 KiB ahead to L2", &read_lines<4, 1024, 2>},
    // The AVX-512 GEMV's f16 schedule (gemv_avx512.cpp): a kernel's own read
    // pattern belongs in the family, or it could pass "the limit" by it.
    {"4 streams, prefetch 2 KiB ahead to L1", &read_lines<4, 2048, 3>},
    // AMD's f16 rows of 2048 weights or more (gemv_avx512.cpp).
    {"prefetch 6 KiB ahead to L2", &read_lines<1, 6144, 2>},
};

// Chunks of 4 MiB, fewer lines when the whole is small (at least 4 per thread's
// quarter), a multiple of 4 lines.
int64_t chunk_lines(int64_t lines) {
  return std::max<int64_t>(4, std::min<int64_t>((4 << 20) / kLine, lines / (4 * usable_threads())) / 4 * 4);
}

}  // namespace

ReadProbe::ReadProbe(int64_t bytes)
    : lines_(std::max<int64_t>(1 << 20, (bytes + 4095) / 4096 * 4096) / kLine),
      buf_(allocate_aligned(size_t(lines_ * kLine)), &std::free) {
  v8u* buf = static_cast<v8u*>(buf_.get());
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, lines_), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t i = r.begin(); i < r.end(); ++i) buf[size_t(i * kPerLine)] = buf[size_t(i * kPerLine + 1)] = v8u{} + 1;
  });
  split(static_cast<const std::byte*>(buf_.get()), lines_, chunk_lines(lines_));
  sum_ = uint32_t(lines_ * 16), have_sum_ = true;  // sixteen words of 1 a line
}

ReadProbe::ReadProbe(const std::vector<std::span<const std::byte>>& spans, int64_t max_bytes) {
  // Each span's whole lines: from its first 64-byte boundary to its last.
  std::vector<Chunk> whole;
  for (const auto& s : spans) {
    const auto begin = (reinterpret_cast<uintptr_t>(s.data()) + kLine - 1) / kLine * kLine;
    const auto end = (reinterpret_cast<uintptr_t>(s.data()) + s.size()) / kLine * kLine;
    if (end > begin) whole.push_back({reinterpret_cast<const std::byte*>(begin), int64_t(end - begin) / kLine});
  }
  if (max_bytes > 0) {  // keep the last max_bytes / 64 lines, from the end backwards
    int64_t room = max_bytes / kLine;
    std::vector<Chunk> kept;
    for (auto w = whole.rbegin(); w != whole.rend() && room > 0; ++w) {
      const int64_t n = std::min(room, w->lines);
      kept.insert(kept.begin(), {w->p + (w->lines - n) * kLine, n});
      room -= n;
    }
    whole = std::move(kept);
  }
  for (const Chunk& w : whole) lines_ += w.lines;
  if (lines_ == 0) throw std::invalid_argument("read bandwidth probe: no whole 64-byte line to read");
  const int64_t chunk = chunk_lines(lines_);
  for (const Chunk& w : whole) split(w.p, w.lines, chunk);
}

void ReadProbe::split(const std::byte* p, int64_t lines, int64_t chunk) {
  for (int64_t i = 0; i < lines; i += chunk) chunks_.push_back({p + i * kLine, std::min(chunk, lines - i)});
}

size_t ReadProbe::loops() { return std::size(kLoops); }
const char* ReadProbe::loop_name(size_t loop) { return kLoops[loop].name; }

double ReadProbe::pass(size_t loop) {
  using Clock = std::chrono::steady_clock;
  const Loop& l = kLoops[loop];
  std::vector<uint32_t> sums(chunks_.size());
  const auto t0 = Clock::now();
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, chunks_.size(), 1),
      [&](const tbb::blocked_range<size_t>& r) {
        for (size_t c = r.begin(); c < r.end(); ++c)
          sums[c] = l.fn(reinterpret_cast<const v8u*>(chunks_[c].p), chunks_[c].lines);
      },
      tbb::simple_partitioner());
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  uint32_t total = 0;
  for (uint32_t s : sums) total += s;
  // Checking the sum keeps the reads alive; the bytes do not change between passes.
  if (!have_sum_) sum_ = total, have_sum_ = true;
  else if (total != sum_) throw std::runtime_error("read bandwidth probe: wrong sum");
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
