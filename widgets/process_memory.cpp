#include "process_memory.h"

#include <cstdio>
#include <cstring>

namespace workbench {
namespace {

int64_t statusFieldKb(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  int64_t kb = 0;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      long long v = 0;
      if (std::sscanf(line + n + 1, "%lld", &v) == 1) kb = v;
      break;
    }
  }
  std::fclose(f);
  return kb;
}

}  // namespace

int64_t currentRssBytes() { return statusFieldKb("VmRSS") * 1024; }
int64_t peakRssBytes() { return statusFieldKb("VmHWM") * 1024; }

}  // namespace workbench
