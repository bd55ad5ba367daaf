// SkipInitGuard: loaders build models without drawing random weights; the
// guard is scoped and per thread, and normal construction is unchanged.
#include <gtest/gtest.h>

#include <thread>

#include "nn/layers.h"

using namespace rbe;

TEST(SkipInit, GuardIsScopedAndSeededInitUnchanged) {
  nn::Linear reference(8, 4, true, 42, 0.02f);
  EXPECT_FALSE(nn::skip_init());
  {
    nn::SkipInitGuard guard;
    EXPECT_TRUE(nn::skip_init());
    nn::Linear skipped(8, 4, true, 42, 0.02f);
    EXPECT_EQ(skipped.weight.shape(), (Shape{4, 8}));
    EXPECT_TRUE(skipped.weight.requires_grad());
    bool other_thread_skips = true;
    std::thread([&] { other_thread_skips = nn::skip_init(); }).join();
    EXPECT_FALSE(other_thread_skips);
  }
  EXPECT_FALSE(nn::skip_init());
  nn::Linear again(8, 4, true, 42, 0.02f);
  EXPECT_EQ(again.weight.to_vector(), reference.weight.to_vector());
}
