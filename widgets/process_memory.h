#pragma once
// The process's resident memory, from /proc/self/status (Linux); 0 elsewhere.
#include <cstdint>

namespace workbench {

int64_t currentRssBytes();  // VmRSS
int64_t peakRssBytes();     // VmHWM: the high-water mark since the process started

}  // namespace workbench
