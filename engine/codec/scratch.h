#pragma once
// Per-thread scratch buffers for the block codecs' inner steps: kept between
// calls while small (the blocks codecs use: up to 256 x 256 floats), but a
// larger request gets a buffer of the caller's own, freed when it returns,
// so that one 4096-wide block does not pin 64 MiB on every thread for good.
#include <cstddef>
#include <vector>

namespace rbe::codec {

// n floats: from `kept` (thread_local at the caller) when small, else from `own` (a local of the caller).
inline float* scratch_floats(std::vector<float>& kept, std::vector<float>& own, size_t n) {
  constexpr size_t kKeep = size_t(1) << 16;
  std::vector<float>& v = n <= kKeep ? kept : own;
  v.resize(n);
  return v.data();
}

}  // namespace rbe::codec
