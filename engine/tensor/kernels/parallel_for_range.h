#pragma once
// f(begin, end) over [0, n), for the engine's parallel loops (the nn, tensor
// and autodiff helpers decide first whether n is worth splitting): on the
// threads a decoding step holds (spin_pool.h), on this thread alone inside
// one of their tasks, else on oneTBB with pieces of about `grain`.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdint>

#include "tensor/kernels/spin_pool.h"

namespace rbe::kernels {

template <class F>
void parallel_for_range(int64_t n, int64_t grain, F&& f) {
  switch (loop_runner()) {
    case LoopRunner::serial:
      f(int64_t(0), n);
      return;
    case LoopRunner::spin_pool:
      spin_range(n, grain, f);
      return;
    case LoopRunner::tbb:
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, std::max<int64_t>(1, grain)),
                        [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
      return;
  }
}

}  // namespace rbe::kernels
