// Ragged batches: prompts of different lengths, left-padded to the longest and
// run as one batch (nn::KVCache::row_start masks the padding and shifts each
// row's positions). Every row must compute what it computes alone: logits of
// a padded batched forward_cached against single-row runs, greedy generation
// token for token (dense and packed weights), seeded sampling, per-row stops,
// the context limit of each row, and a RapidCheck property over random shapes.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "packed_test_util.h"
#include "autodiff/node.h"
#include "generate/generate.h"
#include "models/gpt2.h"
#include "nn/layers.h"
#include "nn/packed_matrix.h"

namespace {

using namespace rbe;

ModelConfig ragged_config(int64_t n_positions = 32) {
  ModelConfig c;
  c.vocab_size = 61;
  c.n_positions = n_positions;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.tokenizer = "char";
  return c;
}

// A random GPT-2 whose next token depends on its context: at GPT-2's init
// (std 0.02) the tied head mostly echoes the current token's embedding, so
// greedy tokens would hardly notice a broken mask or wrong positions.
GPT2Model& sharpen(GPT2Model& m) {
  NoGradGuard ng;
  for (auto& [name, t] : m.named_parameters())
    if (t.dim() == 2) {
      const float f = name == "wte.weight" || name == "wpe.weight" ? 20.f : 8.f;
      for (float *p = t.data<float>(), *e = p + t.numel(); p != e; ++p) *p *= f;
    }
  return m;
}

std::vector<int32_t> tokens(int64_t n, uint64_t seed, int64_t vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[size_t(i)] = int32_t((seed * 7919 + uint64_t(i) * 104729 + 13) % uint64_t(vocab));
  return t;
}

// max |a - b| / max |b| over n floats.
double rel_diff(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return num / std::max(den, 1e-30);
}

bool all_finite(const Tensor& t) {
  const float* p = t.data<float>();
  return std::all_of(p, p + t.numel(), [](float v) { return std::isfinite(v); });
}

// The prompts left-padded to the longest (pad id 0), with the cache's row_start set.
Tensor padded_ids(const std::vector<std::vector<int32_t>>& prompts, nn::KVCache& cache) {
  int64_t P = 0;
  for (const auto& p : prompts) P = std::max<int64_t>(P, int64_t(p.size()));
  std::vector<int32_t> ids;
  for (size_t b = 0; b < prompts.size(); ++b) {
    const int64_t pad = P - int64_t(prompts[b].size());
    cache.row_start[b] = pad;
    ids.insert(ids.end(), size_t(pad), 0);
    ids.insert(ids.end(), prompts[b].begin(), prompts[b].end());
  }
  return Tensor::from_vector(ids, {int64_t(prompts.size()), P});
}

// Runs the prompts as one padded batch, then `steps` decode chunks of `chunk`
// tokens each (the same tokens for every row), and checks every real position's
// logits against the row run alone. Returns the worst relative difference.
double padded_vs_alone(GPT2Model& m, const std::vector<std::vector<int32_t>>& prompts, int steps, int64_t chunk) {
  NoGradGuard ng;
  const int64_t B = int64_t(prompts.size()), V = m.config().vocab_size;
  int64_t P = 0;
  for (const auto& p : prompts) P = std::max<int64_t>(P, int64_t(p.size()));
  const int64_t ML = P + steps * chunk;
  nn::KVCache batch = m.make_cache(B, ML);
  Tensor logits = m.forward_cached(padded_ids(prompts, batch), batch).contiguous();  // [B, P, V]
  EXPECT_TRUE(all_finite(logits)) << "padded positions must stay finite";
  std::vector<Tensor> step_logits;
  std::vector<int32_t> step_ids = tokens(chunk * steps, 99, V);
  for (int s = 0; s < steps; ++s) {
    std::vector<int32_t> ids;
    for (int64_t b = 0; b < B; ++b)
      ids.insert(ids.end(), step_ids.begin() + s * chunk, step_ids.begin() + (s + 1) * chunk);
    step_logits.push_back(m.forward_cached(Tensor::from_vector(ids, {B, chunk}), batch).contiguous());
  }
  double worst = 0;
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[size_t(b)];
    const int64_t n = int64_t(p.size()), pad = P - n;
    nn::KVCache alone = m.make_cache(1, n + steps * chunk);
    Tensor ref = m.forward_cached(Tensor::from_vector(p, {1, n}), alone).contiguous();
    worst = std::max(worst, rel_diff(logits.data<float>() + (b * P + pad) * V, ref.data<float>(), n * V));
    for (int s = 0; s < steps; ++s) {
      std::vector<int32_t> ids(step_ids.begin() + s * chunk, step_ids.begin() + (s + 1) * chunk);
      Tensor r = m.forward_cached(Tensor::from_vector(ids, {1, chunk}), alone).contiguous();
      worst = std::max(worst, rel_diff(step_logits[size_t(s)].data<float>() + b * chunk * V, r.data<float>(), chunk * V));
    }
  }
  return worst;
}

