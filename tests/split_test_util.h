#pragma once
// Products whose rows are split over the threads at timing-dependent points
// (tensor/kernels/row_chunks.h) must give every row the same bits however
// the split falls. same_bits_however_split runs `run` (returning the output,
// or an empty vector where the kernel does not run here) once on one thread,
// ten times on two and once in an arena of four parts (on fewer cores: the
// helpers' path every time), and records a failure, tagged `what`, for the
// first output that differs from the one-thread output. Returns whether the
// kernel ran.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

namespace rbe::testing_split {

template <class Run>
bool same_bits_however_split(const Run& run, const std::string& what) {
  std::vector<float> serial;
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    serial = run();
  }
  if (serial.empty()) return false;
  {
    tbb::global_control two(tbb::global_control::max_allowed_parallelism, 2);
    for (int r = 0; r < 10; ++r)
      if (run() != serial) {
        ADD_FAILURE() << what << ": 2 threads, run " << r << ", differs from one thread";
        return true;
      }
  }
  tbb::task_arena four(4);
  EXPECT_TRUE(four.execute([&] { return run() == serial; })) << what << ": 4 parts differ from one thread";
  return true;
}

}  // namespace rbe::testing_split
