// The AVX512-BF16 batched product's threads and checks (fixed_gemm_bf16.h),
// built for the base instruction set; its kernels are in
// fixed_gemm_bf16_avx512.cpp.
#include "codec/fixed_gemm_bf16.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>

#include "codec/fixed_interleaved.h"
#include "codec/fixed_kernels_internal.h"

#include "tensor/env_switch.h"
#include "tensor/kernels/aligned_buffer.h"
#include "tensor/kernels/cpu_features.h"

namespace rbe::codec::fixed {
namespace {

// X in bf16 is held by the calling thread across the parallel loop (a lease:
// while it waits it may steal another product's task); a strip's scratch
// only inside a task body, which never waits.
thread_local rbe::kernels::AlignedBuffer tls_xb, tls_wf, tls_panel;

}  // namespace

bool avx512_bf16_gemm_available() {
  static const bool ok =
      rbe::kernels::cpu_has_avx512() && rbe::kernels::cpu_has_avx512_bf16() && !env_equals("RBE_FIXED_GEMM", "sgemm");
  return ok;
}

void gemm_avx512_bf16(const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias, float* Y) {
  const int64_t K = L.cols, R = L.rows;
  if (N <= 0 || R <= 0) return;
  // At most 2048 rows of X at a time, as the AMX kernel: bounds X's bf16 copy.
  constexpr int64_t kMaxRows = 2048;
  if (N > kMaxRows) {
    for (int64_t n0 = 0; n0 < N; n0 += kMaxRows)
      gemm_avx512_bf16(L, w, std::min(kMaxRows, N - n0), X + n0 * K, bias, Y + n0 * R);
    return;
  }
  rbe::kernels::ScratchLease xlease(tls_xb);
  auto* xb = static_cast<uint16_t*>(xlease->bytes(size_t(N * K) * 2));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, N, 16), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t m = r.begin(); m < r.end(); ++m) bf16_rows(X + m * K, K, xb + m * K);
  });
  const auto* xp = reinterpret_cast<const uint32_t*>(xb);
  // Each task decodes a strip of 32 weight rows once and runs it against
  // every row of X.
  const int64_t strips = (R + kBf16Strip - 1) / kBf16Strip;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, strips, 1), [&](const tbb::blocked_range<int64_t>& r) {
    float* wf = tls_wf.get(size_t(kBf16Strip * K));
    auto* panel = static_cast<uint32_t*>(tls_panel.bytes(size_t(kBf16Strip * K) * 2));
    for (int64_t st = r.begin(); st < r.end(); ++st) {
      const int64_t n0 = st * kBf16Strip, nr = std::min<int64_t>(kBf16Strip, R - n0);
      if (const InterleavedRows* copy = w.copy())  // the panel straight from the copy's two blocks
        for (int64_t h = 0; h < 2; ++h) {
          if (h * kInterleave < nr)
            kInterleavedBf16Panel(L, copy->data() + (n0 / kInterleave + h) * interleaved_stride(L), panel + h * 16,
                                  32);
          else
            for (int64_t p = 0; p < K / 2; ++p) std::fill_n(panel + p * 32 + 16, 16, 0u);
        }
      else  // no copy: the stored bytes are there
        bf16_panel(L, w.data() + n0 * L.row_bytes(), nr, wf, panel);
      bf16_strip_product(panel, xp, K, N, n0, nr, R, bias, Y);
    }
  });
}

}  // namespace rbe::codec::fixed
