#pragma once
// What this CPU can run, asked at run time: the baseline build targets
// x86-64-v3, and the AVX-512 kernels (files *_avx512.cpp) may only be chosen
// where these say so. Shared by the GEMM, GEMV and packed-weight kernels.

#include <cpuid.h>

namespace rbe::kernels {

inline bool cpu_has_avx512() {  // the subset every *_avx512.cpp file is compiled for
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
}
// For kernels whose best schedule measured differently on AMD and Intel.
inline bool cpu_is_amd() { return __builtin_cpu_is("amd"); }
inline bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
// CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
inline bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
// CPUID leaf 7 sub-leaf 1, EAX bit 5: VDPBF16PS and the bf16 conversions.
inline bool cpu_has_avx512_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1);
}

}  // namespace rbe::kernels
