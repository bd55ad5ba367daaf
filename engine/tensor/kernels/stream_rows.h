#pragma once
// How far apart the streams of a bandwidth-bound row kernel start (and those
// of the read-bandwidth probe's loops that copy the kernels' read pattern,
// read_bandwidth.cpp). The GEMV and packed matvec kernels read a range of
// rows [r0, r1) as S interleaved streams, stream s from row r0 + s * h, h
// rows each; the rows past S * h follow. The pieces row_chunks.h hands out
// halve, so with rows of a power-of-two size (GPT-2 medium's 1024 columns:
// 2 KiB of f16, 8 KiB for the MLP's 4096) the streams started 64-512 KiB
// apart, and on the Emerald Rapids VM those products read at 0.8 of the
// speed of the others in the same token (mlp.c_fc and mlp.c_proj 31-32 GB/s
// against attn.c_attn 36 and the head 44-45): the whole 345M f16 token at
// 82% of the bandwidth limit, 92% with each stream one row shorter
// (docs/performance.md, "GPT-2 medium, large and XL against llama.cpp;
// streams a multiple of 64 KiB apart").
//
// Internal linkage (static): the AVX-512 translation units include this too,
// and must not lend their copy to code that runs on AVX2 machines.
#include <cstdint>

namespace rbe::kernels {

// Rows per stream for S streams over `rows` rows of `row_bytes` each: rows / S,
// one fewer when that would start the streams a multiple of 64 KiB apart.
// The kernels compute each row the same way whatever h is (where their
// one-row path sums in another order, the S or more rows this leaves after
// S * h are read as streams again), so results do not move.
static constexpr int64_t stream_rows(int64_t rows, int S, int64_t row_bytes) {
  int64_t h = rows / S;
  if (S > 1 && h > 1 && h * row_bytes % (int64_t(64) << 10) == 0) --h;
  return h;
}

}  // namespace rbe::kernels
