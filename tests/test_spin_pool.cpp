// Threads held for a decoding step (tensor/kernels/spin_pool.h): every task
// of a loop runs once, a worker takes part, on the pool only inside a scope,
// one scope at a time, loops inside a task run serially, a task's exception
// reaches the caller, and a GPT-2 decoding step runs on the pool (prompts and
// larger batches do not) and gives the same logits bit for bit as on oneTBB.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "autodiff/node.h"
#include "models/gpt2.h"
#include "nn/kernel_util.h"
#include "tensor/kernels/row_chunks.h"
#include "tensor/kernels/spin_pool.h"

namespace {

using namespace rbe::kernels;

// Runs f inside a scope with `threads` usable threads (more than the cores:
// the workers then also wait for each other, which the tests want).
template <class F>
void in_scope(int threads, F&& f) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
  tbb::task_arena arena(threads);
  arena.execute([&] {
    SpinScope scope;
    ASSERT_TRUE(scope.active());
    f();
  });
}

TEST(SpinPool, OutsideAScopeLoopsUseOneTbb) {
  EXPECT_EQ(loop_runner(), LoopRunner::tbb);
  EXPECT_EQ(spin_pool_threads(), 1);
  int calls = 0;
  spin_run(3, [&](int) { ++calls; });  // no scope: all on this thread
  EXPECT_EQ(calls, 3);
}

