#pragma once
// The environment switches that force a kernel choice for comparisons
// (RBE_F16_GEMM=sgemm, RBE_FIXED_GEMM=sgemm, RBE_PROMPT_ATTENTION=sgemm, ...).
#include <cstdlib>
#include <cstring>

namespace rbe {

// True when environment variable `name` is set to exactly `value`.
inline bool env_equals(const char* name, const char* value) {
  const char* env = std::getenv(name);
  return env && std::strcmp(env, value) == 0;
}

}  // namespace rbe
