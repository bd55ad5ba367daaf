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
#include <string>

namespace rbe::kernels {

struct ReadBandwidth {
  double gbs = 0;      // bytes / second / 1e9: the fastest loop's median pass
  std::string method;  // the loop that reached it, e.g. "4 streams, prefetch 1 KiB ahead to L2"
};

// One buffer of `bytes` (rounded up to whole 4 KiB; at least 1 MiB),
// allocated as tensors are (64-byte aligned, 2 MiB pages) and filled once,
// read by any loop of the family on demand: pass(l) reads it all once with
// loop l on the current threads and returns GB/s (throws on a wrong sum).
class ReadProbe {
 public:
  explicit ReadProbe(int64_t bytes);
  static size_t loops();
  static const char* loop_name(size_t loop);
  double pass(size_t loop);
  int64_t bytes() const { return lines_ * 64; }

 private:
  int64_t lines_, chunk_;
  std::unique_ptr<void, decltype(&std::free)> buf_;
};

// A ReadProbe of `bytes` read with every loop of the family `passes` times,
// round robin; each loop's median pass, the fastest loop. (rbe-bench instead
// pairs a ReadProbe's passes with its timed tokens.)
ReadBandwidth measure_read_bandwidth(int64_t bytes, int passes = 5);

}  // namespace rbe::kernels
