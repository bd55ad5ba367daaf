#pragma once
// Per-thread scratch buffers for the block codecs' inner steps: kept between
// calls while small (the blocks codecs use), but a larger request gets a
// buffer of the caller's own, freed when it returns, so that one 4096-wide
// block does not pin its size on every thread for good. The callers write
// every entry they read: buffers only grow, and are not cleared.
#include <cstddef>
#include <vector>

namespace rbe::codec {

// n entries: from `kept` (thread_local at the caller) when n <= keep_up_to,
// else from `own` (a local of the caller).
template <class T>
T* scratch(std::vector<T>& kept, std::vector<T>& own, size_t n, size_t keep_up_to = size_t(1) << 16) {
  std::vector<T>& v = n <= keep_up_to ? kept : own;
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace rbe::codec
