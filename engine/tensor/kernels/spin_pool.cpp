#include "tensor/kernels/spin_pool.h"

#include "tensor/kernels/threads.h"

#include <tbb/task_group.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace rbe::kernels {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Waiting: `pause` for the first kPausesBeforeYield rounds (tens of
// microseconds, longer than the serial steps between a token's loops), then
// a yield each round, so that a machine busy with other processes gets the
// core back from a thread that only waits.
constexpr int kPausesBeforeYield = 1024;

inline void wait_round(int& rounds) {
  if (++rounds < kPausesBeforeYield) cpu_relax();
  else std::this_thread::yield();
}

bool enabled_from_env() {
  const char* v = std::getenv("RBE_SPIN_POOL");
  return !(v && std::strcmp(v, "0") == 0);
}

// One loop at a time. `seq` is odd while a loop runs (its number) and even
// between loops. A worker counts itself in `busy` before it looks at a loop's
// fields and out after; the owner waits for `busy` to drop to 0 before it
// writes the next loop's.
struct Pool {
  alignas(64) std::atomic<uint32_t> seq{0};
  std::atomic<bool> stop{true};  // the scope is closing: workers return to oneTBB
  void (*call)(const void*, int) = nullptr;
  const void* ctx = nullptr;
  int n = 0;
  alignas(64) std::atomic<int> next{0};       // the next task to take
  alignas(64) std::atomic<int> completed{0};  // tasks finished
  alignas(64) std::atomic<int> busy{0};
  std::atomic<bool> owned{false};
  std::atomic<bool> enabled{enabled_from_env()};
  std::atomic<int> threads{1};  // the owner and the workers asked for
  std::atomic<uint64_t> worker_loops{0};
  std::mutex error_mu;
  std::exception_ptr error;

  void run_tasks() {
    for (int i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      try {
        call(ctx, i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
      completed.fetch_add(1, std::memory_order_release);
    }
  }
};

Pool& pool() {
  static Pool p;
  return p;
}

thread_local bool t_owner = false;    // this thread holds an open scope
thread_local bool t_in_task = false;  // running a pool task, or a worker's loop

// A worker: a oneTBB task that keeps its thread until the scope closes.
void spin_worker(Pool& p) {
  if (t_owner || t_in_task) return;  // the owner waiting for its group runs a task not yet taken
  t_in_task = true;
  uint32_t seen = 0;
  int rounds = 0;
  while (!p.stop.load(std::memory_order_relaxed)) {
    const uint32_t s = p.seq.load(std::memory_order_acquire);
    if ((s & 1) == 0 || s == seen) {
      wait_round(rounds);
      continue;
    }
    seen = s;
    rounds = 0;
    p.busy.fetch_add(1, std::memory_order_seq_cst);
    if (p.seq.load(std::memory_order_seq_cst) == s) {  // still that loop: its fields are valid
      p.worker_loops.fetch_add(1, std::memory_order_relaxed);
      p.run_tasks();
    }
    p.busy.fetch_sub(1, std::memory_order_release);
  }
  t_in_task = false;
}

}  // namespace

struct SpinScope::Workers {
  tbb::task_group group;
};

SpinScope::SpinScope() {
  Pool& p = pool();
  if (t_owner || t_in_task || !p.enabled.load(std::memory_order_relaxed)) return;
  const int workers = usable_threads() - 1;
  if (workers < 1) return;
  bool expected = false;
  if (!p.owned.compare_exchange_strong(expected, true, std::memory_order_acquire)) return;
  p.threads.store(1 + workers, std::memory_order_relaxed);
  p.stop.store(false, std::memory_order_relaxed);
  t_owner = true;
  active_ = true;
  try {
    workers_ = std::make_unique<Workers>();
    for (int w = 0; w < workers; ++w) workers_->group.run([&p] { spin_worker(p); });
  } catch (...) {  // out of memory: give the pool back before the error goes on
    release();
    throw;
  }
}

SpinScope::~SpinScope() { release(); }

void SpinScope::release() {
  if (!active_) return;
  Pool& p = pool();
  p.stop.store(true, std::memory_order_relaxed);
  if (workers_) workers_->group.wait();  // the workers' threads are oneTBB's again
  workers_.reset();
  t_owner = false;
  active_ = false;
  p.owned.store(false, std::memory_order_release);
}

LoopRunner loop_runner() {
  if (t_in_task) return LoopRunner::serial;
  return t_owner ? LoopRunner::spin_pool : LoopRunner::tbb;
}

int spin_pool_threads() { return t_owner ? pool().threads.load(std::memory_order_relaxed) : 1; }

void spin_run(int n, void (*call)(const void*, int), const void* ctx) {
  if (n <= 0) return;
  if (loop_runner() != LoopRunner::spin_pool) {  // no scope here: all on this thread
    for (int i = 0; i < n; ++i) call(ctx, i);
    return;
  }
  Pool& p = pool();
  p.call = call, p.ctx = ctx, p.n = n;
  p.next.store(0, std::memory_order_relaxed);
  p.completed.store(0, std::memory_order_relaxed);
  const uint32_t s = p.seq.load(std::memory_order_relaxed);
  p.seq.store(s + 1, std::memory_order_release);  // odd: the loop is open
  t_in_task = true;
  p.run_tasks();
  t_in_task = false;
  int rounds = 0;
  while (p.completed.load(std::memory_order_acquire) != n) wait_round(rounds);
  p.seq.store(s + 2, std::memory_order_seq_cst);  // closed: no worker joins it now
  while (p.busy.load(std::memory_order_seq_cst) != 0) wait_round(rounds);
  if (p.error) {
    std::exception_ptr e;
    std::swap(e, p.error);
    std::rethrow_exception(e);
  }
}

void set_spin_pool_enabled(bool on) { pool().enabled.store(on, std::memory_order_relaxed); }
bool spin_pool_enabled() { return pool().enabled.load(std::memory_order_relaxed); }
uint64_t spin_pool_worker_loops() { return pool().worker_loops.load(std::memory_order_relaxed); }

}  // namespace rbe::kernels
