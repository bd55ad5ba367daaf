#pragma once
// What this CPU can run, asked at run time: the baseline build targets
// x86-64-v3, and the AVX-512 kernels (files *_avx512.cpp) may only be chosen
// where these say so. Shared by the GEMM, GEMV and packed-weight kernels.

namespace rbe::kernels {

inline bool cpu_has_avx512() {  // the subset every *_avx512.cpp file is compiled for
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
}
inline bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
inline bool cpu_has_f16c() { return __builtin_cpu_supports("f16c"); }

}  // namespace rbe::kernels
