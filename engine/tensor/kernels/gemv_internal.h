#pragma once
// Interface between the GEMV driver (gemv.cpp) and the ISA-specific row
// kernels (gemv_avx512.cpp, ...). Declarations only, so that no AVX-512 code
// leaks into translation units that must run on AVX2-only machines.
#include <cstdint>
#include <type_traits>

namespace rbe::kernels::gemv_detail {

// y[n] = dot(W row n, x) (+ bias[n]) for rows n in [r0, r1).
using RowsF32Fn = void (*)(int64_t r0, int64_t r1, int64_t K, const float* W, int64_t ldw, const float* x,
                           const float* bias, float* y);
using RowsF16Fn = void (*)(int64_t r0, int64_t r1, int64_t K, const uint16_t* W, int64_t ldw, const float* x,
                           const float* bias, float* y);

// Y[m*ldy + n] = dot(W row n, X row m) (+ bias[n]) for rows n in [r0, r1) and
// m < M, 1 <= M <= kMultiMaxRows: each weight is loaded once for all M inputs.
inline constexpr int64_t kMultiMaxRows = 8;
using MultiF32Fn = void (*)(int64_t r0, int64_t r1, int64_t M, int64_t K, const float* W, int64_t ldw, const float* X,
                            int64_t ldx, const float* bias, float* Y, int64_t ldy);
using MultiF16Fn = void (*)(int64_t r0, int64_t r1, int64_t M, int64_t K, const uint16_t* W, int64_t ldw,
                            const float* X, int64_t ldx, const float* bias, float* Y, int64_t ldy);

struct GemvKernels {
  const char* name;
  RowsF32Fn f32;
  RowsF16Fn f16;
  MultiF32Fn multi_f32;
  MultiF16Fn multi_f16;
};

extern const GemvKernels kGemvAvx512;   // gemv_avx512.cpp (f16 prefetched into L1)
extern const GemvKernels kGemvAvx512L2; // gemv_avx512.cpp (f16 prefetched into L2, long rows as one stream; f32 in 8 streams; AMD's default)
extern const GemvKernels kGemvAvx2;     // gemv.cpp
extern const GemvKernels kGemvGeneric;  // gemv.cpp

// The table sgemv/hgemv run (RBE_GEMV_KERNEL or the start-up choice;
// gemv_kernel_name() is its name): for benchmarks that drive its row
// kernels in chunks of their own.
const GemvKernels& active();

// Calls f(std::integral_constant<int, M>{}) for M = 1..8 (more than 8 as 8):
// the multi-row kernels are templated on M so that their accumulators stay in
// registers, and every ISA's kernel dispatches through this one switch.
template <class F>
inline void with_row_count(int64_t M, F&& f) {
  switch (M) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 7: return f(std::integral_constant<int, 7>{});
    default: return f(std::integral_constant<int, 8>{});
  }
}

}  // namespace rbe::kernels::gemv_detail