SamplingParams greedy(int n) {
  SamplingParams p;
  p.temperature = 0.f;
  p.max_tokens = n;
  return p;
}

void expect_batch_equals_alone(GPT2Model& m, const std::vector<std::vector<int32_t>>& prompts, const SamplingParams& p) {
  auto batch = generate_batch(m, prompts, p);
  ASSERT_EQ(batch.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplingParams pi = p;
    pi.seed = p.seed + i;
    EXPECT_EQ(batch[i], generate(m, prompts[i], pi)) << "prompt " << i << " (length " << prompts[i].size() << ")";
  }
}

using testing_packed::DenseCopy;  // batch 1 runs its gemv, larger batches decode + SGEMM

// Every Linear and the token table packed; the dense weights poisoned with NaN.
void pack_everything(GPT2Model& m) {
  for (auto& [name, mod] : m.named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(mod.get())) lin->set_packed(std::make_shared<DenseCopy>(lin->weight));
    if (auto* emb = dynamic_cast<nn::Embedding*>(mod.get()); emb && name == "wte")
      emb->set_packed(std::make_shared<DenseCopy>(emb->weight));
  }
  for (auto& [name, t] : m.named_parameters())
    if (t.dim() == 2 && name != "wpe.weight") std::fill(t.data<float>(), t.data<float>() + t.numel(), NAN);
}

const std::vector<std::vector<int32_t>> kRagged = {tokens(1, 1, 61), tokens(5, 2, 61), tokens(17, 3, 61)};

TEST(RaggedBatch, PaddedLogitsEqualSingleRows) {
  GPT2Model m(ragged_config(), 21);
  sharpen(m);
  m.eval();
  EXPECT_LT(padded_vs_alone(m, kRagged, 4, 1), 1e-5);  // prefill (Tn > 1) and decode (Tn == 1)
  EXPECT_LT(padded_vs_alone(m, kRagged, 2, 3), 1e-5);  // chunks of 3 after the prefill (Tn > 1, L > 0)
  // The independent reference: the uncached full forward of the longest row alone.
  NoGradGuard ng;
  nn::KVCache cache = m.make_cache(3, 17);
  Tensor batched = m.forward_cached(padded_ids(kRagged, cache), cache).contiguous();
  Tensor full = m.forward(Tensor::from_vector(kRagged[0], {1, 1})).contiguous();
  EXPECT_LT(rel_diff(batched.data<float>() + 16 * 61, full.data<float>(), 61), 1e-5);
  // last = n: the same logits of the last n positions, [B, n, V]; n >= T: all of them.
  for (int64_t n : {1, 5, 17, 40}) {
    nn::KVCache cache2 = m.make_cache(3, 17);
    Tensor last = m.forward_cached(padded_ids(kRagged, cache2), cache2, n).contiguous();
    const int64_t kept = std::min<int64_t>(n, 17);
    ASSERT_EQ(last.shape(), (Shape{3, kept, 61})) << n;
    EXPECT_EQ(cache2.length, 17);
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t t = 0; t < kept; ++t)
        EXPECT_LT(rel_diff(last.data<float>() + (b * kept + t) * 61,
                           batched.data<float>() + (b * 17 + 17 - kept + t) * 61, 61),
                  1e-6)
            << "last " << n << ", row " << b << ", position " << t;
  }
  nn::KVCache cache3 = m.make_cache(3, 17);
  EXPECT_THROW(m.forward_cached(padded_ids(kRagged, cache3), cache3, -1), ShapeError);
  EXPECT_EQ(cache3.length, 0);
}

