#pragma once
// The machine's read bandwidth, as rbe-bench's bandwidth limit needs it: the
// best rate at which the current threads can read a buffer of a given size,
// over a small family of read-only loops (plain, several streams per thread,
// software prefetch at a few distances). A plain loop alone underestimates it
// on machines where the hardware prefetcher keeps too few lines in flight
// (measured about 20% below the best loop here; docs/performance.md), which
// would let a kernel that prefetches look faster than "the limit".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace rbe::kernels {

struct ReadBandwidth {
  double gbs = 0;      // bytes / second / 1e9: the fastest loop's median pass
  std::string method;  // the loop that reached it, e.g. "4 streams, prefetch 1 KiB ahead to L2"
};

// Bytes read by any loop of the family on demand: pass(l) reads them all once
// with loop l on the current threads, in chunks of at most 4 MiB, and returns
// GB/s. The loops sum the bytes as 32-bit integers (no float assists whatever
// the bytes hold); every pass must give the first pass's sum, or it throws.
class ReadProbe {
 public:
  // A buffer of its own of `bytes` (rounded up to whole 4 KiB; at least
  // 1 MiB), allocated as tensors are (64-byte aligned, 2 MiB pages), filled once.
  explicit ReadProbe(int64_t bytes);
  // Bytes that live elsewhere, read in place: rbe-bench reads a model's own
  // weights, so that a pass leaves the caches as a token leaves them, and a
  // token after it finds its weights where the previous token would have left
  // them. Each span's whole 64-byte lines are read (a span must outlive the probe);
  // with max_bytes > 0, only the last whole lines that fit in max_bytes
  // (the end of the last spans), so that a model of many GB is not read
  // whole several times per token.
  explicit ReadProbe(const std::vector<std::span<const std::byte>>& spans, int64_t max_bytes = 0);
  static size_t loops();
  static const char* loop_name(size_t loop);
  double pass(size_t loop);
  int64_t bytes() const { return lines_ * 64; }        // read by a pass
  int64_t owned_bytes() const { return buf_ ? lines_ * 64 : 0; }  // allocated by the probe (0 when reading spans)

 private:
  struct Chunk {
    const std::byte* p;
    int64_t lines;
  };
  void split(const std::byte* p, int64_t lines, int64_t chunk);  // appends p's lines to chunks_, `chunk` at a time
  int64_t lines_ = 0;
  std::vector<Chunk> chunks_;
  uint32_t sum_ = 0;  // the first pass's sum, which every later pass must match
  bool have_sum_ = false;
  std::unique_ptr<void, decltype(&std::free)> buf_{nullptr, &std::free};
};

// A ReadProbe of `bytes` read with every loop of the family `passes` times,
// round robin; each loop's median pass, the fastest loop. (rbe-bench instead
// pairs a ReadProbe's passes with its timed tokens.)
ReadBandwidth measure_read_bandwidth(int64_t bytes, int passes = 5);

}  // namespace rbe::kernels
