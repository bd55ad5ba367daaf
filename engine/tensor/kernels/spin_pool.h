#pragma once
// Threads held for the length of one decoding step. A batch-1 token is ~60
// short parallel loops (49 products, 12 attention calls), each tens to
// hundreds of microseconds; oneTBB hands each loop's tasks to a worker and
// joins it, losing microseconds at both ends (docs/performance.md, "Threads
// held for a token"). Inside a SpinScope, the parallel loops of this thread
// (the GEMV and packed products' row chunks, the nn, tensor and autodiff
// ranges) run instead on the scope's owner and on workers that spin between
// loops: a loop starts when they see its number and ends when its last task
// is done. A thread that has waited tens of microseconds yields its core at
// each round, for a machine busy with other processes.
//
// The workers are oneTBB tasks that keep their threads until the scope
// closes, so the process never has more busy threads than oneTBB would have:
// nothing spins outside a scope (between tokens, while rbe-bench measures the
// bandwidth, while the caller samples), and a worker oneTBB has not started
// yet is not waited for (its loops run without it). One scope at a time in
// the process: a second thread's scope stays inactive and its loops use
// oneTBB, as outside any scope. A loop called from inside a pool task runs
// serially on that thread.
#include <algorithm>
#include <cstdint>
#include <memory>

namespace rbe::kernels {

class SpinScope {
 public:
  // Takes the pool for this thread when it is free, enabled and more than one
  // thread is usable (usable_threads()); otherwise the scope is inactive.
  SpinScope();
  ~SpinScope();
  SpinScope(const SpinScope&) = delete;
  SpinScope& operator=(const SpinScope&) = delete;
  bool active() const { return active_; }

 private:
  struct Workers;
  void release();  // closes an active scope: workers back to oneTBB, the pool free
  bool active_ = false;
  std::unique_ptr<Workers> workers_;
};

// Where a parallel loop called on this thread runs now.
enum class LoopRunner { tbb, spin_pool, serial };
LoopRunner loop_runner();

// Threads of the pool's loops (the scope's owner and the workers it asked
// for, started or not); 1 outside a scope.
int spin_pool_threads();

// Runs task(i) for every i in [0, n) on the owner and the workers, each index
// once; returns when all are done. Outside a scope (loop_runner() !=
// spin_pool) all run on this thread. An exception thrown by a task is
// rethrown here (the other tasks still run).
void spin_run(int n, void (*call)(const void* ctx, int i), const void* ctx);
template <class F>
void spin_run(int n, const F& task) {
  spin_run(n, [](const void* f, int i) { (*static_cast<const F*>(f))(i); }, &task);
}

// f(begin, end) over [0, n) in pieces of at least `grain`, on the pool.
template <class F>
void spin_range(int64_t n, int64_t grain, const F& f) {
  const int64_t threads = spin_pool_threads();
  const int64_t piece = std::max<int64_t>(std::max<int64_t>(1, grain), (n + 4 * threads - 1) / (4 * threads));
  const int64_t pieces = (n + piece - 1) / piece;  // at most 4 per thread: fits an int
  spin_run(int(pieces), [&](int i) { f(i * piece, std::min<int64_t>(n, (i + 1) * piece)); });
}

// On by default; RBE_SPIN_POOL=0 in the environment turns it off at start,
// and this at any time (benchmarks compare the two). Takes effect at the next
// scope.
void set_spin_pool_enabled(bool on);
bool spin_pool_enabled();

// Loops a worker has taken part in, since the start (tests check that a
// decoding step really uses the pool).
uint64_t spin_pool_worker_loops();

}  // namespace rbe::kernels