TEST(RaggedBatch, WithoutTheMaskThePaddingWouldChangeTheResult) {
  // The check above can fail: the same padded batch with row_start left at 0
  // (padding attended to, positions not shifted) differs from the single rows.
  GPT2Model m(ragged_config(), 22);
  sharpen(m);
  NoGradGuard ng;
  nn::KVCache cache = m.make_cache(3, 17);
  Tensor ids = padded_ids(kRagged, cache);
  std::fill(cache.row_start.begin(), cache.row_start.end(), 0);
  Tensor unmasked = m.forward_cached(ids, cache).contiguous();
  nn::KVCache alone = m.make_cache(1, 5);
  Tensor ref = m.forward_cached(Tensor::from_vector(kRagged[1], {1, 5}), alone).contiguous();
  EXPECT_GT(rel_diff(unmasked.data<float>() + (1 * 17 + 12) * 61, ref.data<float>(), 5 * 61), 1e-3);
}

TEST(RaggedBatch, FullyPaddedRowsStayFinite) {
  GPT2Model m(ragged_config(), 23);
  sharpen(m);
  NoGradGuard ng;
  nn::KVCache cache = m.make_cache(2, 16);
  cache.row_start = {0, 6};  // row 1: the first chunk is all padding
  Tensor a = m.forward_cached(Tensor::from_vector(tokens(8, 4, 61), {2, 4}), cache);
  EXPECT_TRUE(all_finite(a));
  Tensor b = m.forward_cached(Tensor::from_vector(tokens(2, 5, 61), {2, 1}), cache);  // still padding at 4
  EXPECT_TRUE(all_finite(b));
  Tensor c = m.forward_cached(Tensor::from_vector(tokens(6, 6, 61), {2, 3}), cache);  // 5 pad, 6 and 7 real
  EXPECT_TRUE(all_finite(c));
  // Row 1's real tokens (positions 6, 7) equal a fresh run of those two tokens.
  nn::KVCache alone = m.make_cache(1, 2);
  const std::vector<int32_t> t6 = tokens(6, 6, 61);
  Tensor ref = m.forward_cached(Tensor::from_vector(std::vector<int32_t>{t6[4], t6[5]}, {1, 2}), alone).contiguous();
  Tensor cc = c.contiguous();
  EXPECT_LT(rel_diff(cc.data<float>() + (3 + 1) * 61, ref.data<float>(), 2 * 61), 1e-5);
}

