#pragma once
// Learning rate: linear warmup to max_lr over warmup steps, then cosine decay
// to min_lr at total_steps (and min_lr after).
#include <cstdint>

namespace rbe {

struct LrSchedule {
  float max_lr = 1e-3f;
  float min_lr = 1e-4f;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  // step counts from 0 (the first update uses at(0)).
  float at(int64_t step) const;
};

}  // namespace rbe
