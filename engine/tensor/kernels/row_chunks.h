#pragma once
// Splitting the rows of a bandwidth-bound matrix-vector product over the
// oneTBB threads: chunks of about 1/8 of a thread's share of the bytes
// (clamped to [min_chunk, max_chunk], a multiple of 4 rows), so that a busy
// core can be helped by the other without paying a task per few rows. Small
// products (fewer bytes than serial_below, or fewer than 8 rows) run on the
// calling thread. Used by the dense GEMV and the packed (codec) kernels.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "tensor/kernels/threads.h"

#include <algorithm>
#include <cstdint>

namespace rbe::kernels {

struct RowChunking {
  int64_t serial_below;  // bytes
  int64_t min_chunk, max_chunk;  // bytes per task
};

// The dense GEMV's chunks (gemv.cpp): 32 KiB .. 1 MiB of weights, below 48 KiB
// on the calling thread. tests/bench/bench_gemv reads the token's matrices in
// the same chunks with no arithmetic, as the products' ceiling.
inline constexpr RowChunking kGemvRowChunking{48 << 10, 32 << 10, 1 << 20};

// rows(r0, r1) is called for disjoint ranges covering [0, N).
template <class Fn>
void parallel_row_chunks(int64_t N, int64_t row_bytes, const RowChunking& c, Fn&& rows) {
  if (N <= 0) return;
  const int64_t total = N * row_bytes;
  const int threads = usable_threads();
  if (threads <= 1 || total < c.serial_below || N < 8) {
    rows(int64_t(0), N);
    return;
  }
  const int64_t chunk_bytes = std::clamp<int64_t>(total / (int64_t(threads) * 8), c.min_chunk, c.max_chunk);
  const int64_t chunk_rows = std::max<int64_t>(4, (chunk_bytes / std::max<int64_t>(row_bytes, 1) + 3) / 4 * 4);
  const int64_t nchunks = (N + chunk_rows - 1) / chunk_rows;
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, nchunks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t i = r.begin(); i < r.end(); ++i) rows(i * chunk_rows, std::min(N, (i + 1) * chunk_rows));
      },
      tbb::simple_partitioner());
}

}  // namespace rbe::kernels
