#pragma once
// Opt-in wall-clock timing of the steps of a forward pass (rbe-bench
// --profile): where a decoding step's time goes, step by step. Off by
// default; a disabled OpTimer costs one relaxed atomic load. Steps are timed
// on the thread that runs the forward pass; their parallel work counts once.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rbe::op_timer {

struct Entry {
  std::string name;
  double seconds = 0;
  int64_t calls = 0;
};

void set_enabled(bool on);
bool enabled();
void reset();                  // forgets every entry
std::vector<Entry> entries();  // in the order the steps were first timed

// Adds the time from construction to destruction to the entry `name` (which
// must outlive the scope, e.g. a string literal) while timing is enabled.
class Scope {
 public:
  explicit Scope(const char* name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* name_ = nullptr;  // null: timing was off at construction
  std::chrono::steady_clock::time_point start_;
};

}  // namespace rbe::op_timer
