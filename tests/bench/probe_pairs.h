#pragma once
// What the benchmarks that set a kernel against rbe-bench's read-bandwidth
// probe share: buffers allocated as tensors are, a median, and the pairing
// of each timed run with a pass of every probe loop (ProbePairs).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "tensor/big_alloc.h"
#include "tensor/kernels/read_bandwidth.h"

namespace rbe::bench {

// Buffers as tensors get them (64-byte aligned, 2 MiB pages): a plain new[]
// is 16-byte aligned, which splits every AVX-512 load over two cache lines.
template <class T>
using Buffer = std::unique_ptr<T[], decltype(&std::free)>;
template <class T>
inline Buffer<T> make_buffer(int64_t n) {
  return Buffer<T>(static_cast<T*>(rbe::allocate_aligned(size_t(n) * sizeof(T))), &std::free);
}

inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Runs paired with rbe-bench's probe, as rbe-bench pairs them: before each
// run (untimed) every loop of the probe reads the same bytes once. The
// bandwidth is the loop with the largest median over the pairs, and a pair's
// ratio is the run's rate over that loop's rate in the same pair. (Against
// each pair's fastest pass, the estimator before the thirtieth session, the
// largest of eight noisy passes puts the ratios 2-3% low on the Zen 4 VM;
// kept as *_per_pass_max for comparison. docs/performance.md, "The probe's
// estimator".)
struct ProbePairs {
  std::vector<std::vector<double>> loop_gbs{rbe::kernels::ReadProbe::loops()};  // [loop][pair]
  std::vector<double> run_gbs;                                                  // [pair]

  void read(rbe::kernels::ReadProbe& probe) {
    for (size_t l = 0; l < loop_gbs.size(); ++l) loop_gbs[l].push_back(probe.pass(l));
  }
  // The same, with before() called ahead of each loop's pass: bytes few
  // enough to stay in cache from one pass to the next are evicted by it.
  template <class F>
  void read(rbe::kernels::ReadProbe& probe, const F& before) {
    for (size_t l = 0; l < loop_gbs.size(); ++l) {
      before();
      loop_gbs[l].push_back(probe.pass(l));
    }
  }
  void add_run(double gbs) { run_gbs.push_back(gbs); }
  size_t fastest_loop() const {
    size_t best = 0;
    for (size_t l = 1; l < loop_gbs.size(); ++l)
      if (median_of(loop_gbs[l]) > median_of(loop_gbs[best])) best = l;
    return best;
  }
  // The probe's rate in each pair: the fastest loop's, or (per_pass_max)
  // the largest of the pair's passes.
  std::vector<double> probe_gbs(bool per_pass_max = false) const {
    if (!per_pass_max) return loop_gbs[fastest_loop()];
    std::vector<double> m(run_gbs.size(), 0.0);
    for (const auto& l : loop_gbs)
      for (size_t i = 0; i < m.size(); ++i) m[i] = std::max(m[i], l[i]);
    return m;
  }
  // The median over the pairs of the run's rate over the probe's.
  double ratio(bool per_pass_max = false) const {
    const std::vector<double> probe = probe_gbs(per_pass_max);
    std::vector<double> r;
    for (size_t i = 0; i < run_gbs.size(); ++i) r.push_back(run_gbs[i] / probe[i]);
    return median_of(r);
  }
};

}  // namespace rbe::bench
