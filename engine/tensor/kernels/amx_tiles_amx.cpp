// Whether the AMX tile kernels may run here (amx_tiles.h). Compiled with the
// AMX flags where the compiler has them; without them no tile kernel was
// built, and both answers are "no".
#include "tensor/kernels/amx_tiles.h"

#if defined(__AMX_INT8__) && defined(__AMX_BF16__) && defined(__AMX_TILE__) && defined(__AVX512F__) && \
    defined(__AVX512BF16__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tensor/kernels/cpu_features.h"
#define RBE_AMX_BUILT 1
#endif

namespace rbe::kernels {

#ifndef RBE_AMX_BUILT

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
  const bool tiles = (d >> 24 & 1) && (d >> 22 & 1);  // AMX-TILE, AMX-BF16
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return tiles && (a >> 5 & 1);  // AVX512-BF16
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