// The cache operations below run on an f32 and on an f16 cache (whose
// entries move as raw 16-bit values).
class RaggedCache : public ::testing::TestWithParam<DType> {};
INSTANTIATE_TEST_SUITE_P(KvDtype, RaggedCache, ::testing::Values(DType::F32, DType::F16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST_P(RaggedCache, CacheChecksAndDropFront) {
  GPT2Model m(ragged_config(), 24);
  sharpen(m);
  m.set_kv_cache_dtype(GetParam());
  NoGradGuard ng;
  nn::KVCache cache = m.make_cache(2, 8);
  EXPECT_EQ(cache.dtype(), GetParam());
  for (size_t l = 0; l < cache.k.size(); ++l) {  // every layer's keys and values in one buffer
    EXPECT_EQ(cache.k[l].storage(), cache.k[0].storage());
    EXPECT_EQ(cache.v[l].storage(), cache.k[0].storage());
  }
  EXPECT_EQ(cache.row_start, (std::vector<int64_t>{0, 0}));
  cache.row_start = {0};
  EXPECT_THROW(m.forward_cached(Tensor::from_vector(tokens(2, 1, 61), {2, 1}), cache), ShapeError);
  cache.row_start = {0, -1};
  EXPECT_THROW(m.forward_cached(Tensor::from_vector(tokens(2, 1, 61), {2, 1}), cache), ShapeError);
  cache.row_start = {3, 1};
  m.forward_cached(Tensor::from_vector(tokens(10, 1, 61), {2, 5}), cache);
  EXPECT_EQ(cache.row_length(0), 2);
  EXPECT_EQ(cache.row_length(1), 4);
  const std::vector<float> k_before = cache.k[1].to_vector();  // [2, 4, 8, 8]
  EXPECT_THROW(cache.drop_front(6), ShapeError);
  cache.drop_front(2);
  EXPECT_EQ(cache.length, 3);
  EXPECT_EQ(cache.row_start, (std::vector<int64_t>{1, 0}));
  const std::vector<float> k_after = cache.k[1].to_vector();
  for (int64_t bh = 0; bh < 8; ++bh)  // positions 2..4 moved to 0..2
    for (int64_t i = 0; i < 3 * 8; ++i)
      ASSERT_EQ(k_after[size_t(bh * 64 + i)], k_before[size_t(bh * 64 + 2 * 8 + i)]);
  cache.reset();
  EXPECT_EQ(cache.length, 0);
  EXPECT_EQ(cache.row_start, (std::vector<int64_t>{0, 0}));
}

// Reordered rows go through a new buffer; rows in ascending order (what
// generate() keeps) move down in place.
TEST_P(RaggedCache, KeepRowsContinuesLikeTheRowsAlone) {
  GPT2Model m(ragged_config(), 30);
  sharpen(m);
  m.set_kv_cache_dtype(GetParam());
  NoGradGuard ng;
  const std::vector<std::vector<int32_t>> prompts = {tokens(3, 1, 61), tokens(9, 2, 61), tokens(6, 3, 61)};
  const int64_t pad[3] = {6, 0, 3};  // left padding of each prompt in a batch of all three
  for (const std::vector<int64_t>& rows : {std::vector<int64_t>{2, 0}, {1, 2}, {0, 2}, {2}}) {
    SCOPED_TRACE("rows " + std::to_string(rows[0]) + (rows.size() > 1 ? "," + std::to_string(rows[1]) : ""));
    nn::KVCache cache = m.make_cache(3, 12);
    m.forward_cached(padded_ids(prompts, cache), cache);
    EXPECT_THROW(cache.keep_rows({0, 0}), ShapeError);
    EXPECT_THROW(cache.keep_rows({3}), ShapeError);
    EXPECT_THROW(cache.keep_rows({}), ShapeError);
    cache.keep_rows(rows);
    const int64_t n = int64_t(rows.size());
    EXPECT_EQ(cache.batch, n);
    for (int64_t j = 0; j < n; ++j) EXPECT_EQ(cache.row_start[size_t(j)], pad[rows[size_t(j)]]);
    for (size_t l = 0; l < cache.k.size(); ++l) {  // still every layer in one buffer (attention.cpp)
      EXPECT_EQ(cache.k[l].storage(), cache.k[0].storage());
      EXPECT_EQ(cache.v[l].storage(), cache.k[0].storage());
      EXPECT_EQ(cache.k[l].size(0), n);
    }
    std::vector<int32_t> next;
    for (int64_t j = 0; j < n; ++j) next.push_back(int32_t(4 + j));
    Tensor step = m.forward_cached(Tensor::from_vector(next, {n, 1}), cache).contiguous();
    for (int64_t j = 0; j < n; ++j) {
      const auto& p = prompts[size_t(rows[size_t(j)])];
      nn::KVCache alone = m.make_cache(1, int64_t(p.size()) + 1);
      m.forward_cached(Tensor::from_vector(p, {1, int64_t(p.size())}), alone);
      Tensor ref = m.forward_cached(Tensor::from_vector(std::vector<int32_t>{next[size_t(j)]}, {1, 1}), alone).contiguous();
      EXPECT_LT(rel_diff(step.data<float>() + j * 61, ref.data<float>(), 61), 1e-5) << "row " << j;
    }
  }
}

TEST(RaggedBatch, GreedyGenerationEqualsOneAtATime) {
  GPT2Model m(ragged_config(), 25);  // n_positions = 32
  sharpen(m);
  expect_batch_equals_alone(m, kRagged, greedy(8));
  // Past the context: the 17-token row stops at its own limit (16 tokens, as
  // alone); the others go on once the shared padding is dropped from the cache.
  auto out = generate_batch(m, kRagged, greedy(30));
  EXPECT_EQ(out[0].size(), 30u);
  EXPECT_EQ(out[1].size(), 28u);  // 5 + 27 = 32 positions
  EXPECT_EQ(out[2].size(), 16u);
  expect_batch_equals_alone(m, kRagged, greedy(30));
  // Prompts longer than the context are truncated from the left, as alone.
  expect_batch_equals_alone(m, {tokens(40, 7, 61), tokens(3, 8, 61), tokens(31, 9, 61)}, greedy(5));
}

// With an f16 cache too: the padded prompt pass, the rows that leave the
// batch (keep_rows) and the padding dropped at the context limit (drop_front).
TEST(RaggedBatch, F16CacheGreedyGenerationEqualsOneAtATime) {
  GPT2Model m(ragged_config(), 25);
  sharpen(m);
  m.set_kv_cache_dtype(DType::F16);
  expect_batch_equals_alone(m, kRagged, greedy(30));
  expect_batch_equals_alone(m, {tokens(40, 7, 61), tokens(3, 8, 61), tokens(31, 9, 61)}, greedy(5));
}

TEST(RaggedBatch, PackedWeightsGreedyEqualsOneAtATime) {
  GPT2Model m(ragged_config(), 26);
  sharpen(m);
  const auto dense = generate_batch(m, kRagged, greedy(12));
  pack_everything(m);
  expect_batch_equals_alone(m, kRagged, greedy(12));
  EXPECT_EQ(generate_batch(m, kRagged, greedy(12)), dense);
  EXPECT_LT(padded_vs_alone(m, kRagged, 3, 1), 1e-5);
}

TEST(RaggedBatch, SeededSamplingUsesOneStreamPerRow) {
  GPT2Model m(ragged_config(), 27);
  sharpen(m);
  SamplingParams p;
  p.temperature = 1.2f;
  p.top_k = 20;
  p.max_tokens = 10;
  p.seed = 5;
  expect_batch_equals_alone(m, kRagged, p);
  // Equal prompts in one batch still differ (seeds 5 and 6).
  auto same = generate_batch(m, {kRagged[1], kRagged[1]}, p);
  EXPECT_NE(same[0], same[1]);
}

TEST(RaggedBatch, PerRowStopsLeaveTheOthersUnchanged) {
  GPT2Model m(ragged_config(), 28);
  sharpen(m);
  const auto full = generate_batch(m, kRagged, greedy(10));
  std::vector<int> seen(3, 0);
  auto out = generate_batch(m, kRagged, greedy(10), [&](size_t seq, int32_t) { return seq != 2 || ++seen[2] < 3; });
  EXPECT_EQ(out[0], full[0]);
  EXPECT_EQ(out[1], full[1]);
  EXPECT_EQ(out[2], std::vector<int32_t>(full[2].begin(), full[2].begin() + 3));
}

// Random batch sizes (past 8 rows the steps leave the threads held for a
// step, and past 16 the multi-row GEMV), prompt lengths (some past the
// context) and token counts.
RC_GTEST_PROP(RaggedBatchProps, BatchEqualsOneAtATime, ()) {
  static GPT2Model model(ragged_config(24), 29);
  static GPT2Model& m = sharpen(model);  // once
  const int64_t B = *rc::gen::inRange<int64_t>(1, 19);
  const auto lengths = *rc::gen::container<std::vector<int64_t>>(size_t(B), rc::gen::inRange<int64_t>(1, 30));
  const uint64_t seed = *rc::gen::arbitrary<uint32_t>();
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t b = 0; b < B; ++b) prompts.push_back(tokens(lengths[size_t(b)], seed + uint64_t(b), 61));
  const int n = *rc::gen::inRange(1, 16);
  const auto batch = generate_batch(m, prompts, greedy(n));
  for (int64_t b = 0; b < B; ++b) RC_ASSERT(batch[size_t(b)] == generate(m, prompts[size_t(b)], greedy(n)));
  std::vector<std::vector<int32_t>> fit;  // logits: prompts within the context
  for (auto& p : prompts) fit.emplace_back(p.end() - std::min<int64_t>(int64_t(p.size()), 20), p.end());
  RC_ASSERT(padded_vs_alone(m, fit, 2, 2) < 1e-5);
}

}  // namespace
