#include "train/lr_schedule.h"

#include <cmath>

namespace rbe {

float LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return max_lr * float(step + 1) / float(warmup_steps);
  if (step >= total_steps) return min_lr;
  int64_t span = total_steps - warmup_steps;
  double ratio = span > 0 ? double(step - warmup_steps) / double(span) : 1.0;
  double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));  // 1 -> 0
  return float(min_lr + coeff * (max_lr - min_lr));
}

}  // namespace rbe
