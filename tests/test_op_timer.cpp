// op_timer (rbe-bench --profile): nothing is recorded while it is off; when
// on, a decoding step of a GPT-2 model records each of its steps once per
// layer (or once per token), in order, with their time.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "autodiff/node.h"
#include "models/gpt2.h"
#include "tensor/op_timer.h"

namespace {

using namespace rbe;

// Leaves timing off and empty whatever a test does.
struct TimerOff {
  TimerOff() { op_timer::set_enabled(false), op_timer::reset(); }
  ~TimerOff() { op_timer::set_enabled(false), op_timer::reset(); }
};

TEST(OpTimer, RecordsOnlyWhileEnabledAndSumsByName) {
  TimerOff off;
  { op_timer::Scope s("step"); }
  EXPECT_TRUE(op_timer::entries().empty());
  op_timer::set_enabled(true);
  for (int i = 0; i < 3; ++i) {
    op_timer::Scope s("sleep");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  { op_timer::Scope s("other"); }
  const std::string same_name = "sleep";  // a name with another address sums into the same entry
  { op_timer::Scope s(same_name.c_str()); }
  op_timer::set_enabled(false);
  { op_timer::Scope s("sleep"); }  // off again: not counted
  const auto e = op_timer::entries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].name, "sleep");
  EXPECT_EQ(e[0].calls, 4);
  EXPECT_GE(e[0].seconds, 0.006);
  EXPECT_EQ(e[1].name, "other");
  EXPECT_EQ(e[1].calls, 1);
  op_timer::reset();
  EXPECT_TRUE(op_timer::entries().empty());
}

TEST(OpTimer, ADecodingStepTimesEveryStepOfEveryLayer) {
  TimerOff off;
  ModelConfig c;
  c.vocab_size = 40, c.n_positions = 16, c.n_embd = 32, c.n_layer = 3, c.n_head = 2, c.tokenizer = "char";
  GPT2Model m(c, 3);
  m.eval();
  nn::KVCache cache = m.make_cache(1, 16);
  m.forward_cached(Tensor::from_vector(std::vector<int32_t>{1, 2, 3}, {1, 3}), cache);
  op_timer::set_enabled(true);
  m.forward_cached(Tensor::from_vector(std::vector<int32_t>{4}, {1, 1}), cache);
  op_timer::set_enabled(false);
  std::map<std::string, int64_t> calls;
  std::vector<std::string> order;
  for (const auto& e : op_timer::entries()) {
    calls[e.name] = e.calls;
    order.push_back(e.name);
    EXPECT_GE(e.seconds, 0.0) << e.name;
  }
  const std::map<std::string, int64_t> want = {
      {"embed", 1},       {"layer norm", 2 * 3 + 1}, {"attn.c_attn", 3}, {"attn.core", 3},  {"attn.c_proj", 3},
      {"residual add", 2 * 3}, {"mlp.c_fc", 3},    {"mlp.act", 3},     {"mlp.c_proj", 3}, {"head", 1}};
  EXPECT_EQ(calls, want);
  ASSERT_FALSE(order.empty());
  EXPECT_EQ(order.front(), "embed");
  EXPECT_EQ(order.back(), "head");
}

}  // namespace
