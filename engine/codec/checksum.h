#pragma once
// XXH64 (Yann Collet's xxHash, 64-bit variant), the checksum of every payload
// in a .rbe file: several GB/s, so verifying a whole file on load is cheap.
#include <cstddef>
#include <cstdint>

namespace rbe::codec {

uint64_t xxh64(const void* data, size_t len, uint64_t seed = 0);

}  // namespace rbe::codec
