#pragma once
// Splitting the rows of a bandwidth-bound matrix-vector product over the
// oneTBB threads (in a decoding step, the threads spin_pool.h holds for it:
// the same tasks, started and joined faster). Each thread owns a contiguous
// part of the rows (one part per thread) and reads it front to back in
// pieces of half of what is left of it (at least min_chunk bytes). A thread
// done with its own part helps with the others from their back ends, again
// half of what is left at a time, so the threads end close together without
// cutting the owners' first, long pieces short. Where the pieces fall
// depends on timing, but every boundary but N is a multiple of 4 rows, and
// the kernels compute each row the same way in any range so aligned
// (tests/test_row_chunks.cpp and test_codec_fixed.cpp check that, kernel by
// kernel, against one serial call): results do not change from run to run.
// Small products (fewer bytes than serial_below, or fewer than 8 rows) run on
// the calling thread. Used by the dense GEMV and the packed (codec) kernels.
//
// Against oneTBB handing out fixed 1/8-share chunks, paired call by call in
// one run (124M f16 token, Zen 4 VM): see docs/performance.md, "Pieces that
// halve".
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "tensor/kernels/spin_pool.h"
#include "tensor/kernels/threads.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

namespace rbe::kernels {

struct RowChunking {
  int64_t serial_below;  // bytes
  int64_t min_chunk;     // bytes: the smallest piece
};

// The dense GEMV's pieces (gemv.cpp): down to 32 KiB of weights, below 48 KiB
// on the calling thread. tests/bench/bench_gemv reads the token's matrices in
// the same pieces with no arithmetic, as the products' ceiling.
inline constexpr RowChunking kGemvRowChunking{48 << 10, 32 << 10};

namespace row_chunks_detail {

// Whole rows in `bytes` (rounded up), a multiple of 4 and at least 4: the
// kernels step 4 row streams at a time.
inline int64_t rows_for_bytes(int64_t bytes, int64_t row_bytes) {
  return std::max<int64_t>(4, (bytes / std::max<int64_t>(row_bytes, 1) + 3) / 4 * 4);
}

// One thread's part of the rows, [front, back) still to do, in one word
// (front << 32 | back) so that the owner, taking pieces from the front, and
// a helper, taking them from the back, never take the same row.
struct alignas(64) Part {
  std::atomic<uint64_t> left{0};

  void reset(int64_t begin, int64_t end) { left.store(uint64_t(begin) << 32 | uint64_t(end), std::memory_order_relaxed); }
  // Half of what is left (at least min_rows), on multiples of 4 rows: from
  // the front for the owner, from the back for a helper.
  bool take(bool front, int64_t min_rows, int64_t& r0, int64_t& r1) {
    uint64_t cur = left.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t f = int64_t(cur >> 32), e = int64_t(cur & 0xffffffffu);
      if (f >= e) return false;
      const int64_t piece = std::max(min_rows, (e - f) / 8 * 4);
      const int64_t cut = front ? std::min(e, f + piece) : std::max(f, (e - piece) / 4 * 4);
      const uint64_t next = front ? uint64_t(cut) << 32 | uint64_t(e) : uint64_t(f) << 32 | uint64_t(cut);
      if (left.compare_exchange_weak(cur, next, std::memory_order_relaxed)) {
        if (front) r0 = f, r1 = cut;
        else r0 = cut, r1 = e;
        return true;
      }
    }
  }
};

}  // namespace row_chunks_detail

template <class Fn>
void parallel_uniform_chunks(int64_t N, int64_t row_bytes, int64_t chunk_bytes, Fn&& rows);

// rows(r0, r1) is called for disjoint ranges covering [0, N).
template <class Fn>
void parallel_row_chunks(int64_t N, int64_t row_bytes, const RowChunking& c, Fn&& rows) {
  if (N <= 0) return;
  const int64_t total = N * row_bytes;
  const LoopRunner runner = loop_runner();
  const int threads = runner == LoopRunner::spin_pool ? spin_pool_threads()
                      : runner == LoopRunner::serial  ? 1
                                                      : usable_threads();
  if (threads <= 1 || total < c.serial_below || N < 8) {
    rows(int64_t(0), N);
    return;
  }
  if (N > int64_t(0xffffffff)) {  // beyond a part's 32-bit row counters: oneTBB's chunks
    parallel_uniform_chunks(N, row_bytes, std::max<int64_t>(c.min_chunk, total / (int64_t(threads) * 8)), rows);
    return;
  }
  using row_chunks_detail::Part;
  const int parts_n = int(std::min<int64_t>(threads, N / 4));
  const int64_t min_rows = row_chunks_detail::rows_for_bytes(c.min_chunk, row_bytes);
  Part on_stack[8];  // more threads than that get the heap
  std::unique_ptr<Part[]> on_heap(parts_n > 8 ? new Part[size_t(parts_n)] : nullptr);
  Part* parts = on_heap ? on_heap.get() : on_stack;
  for (int p = 0; p < parts_n; ++p)  // part boundaries on multiples of 4 rows
    parts[p].reset(N * p / parts_n / 4 * 4, p + 1 == parts_n ? N : N * (p + 1) / parts_n / 4 * 4);
  // One task per part; whichever thread runs a task then helps with the
  // others (correct whatever threads run the tasks, one or all).
  auto task = [&](int p) {
    int64_t r0, r1;
    while (parts[p].take(true, min_rows, r0, r1)) rows(r0, r1);
    for (int k = 1; k < parts_n; ++k)
      while (parts[(p + k) % parts_n].take(false, min_rows, r0, r1)) rows(r0, r1);
  };
  if (runner == LoopRunner::spin_pool) {
    spin_run(parts_n, task);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<int>(0, parts_n, 1),
      [&](const tbb::blocked_range<int>& range) {
        for (int p = range.begin(); p < range.end(); ++p) task(p);
      },
      tbb::simple_partitioner());
}

// Fixed chunks of chunk_bytes (a multiple of 4 rows) handed out by oneTBB:
// the previous scheme, kept for bench_gemv's chunks_vs_probe, which measures
// what a chunk's size costs.
template <class Fn>
void parallel_uniform_chunks(int64_t N, int64_t row_bytes, int64_t chunk_bytes, Fn&& rows) {
  if (N <= 0) return;
  const int64_t chunk_rows = row_chunks_detail::rows_for_bytes(chunk_bytes, row_bytes);
  const int64_t nchunks = (N + chunk_rows - 1) / chunk_rows;
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, nchunks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t i = r.begin(); i < r.end(); ++i) rows(i * chunk_rows, std::min(N, (i + 1) * chunk_rows));
      },
      tbb::simple_partitioner());
}

}  // namespace rbe::kernels