TEST(SpinPool, EveryTaskRunsOnce) {
  for (int threads : {2, 3, 4}) {
    in_scope(threads, [&] {
      EXPECT_EQ(loop_runner(), LoopRunner::spin_pool);
      EXPECT_EQ(spin_pool_threads(), threads);
      for (int rep = 0; rep < 50; ++rep)
        for (int n = 1; n <= 37; n += 3) {
          std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
          spin_run(n, [&](int i) { hits[size_t(i)].fetch_add(1); });
          for (int i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "task " << i << " of " << n;
        }
    });
    EXPECT_EQ(loop_runner(), LoopRunner::tbb) << "the scope is closed";
  }
}

// Whichever thread takes a task waits there for the other task to start:
// only a second thread can start it.
TEST(SpinPool, AWorkerTakesPart) {
  in_scope(2, [] {
    const uint64_t before = spin_pool_worker_loops();
    std::atomic<int> started{0};
    std::atomic<bool> waited_out{false};
    std::thread::id ids[2];
    spin_run(2, [&](int i) {
      ids[i] = std::this_thread::get_id();
      started.fetch_add(1);
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (started.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      if (started.load() < 2) waited_out = true;
    });
    ASSERT_FALSE(waited_out) << "no second thread took a task within 20 s";
    EXPECT_NE(ids[0], ids[1]);
    EXPECT_TRUE(ids[0] == std::this_thread::get_id() || ids[1] == std::this_thread::get_id())
        << "the owner takes part too";
    EXPECT_GT(spin_pool_worker_loops(), before);
  });
}

TEST(SpinPool, RangesAndRowChunksCoverEveryIndexOnce) {
  in_scope(3, [] {
    for (int64_t n : {1, 2, 7, 64, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      rbe::nn::detail::parallel_range(n, 5, [&](int64_t a, int64_t b) {
        for (int64_t i = a; i < b; ++i) hits[size_t(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << i << " of " << n;
    }
    for (int64_t N : {8, 100, 3072, 50257}) {
      std::mutex mu;
      std::vector<std::pair<int64_t, int64_t>> got;
      parallel_row_chunks(N, 1536, kGemvRowChunking, [&](int64_t r0, int64_t r1) {
        std::lock_guard<std::mutex> lock(mu);
        got.emplace_back(r0, r1);
      });
      std::sort(got.begin(), got.end());
      int64_t next = 0;
      for (const auto& [r0, r1] : got) {
        ASSERT_EQ(r0, next) << "a gap or an overlap in " << N << " rows";
        ASSERT_TRUE(r1 == N || r1 % 4 == 0);
        next = r1;
      }
      EXPECT_EQ(next, N);
    }
  });
}

TEST(SpinPool, LoopsInsideATaskRunSerially) {
  in_scope(2, [] {
    std::atomic<int> nested_serial{0}, nested_pieces{0};
    spin_run(4, [&](int) {
      if (loop_runner() == LoopRunner::serial) nested_serial.fetch_add(1);
      rbe::nn::detail::parallel_range(1000, 1, [&](int64_t a, int64_t b) {
        EXPECT_EQ(a, 0);
        EXPECT_EQ(b, 1000);
        nested_pieces.fetch_add(1);
      });
    });
    EXPECT_EQ(nested_serial.load(), 4);
    EXPECT_EQ(nested_pieces.load(), 4);
    EXPECT_EQ(loop_runner(), LoopRunner::spin_pool);
  });
}

TEST(SpinPool, ATasksExceptionReachesTheCaller) {
  in_scope(2, [] {
    std::atomic<int> ran{0};
    EXPECT_THROW(spin_run(8,
                          [&](int i) {
                            ran.fetch_add(1);
                            if (i == 5) throw std::runtime_error("task 5");
                          }),
                 std::runtime_error);
    EXPECT_EQ(ran.load(), 8) << "the other tasks still run";
    int after = 0;
    std::mutex mu;
    spin_run(6, [&](int) {
      std::lock_guard<std::mutex> lock(mu);
      ++after;
    });
    EXPECT_EQ(after, 6) << "the pool works after an exception";
  });
}

TEST(SpinPool, OneScopeAtATime) {
  in_scope(2, [] {
    bool other_active = true;
    std::thread([&] {
      tbb::task_arena arena(2);
      arena.execute([&] {
        SpinScope second;
        other_active = second.active();
      });
    }).join();
    EXPECT_FALSE(other_active) << "a second thread's scope while the first is open";
    SpinScope nested;  // the owner again
    EXPECT_FALSE(nested.active());
    EXPECT_EQ(loop_runner(), LoopRunner::spin_pool) << "an inactive nested scope leaves the open one as it was";
  });
  bool later = false;
  std::thread([&] {
    tbb::task_arena arena(2);
    arena.execute([&] { later = SpinScope().active(); });
  }).join();
  EXPECT_TRUE(later) << "another thread takes the pool once it is free";
}

TEST(SpinPool, OffMeansNoScopeAndOneThreadMeansNoScope) {
  set_spin_pool_enabled(false);
  {
    tbb::task_arena arena(2);
    arena.execute([] { EXPECT_FALSE(SpinScope().active()); });
  }
  set_spin_pool_enabled(true);
  tbb::task_arena one(1);
  one.execute([] { EXPECT_FALSE(SpinScope().active()); });
}

// A decoding step of up to 8 rows holds the threads (GPT2Model::forward_cached
// opens a scope); a prompt and a step with the pool off do not.
TEST(SpinPool, Gpt2DecodingStepsRunOnThePool) {
  rbe::NoGradGuard ng;
  rbe::ModelConfig c = rbe::ModelConfig::preset("mini");
  rbe::GPT2Model m(c, 7);
  m.eval();
  rbe::nn::Linear* lin = nullptr;
  for (auto& [name, mod] : m.named_modules())
    if (auto* l = dynamic_cast<rbe::nn::Linear*>(mod.get()); l && !lin) lin = l;
  ASSERT_NE(lin, nullptr);
  std::vector<LoopRunner> seen;
  lin->observer = [&](const rbe::Tensor&) { seen.push_back(loop_runner()); };
  tbb::task_arena arena(2);
  arena.execute([&] {
    for (int64_t B : {1, 8, 9}) {
      rbe::nn::KVCache cache = m.make_cache(B, 8);
      m.forward_cached(rbe::Tensor::from_vector(std::vector<int32_t>(size_t(B * 3), 5), {B, 3}), cache, 1);
      m.forward_cached(rbe::Tensor::from_vector(std::vector<int32_t>(size_t(B), 6), {B, 1}), cache);
      set_spin_pool_enabled(false);
      m.forward_cached(rbe::Tensor::from_vector(std::vector<int32_t>(size_t(B), 7), {B, 1}), cache);
      set_spin_pool_enabled(true);
    }
  });
  lin->observer = nullptr;
  using R = LoopRunner;
  const std::vector<LoopRunner> want{R::tbb, R::spin_pool, R::tbb,   // batch 1: prompt, step, step with the pool off
                                     R::tbb, R::spin_pool, R::tbb,   // batch 8
                                     R::tbb, R::tbb, R::tbb};        // batch 9: steps through the GEMM, on oneTBB
  EXPECT_EQ(seen, want);
}

// Decoding steps with a worker taking part give the same logits as on
// oneTBB, at batch 1 and 3.
TEST(SpinPool, Gpt2DecodingStepsMatchOneTbbBitForBit) {
  rbe::NoGradGuard ng;
  rbe::ModelConfig c = rbe::ModelConfig::preset("mini");
  rbe::GPT2Model m(c, 7);
  m.eval();
  // Eight steps after a 5-token prompt, and whether a worker took part in
  // any of their loops. held: inside one scope whose worker has been seen
  // running first (a step is too short for a busy machine to start one).
  auto steps = [&](int64_t B, bool held, std::vector<std::vector<float>>& logits) {
    logits.clear();
    uint64_t before = 0;
    tbb::task_arena arena(2);
    arena.execute([&] {
      std::optional<SpinScope> scope;
      if (held) {
        scope.emplace();
        ASSERT_TRUE(scope->active());
        // Task 0 waits (up to 20 s) for task 1, which only a second thread can start.
        std::atomic<bool> second{false};
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        spin_run(2, [&](int i) {
          if (i == 1) second = true;
          while (!second && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        });
      }
      before = spin_pool_worker_loops();
      rbe::nn::KVCache cache = m.make_cache(B, 16);
      std::vector<int32_t> prompt(size_t(B * 5));
      for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t(i * 37 % c.vocab_size);
      m.forward_cached(rbe::Tensor::from_vector(prompt, {B, 5}), cache, 1);
      for (int step = 0; step < 8; ++step) {
        std::vector<int32_t> next(size_t(B), int32_t(11 + step));
        rbe::Tensor y = m.forward_cached(rbe::Tensor::from_vector(next, {B, 1}), cache);
        logits.emplace_back(y.data<float>(), y.data<float>() + y.numel());
      }
    });
    return spin_pool_worker_loops() > before;
  };
  for (int64_t B : {1, 3}) {
    // The worker spins for the whole scope, but a busy machine may not run
    // it during these few milliseconds: again until it has, for up to 20 s.
    std::vector<std::vector<float>> held, tbb_logits;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool joined = false;
    while (!(joined = steps(B, true, held)) && std::chrono::steady_clock::now() < until) {
    }
    EXPECT_TRUE(joined) << "batch " << B << ": no step's loops ran on a worker within 20 s";
    set_spin_pool_enabled(false);
    steps(B, false, tbb_logits);
    set_spin_pool_enabled(true);
    ASSERT_EQ(held.size(), tbb_logits.size());
    for (size_t s = 0; s < held.size(); ++s)
      EXPECT_EQ(0, std::memcmp(held[s].data(), tbb_logits[s].data(), held[s].size() * sizeof(float)))
          << "batch " << B << ", step " << s;
  }
}

}  // namespace
