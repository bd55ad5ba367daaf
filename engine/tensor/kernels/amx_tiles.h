#pragma once
// Intel AMX tiles (Sapphire Rapids and later): whether this process may run
// the tile kernels. Each answer needs the CPU feature, a build that compiled
// the kernels (files *_amx.cpp, engine/CMakeLists.txt), AVX-512, and Linux's
// grant of the 8 KiB tile state to this process (arch_prctl, 5.16+). Asked
// once; cheap afterwards. Callers add their own switches (RBE_FIXED_GEMM,
// RBE_F16_GEMM) on top.

namespace rbe::kernels {

bool amx_int8_usable();  // AMX-TILE, AMX-INT8
bool amx_bf16_usable();  // AMX-TILE, AMX-BF16, AVX512-BF16 (the f32 -> bf16 conversions)

}  // namespace rbe::kernels
