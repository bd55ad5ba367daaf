#include "tensor/op_timer.h"

#include <atomic>
#include <cstring>
#include <mutex>

namespace rbe::op_timer {
namespace {

std::atomic<bool> g_enabled{false};
std::mutex g_mutex;
std::vector<Entry> g_entries;  // few steps: a linear search is fine

}  // namespace

void set_enabled(bool on) { g_enabled.store(on, std::memory_order_relaxed); }
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

void reset() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_entries.clear();
}

std::vector<Entry> entries() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_entries;
}

Scope::Scope(const char* name) {
  if (!enabled()) return;
  name_ = name;
  start_ = std::chrono::steady_clock::now();
}

Scope::~Scope() {
  if (!name_) return;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::lock_guard<std::mutex> lock(g_mutex);
  for (Entry& e : g_entries)
    if (std::strcmp(e.name.c_str(), name_) == 0) {
      e.seconds += s;
      ++e.calls;
      return;
    }
  g_entries.push_back(Entry{name_, s, 1});
}

}  // namespace rbe::op_timer
