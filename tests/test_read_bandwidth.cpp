// rbe-bench's read-bandwidth probe: a positive rate from one of its named
// loops, for tiny buffers and one that ends in a short chunk, 1 and 2 threads
// (the probe checks its own sums and throws if a read went missing), and over
// spans of bytes read in place, as rbe-bench reads a model's matrices.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include "tensor/kernels/read_bandwidth.h"

namespace {

TEST(ReadBandwidth, ReportsAPositiveRateAndTheLoopThatReachedIt) {
  const std::set<std::string> loops = {"plain", "4 streams", "prefetch 1 KiB ahead to L1", "prefetch 1 KiB ahead to L2",
                                       "prefetch 2 KiB ahead to L2", "4 streams, prefetch 1 KiB ahead to L2",
                                       "4 streams, prefetch 2 KiB ahead to L1", "prefetch 6 KiB ahead to L2"};
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, size_t(threads));
    // 0 and tiny sizes round up to 1 MiB; 33 MiB + 1 byte (rounded up to a
    // whole page) ends in a short 4 MiB chunk.
    for (int64_t bytes : {int64_t(0), int64_t(100), int64_t(3) << 20, (int64_t(33) << 20) + 1}) {
      const rbe::kernels::ReadBandwidth bw = rbe::kernels::measure_read_bandwidth(bytes, 1);
      EXPECT_TRUE(std::isfinite(bw.gbs) && bw.gbs > 0) << bytes << " bytes: " << bw.gbs;
      EXPECT_TRUE(loops.count(bw.method)) << "unexpected loop name '" << bw.method << "'";
    }
  }
}

// The probe behind both: each loop reads the whole buffer (rounded up to
// whole 4 KiB pages, at least 1 MiB) and reports a positive rate.
TEST(ReadBandwidth, ProbeRunsEachLoopOverItsWholeBuffer) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
  rbe::kernels::ReadProbe small(100);
  EXPECT_EQ(small.bytes(), int64_t(1) << 20);
  rbe::kernels::ReadProbe probe((int64_t(5) << 20) + 1);
  EXPECT_EQ(probe.bytes(), (int64_t(5) << 20) + 4096);
  ASSERT_EQ(rbe::kernels::ReadProbe::loops(), size_t(8));
  for (size_t l = 0; l < rbe::kernels::ReadProbe::loops(); ++l) {
    const double gbs = probe.pass(l);
    EXPECT_TRUE(std::isfinite(gbs) && gbs > 0) << rbe::kernels::ReadProbe::loop_name(l) << ": " << gbs;
  }
}

// rbe-bench's probe reads a model's matrices in place: the whole 64-byte
// lines of each span (an unaligned span loses its partial lines), nothing
// allocated; any bytes (here NaN and denormal patterns as floats) are summed
// as integers, and a pass whose sum differs from the first one's throws.
TEST(ReadBandwidth, ProbeReadsSpansInPlace) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
  std::unique_ptr<std::byte, decltype(&std::free)> buf(static_cast<std::byte*>(std::aligned_alloc(64, 9 << 20)),
                                                       &std::free);
  for (size_t i = 0; i < (9u << 20); ++i) buf.get()[i] = std::byte(i * 2654435761u >> 13);
  const std::vector<std::span<const std::byte>> spans = {
      {buf.get(), 5u << 20},                                     // 81920 lines
      {buf.get() + (5u << 20) + 10, 64 * 100},                   // lines 1..99 of it: 99 whole lines
      {buf.get() + (6u << 20), 63},                              // no whole line
      {buf.get() + (6u << 20) + 64, (3u << 20) - 64 - 1000}};    // ends mid-line
  rbe::kernels::ReadProbe probe(spans);
  EXPECT_EQ(probe.owned_bytes(), 0);
  EXPECT_EQ(probe.bytes(), int64_t(81920 + 99 + ((3 << 20) - 64 - 1000) / 64) * 64);
  for (size_t l = 0; l < rbe::kernels::ReadProbe::loops(); ++l) {
    const double gbs = probe.pass(l);
    EXPECT_TRUE(std::isfinite(gbs) && gbs > 0) << rbe::kernels::ReadProbe::loop_name(l) << ": " << gbs;
  }
  buf.get()[64 * 1000] ^= std::byte(1);  // a byte the probe reads changed: its sum no longer matches
  EXPECT_THROW(probe.pass(0), std::runtime_error);
  buf.get()[64 * 1000] ^= std::byte(1);
  EXPECT_NO_THROW(probe.pass(1));
  EXPECT_THROW(rbe::kernels::ReadProbe(std::vector<std::span<const std::byte>>{{buf.get() + 1, 100}}),
               std::invalid_argument);
  // With a cap, the last whole lines that fit: all of the last span's
  // (3 MiB - 1064 bytes: 49135 lines) and the end of the 99-line span.
  rbe::kernels::ReadProbe capped(spans, int64_t(49135 + 10) * 64 + 63);
  EXPECT_EQ(capped.bytes(), int64_t(49135 + 10) * 64);
  for (size_t l = 0; l < rbe::kernels::ReadProbe::loops(); ++l) EXPECT_GT(capped.pass(l), 0.0);
  buf.get()[(5u << 20) + 64 * 85] ^= std::byte(1);  // in the 99-line span, before its last 10 lines: not read
  EXPECT_NO_THROW(capped.pass(0));
  buf.get()[(5u << 20) + 64 * 95] ^= std::byte(1);  // in its last 10 lines: read
  EXPECT_THROW(capped.pass(0), std::runtime_error);
  buf.get()[(5u << 20) + 64 * 95] ^= std::byte(1);
  buf.get()[(5u << 20) + 64 * 85] ^= std::byte(1);
  EXPECT_EQ(rbe::kernels::ReadProbe(spans, int64_t(1) << 40).bytes(), probe.bytes());  // a cap above the whole
}

}  // namespace
