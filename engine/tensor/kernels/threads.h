#pragma once
// The number of threads a parallel loop can really use here: the current
// arena's concurrency, capped by a tbb::global_control limit (rbe-* --threads
// sets one; this_task_arena::max_concurrency() alone does not see it).
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>

namespace rbe::kernels {

inline int usable_threads() {
  const int arena = tbb::this_task_arena::max_concurrency();
  const auto global =
      static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
  return std::max(1, std::min(arena, global));
}

}  // namespace rbe::kernels
