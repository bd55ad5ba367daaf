// Whether the AMX tile kernels may run here (amx_tiles.h). Built for the base
// instruction set, as every check that comes before AVX-512 or AMX code
// must be: a function of a file built with those flags may use them anywhere,
// its prologue included (an AddressSanitizer build did, and died of SIGILL on
// an AVX2 machine). RBE_AMX_KERNELS (engine/CMakeLists.txt): the compiler
// had the flags, so the *_amx.cpp files hold the kernels; without it both
// answers are "no".
#include "tensor/kernels/amx_tiles.h"

#ifdef RBE_AMX_KERNELS
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tensor/kernels/cpu_features.h"
#endif

namespace rbe::kernels {

#ifndef RBE_AMX_KERNELS

bool amx_int8_usable() { return false; }
bool amx_bf16_usable() { return false; }

#else

namespace {

bool cpu_has_amx_int8() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d >> 24 & 1) && (d >> 25 & 1);  // AMX-TILE, AMX-INT8
}

bool cpu_has_amx_bf16() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d >> 24 & 1) && (d >> 22 & 1) && cpu_has_avx512_bf16();  // AMX-TILE, AMX-BF16
}

// Linux hands out the tile state only on request.
bool os_grants_tiles() {
  static const bool ok = [] {
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return cpu_has_avx512() && syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}

}  // namespace

bool amx_int8_usable() {
  static const bool ok = cpu_has_amx_int8() && os_grants_tiles();
  return ok;
}

bool amx_bf16_usable() {
  static const bool ok = cpu_has_amx_bf16() && os_grants_tiles();
  return ok;
}

#endif

}  // namespace rbe::kernels
