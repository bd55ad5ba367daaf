// GPT2Model: parameter names and counts, tied head, checkpointing, overfitting
// a tiny sequence, and the KV-cache path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "models/gpt2.h"
#include "nn/decode_attention_avx512.h"
#include "nn/functional.h"
#include "nn_test_util.h"
#include "packed_test_util.h"
#include "tensor/ops.h"

namespace {

using namespace rbe;
using namespace rbe::testutil;

ModelConfig tiny_config(int64_t vocab = 32, int64_t ctx = 16, int64_t C = 16, int64_t L = 2, int64_t H = 2) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.n_positions = ctx;
  c.n_embd = C;
  c.n_layer = L;
  c.n_head = H;
  c.tokenizer = "char";
  return c;
}

// GPT-2 parameter count from the config.
int64_t expected_params(const ModelConfig& c) {
  const int64_t C = c.n_embd;
  const int64_t per_layer = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C);
  return c.vocab_size * C + c.n_positions * C + c.n_layer * per_layer + 2 * C +
         (c.tie_word_embeddings ? 0 : c.vocab_size * C);
}

Tensor ids_of(const std::vector<int32_t>& v, int64_t B, int64_t T) { return Tensor::from_vector(v, {B, T}); }

Tensor forward_no_grad(GPT2Model& m, const Tensor& ids) {
  NoGradGuard ng;
  return m.forward(ids);
}

// Multiplies every c_attn weight by f, so that attention scores spread wider.
void scale_c_attn(GPT2Model& m, float f) {
  NoGradGuard ng;
  for (auto& [name, p] : m.named_parameters())
    if (name.find("c_attn.weight") != std::string::npos) rbe::ops::mul_(p, f);
}

// Positions [t0, t1) of every row of toks, a [B, T] batch stored row by row.
Tensor columns(const std::vector<int32_t>& toks, int64_t B, int64_t T, int64_t t0, int64_t t1) {
  std::vector<int32_t> v;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = t0; t < t1; ++t) v.push_back(toks[size_t(b * T + t)]);
  return ids_of(v, B, t1 - t0);
}

TEST(GPT2, ParameterNamesFollowHuggingFace) {
  GPT2Model m(tiny_config(32, 16, 16, 2, 2));
  std::vector<std::string> names;
  for (auto& [n, t] : m.named_parameters()) names.push_back(n);
  std::vector<std::string> want = {"wte.weight", "wpe.weight"};
  for (int i = 0; i < 2; ++i)
    for (const char* s : {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                          "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                          "mlp.c_proj.weight", "mlp.c_proj.bias"})
      want.push_back("h." + std::to_string(i) + "." + s);
  want.push_back("ln_f.weight");
  want.push_back("ln_f.bias");
  EXPECT_EQ(names, want);

  ModelConfig untied = tiny_config();
  untied.tie_word_embeddings = false;
  GPT2Model u(untied);
  EXPECT_EQ(u.named_parameters().back().first, "lm_head.weight");
  EXPECT_EQ(u.named_parameters().back().second.shape(), (Shape{32, 16}));
}

TEST(GPT2, ParameterCount) {
  for (const ModelConfig& c : {tiny_config(32, 16, 16, 2, 2), tiny_config(50, 24, 32, 3, 4)}) {
    GPT2Model m(c);
    EXPECT_EQ(m.parameter_count(), expected_params(c));
    EXPECT_EQ(c.parameter_count(), double(expected_params(c)));  // from the config alone
  }
  ModelConfig untied = tiny_config(40, 8, 8, 1, 2);
  untied.tie_word_embeddings = false;
  EXPECT_EQ(GPT2Model(untied).parameter_count(), expected_params(untied));
  EXPECT_EQ(untied.parameter_count(), double(expected_params(untied)));
  ModelConfig gpt2_small;  // defaults are the 117M (a.k.a. 124M) model
  gpt2_small.vocab_size = 50257;
  gpt2_small.n_positions = 1024;
  gpt2_small.n_embd = 768;
  gpt2_small.n_layer = 12;
  gpt2_small.n_head = 12;
  EXPECT_EQ(expected_params(gpt2_small), 124439808);
  EXPECT_EQ(gpt2_small.parameter_count(), 124439808.0);
}

// A config whose f32 parameters exceed the machine's memory (a damaged
// config.json, say) is refused before anything is allocated: with 10^9
// blocks the model would otherwise be built for minutes, block by block.
TEST(GPT2, ConfigLargerThanMemoryIsRefused) {
  ModelConfig c = tiny_config(32, 16, 16, 2, 2);
  c.n_layer = 1000000000;
  try {
    GPT2Model m(c);
    FAIL() << "built a model of " << c.parameter_count() << " parameters";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("more than this machine's memory"), std::string::npos) << e.what();
  }
  c.n_layer = 2;
  c.vocab_size = int64_t(1) << 45;
  try {
    GPT2Model::for_loading(c, "some/config.json");
    FAIL() << "built a model of " << c.parameter_count() << " parameters";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("some/config.json: ", 0), 0u) << e.what();
  }
}

TEST(GPT2, ForwardShapesAndErrors) {
  GPT2Model m(tiny_config());
  Tensor logits = m.forward(ids_of({1, 2, 3, 4, 5, 6}, 2, 3));
  EXPECT_EQ(logits.shape(), (Shape{2, 3, 32}));
  EXPECT_THROW(m.forward(Tensor::zeros({1, 17}, DType::I32)), ShapeError);  // beyond n_positions
  EXPECT_THROW(m.forward(Tensor::zeros({1, 4})), ShapeError);                // f32 ids
  EXPECT_THROW(m.forward(Tensor::zeros({4}, DType::I32)), ShapeError);       // 1-d
  EXPECT_THROW(m.forward(ids_of({0, 32}, 1, 2)), ShapeError);                // id out of range
  ModelConfig bad = tiny_config();
  bad.n_head = 3;
  EXPECT_THROW(GPT2Model{bad}, ConfigError);
}

TEST(GPT2, TiedHeadGradientSumsBothUses) {
  ModelConfig c = tiny_config();
  GPT2Model tied(c, 5);
  c.tie_word_embeddings = false;
  GPT2Model untied(c, 5);  // same seed: same wte, wpe and blocks
  auto param = [](const GPT2Model& m, const std::string& name) {
    for (auto& [n, t] : m.named_parameters())
      if (n == name) return t;
    return Tensor();
  };
  Tensor wte = param(untied, "wte.weight"), head = param(untied, "lm_head.weight");
  ASSERT_EQ(max_abs_diff(wte, param(tied, "wte.weight")), 0.f);
  std::memcpy(head.data<float>(), wte.data<float>(), size_t(wte.numel()) * sizeof(float));
  Tensor ids = ids_of({3, 1, 4, 1, 5, 9, 2, 6}, 2, 4), tg = ids_of({1, 4, 1, 5, 9, 2, 6, 5}, 2, 4);
  rbe::backward(nn::F::cross_entropy(tied.forward(ids), tg));
  rbe::backward(nn::F::cross_entropy(untied.forward(ids), tg));
  Tensor sum = rbe::add(wte.grad(), head.grad());
  EXPECT_LT(max_abs_diff(param(tied, "wte.weight").grad(), sum), 1e-5f);
  // Both uses contribute: the head part alone is not the whole gradient.
  EXPECT_GT(max_abs_diff(param(tied, "wte.weight").grad(), head.grad()), 1e-6f);
}

TEST(GPT2, CheckpointingGivesSameGradients) {
  ModelConfig c = tiny_config(32, 16, 16, 3, 2);
  GPT2Model a(c, 9), b(c, 9);
  b.set_gradient_checkpointing(true);
  Tensor ids = ids_of({3, 1, 4, 1, 5, 9, 2, 6, 5, 3}, 2, 5), tg = ids_of({1, 4, 1, 5, 9, 2, 6, 5, 3, 5}, 2, 5);
  Tensor la = nn::F::cross_entropy(a.forward(ids), tg), lb = nn::F::cross_entropy(b.forward(ids), tg);
  EXPECT_FLOAT_EQ(la.item(), lb.item());
  rbe::backward(la);
  rbe::backward(lb);
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    ASSERT_TRUE(pb[i].second.grad().defined()) << pb[i].first;
    EXPECT_LT(max_abs_diff(pa[i].second.grad(), pb[i].second.grad()), 1e-6f) << pa[i].first;
  }
}

TEST(GPT2, CheckpointingWithDropoutReproducesMasks) {
  ModelConfig c = tiny_config();
  c.dropout = 0.2f;
  GPT2Model a(c, 4), b(c, 4);
  b.set_gradient_checkpointing(true);
  Tensor ids = ids_of({3, 1, 4, 1, 5, 9}, 1, 6), tg = ids_of({1, 4, 1, 5, 9, 2}, 1, 6);
  rbe::backward(nn::F::cross_entropy(a.forward(ids), tg));
  rbe::backward(nn::F::cross_entropy(b.forward(ids), tg));
  auto pa = a.named_parameters(), pb = b.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_LT(max_abs_diff(pa[i].second.grad(), pb[i].second.grad()), 1e-6f) << pa[i].first;
  a.eval();
  EXPECT_EQ(max_abs_diff(a.forward(ids), a.forward(ids)), 0.f);  // no dropout in eval mode
}

TEST(GPT2, OverfitsATinySequence) {
  ModelConfig c = tiny_config(16, 16, 32, 2, 2);
  GPT2Model m(c, 3);
  std::vector<int32_t> seq;
  for (int i = 0; i < 17; ++i) seq.push_back(int32_t((i * 5) % 16));
  Tensor ids = ids_of(std::vector<int32_t>(seq.begin(), seq.end() - 1), 1, 16);
  Tensor tg = ids_of(std::vector<int32_t>(seq.begin() + 1, seq.end()), 1, 16);
  auto params = m.parameters();
  std::vector<Tensor> mom;
  for (const Tensor& p : params) mom.push_back(Tensor::zeros(p.shape()));
  float first = 0, loss = 0;
  for (int step = 0; step < 200; ++step) {
    for (const Tensor& p : params) p.set_grad(Tensor());
    Tensor l = nn::F::cross_entropy(m.forward(ids), tg);
    loss = l.item();
    if (step == 0) first = loss;
    if (loss < 0.1f) break;
    rbe::backward(l);
    NoGradGuard ng;  // SGD with momentum
    for (size_t i = 0; i < params.size(); ++i) {
      float *p = params[i].data<float>(), *v = mom[i].data<float>();
      const float* g = params[i].grad().data<float>();
      for (int64_t k = 0; k < params[i].numel(); ++k) {
        v[k] = 0.9f * v[k] + g[k];
        p[k] -= 0.05f * v[k];
      }
    }
  }
  EXPECT_GT(first, 2.0f);
  EXPECT_LT(loss, 0.1f);
}

TEST(GPT2, ForwardCachedMatchesForward) {
  for (bool pre_ln : {true, false}) {
    ModelConfig c = tiny_config(32, 16, 16, 2, 2);
    c.pre_ln = pre_ln;
    GPT2Model m(c, 11);
    std::vector<int32_t> toks = {3, 1, 4, 1, 5, 9, 2, 6, 7, 0, 8, 2, 1, 1, 30, 31};  // B = 2, T = 8
    const Tensor full = forward_no_grad(m, ids_of(toks, 2, 8));
    nn::KVCache cache = m.make_cache(2, 16);
    std::vector<Tensor> pieces;
    auto cols = [&](int64_t t0, int64_t t1) { return columns(toks, 2, 8, t0, t1); };
    pieces.push_back(m.forward_cached(cols(0, 5), cache));
    for (int64_t t = 5; t < 8; ++t) pieces.push_back(m.forward_cached(cols(t, t + 1), cache));
    EXPECT_EQ(cache.length, 8);
    Tensor cached = rbe::concat(pieces, 1);
    EXPECT_FALSE(cached.requires_grad());
    EXPECT_LT(max_abs_diff(cached, full), 1e-4f) << "pre_ln " << pre_ln;
    EXPECT_THROW(m.forward_cached(ids_of(std::vector<int32_t>(18, 1), 2, 9), cache), ShapeError);  // overflows
  }
  GPT2Model m(tiny_config());
  EXPECT_THROW(m.make_cache(1, 17), ShapeError);
}

// GPT-2's head size (64) takes the blocked online-softmax decode kernel: one
// token at a time over 70 positions (three blocks of 32, so the running
// maximum is rescaled), both rows of a batch, against the full forward. The
// weights are scaled up so that the scores spread over tens of units. Two
// heads (taken two at a time) and three (one left alone), with the 8-lane
// loops and, where the CPU has AVX-512, the 16-lane ones.
TEST(GPT2, DecodingWithHeadSize64MatchesForward) {
  const bool start_up = nn::detail::decode_attention_avx512();
  for (bool wide : {false, true}) {
    nn::detail::set_decode_attention_avx512(wide);
    if (wide && !nn::detail::decode_attention_avx512()) continue;  // no AVX-512 here
    for (int64_t heads : {2, 3}) {
      ModelConfig c = tiny_config(32, 80, 64 * heads, 1, heads);
      GPT2Model m(c, 5);
      scale_c_attn(m, 8.f);
      const int64_t T = 70;
      std::vector<int32_t> toks;
      for (int64_t i = 0; i < 2 * T; ++i) toks.push_back(int32_t((i * 7 + i / 5) % 32));
      const Tensor full = forward_no_grad(m, ids_of(toks, 2, T));
      for (DType kv : {DType::F32, DType::F16}) {
        m.set_kv_cache_dtype(kv);
        nn::KVCache cache = m.make_cache(2, T);
        std::vector<Tensor> pieces;
        auto cols = [&](int64_t t0, int64_t t1) { return columns(toks, 2, T, t0, t1); };
        pieces.push_back(m.forward_cached(cols(0, 3), cache));
        for (int64_t t = 3; t < T; ++t) pieces.push_back(m.forward_cached(cols(t, t + 1), cache));
        float scale = 0.f;
        for (float v : full.to_vector()) scale = std::max(scale, std::fabs(v));
        EXPECT_LT(max_abs_diff(rbe::concat(pieces, 1), full), kv == DType::F32 ? 1e-4f : 2e-3f * scale)
            << heads << " heads, " << (wide ? "16" : "8") << " lanes, " << dtype_name(kv) << " cache";
      }
    }
  }
  nn::detail::set_decode_attention_avx512(start_up);
}

// A prompt's attention runs in blocks of query rows, each over the keys its
// last row sees (attention.cpp, kQueryBlock = 64): prompts of 150 tokens
// (three blocks, the last one short) in one pass and as a 70-token pass plus
// an 80-token pass over the cache (blocks that start after cached keys), both
// rows of a batch, against the full forward; then a row padded on the left
// (row_start) against the same row alone. Head size 32 takes those blocks;
// 64 takes the fused kernel where the CPU has AVX-512 (attention_avx512.h),
// in blocks of 16 rows.
void check_prompt_attention_against_forward(int64_t head_size) {
  ModelConfig c = tiny_config(32, 160, 2 * head_size, 1, 2);
  GPT2Model m(c, 9);
  scale_c_attn(m, 6.f);  // scores over several units
  const int64_t T = 150;
  std::vector<int32_t> toks;
  for (int64_t i = 0; i < 2 * T; ++i) toks.push_back(int32_t((i * 11 + i / 7) % 32));
  const Tensor full = forward_no_grad(m, ids_of(toks, 2, T));
  auto cols = [&](int64_t t0, int64_t t1) { return columns(toks, 2, T, t0, t1); };
  {
    nn::KVCache cache = m.make_cache(2, T);
    EXPECT_LT(max_abs_diff(m.forward_cached(cols(0, T), cache), full), 1e-4f) << "one pass";
  }
  {
    nn::KVCache cache = m.make_cache(2, T);
    std::vector<Tensor> pieces{m.forward_cached(cols(0, 70), cache), m.forward_cached(cols(70, T), cache)};
    EXPECT_LT(max_abs_diff(rbe::concat(pieces, 1), full), 1e-4f) << "70 + 80";
  }
  // Row 1 holds row 0's last 100 tokens after 50 positions of padding.
  const int64_t pad = 50;
  std::vector<int32_t> padded(toks.begin(), toks.begin() + T);
  for (int64_t t = 0; t < T; ++t) padded.push_back(t < pad ? 0 : toks[size_t(t)]);
  nn::KVCache cache = m.make_cache(2, T);
  cache.row_start = {0, pad};
  const Tensor both = m.forward_cached(ids_of(padded, 2, T), cache);
  nn::KVCache alone_cache = m.make_cache(1, T - pad);
  const Tensor alone = m.forward_cached(
      ids_of(std::vector<int32_t>(toks.begin() + pad, toks.begin() + T), 1, T - pad), alone_cache);
  const Tensor row1 = rbe::slice(rbe::slice(both, 0, 1, 2), 1, pad, T).contiguous();
  EXPECT_LT(max_abs_diff(row1, alone), 1e-4f) << "padded row";
}

TEST(GPT2, PromptAttentionInQueryBlocksMatchesForward) { check_prompt_attention_against_forward(32); }
TEST(GPT2, FusedPromptAttentionMatchesForward) { check_prompt_attention_against_forward(64); }

// An f16 KV cache: the same logits as the f32 cache up to the rounding of
// keys and values to f16, through a prompt, a second multi-token chunk (the
// prompt path over cached f16 keys) and single-token steps, for head size 64
// (the blocked decode loop) and 8 (the plain one). Other cache dtypes throw.
// The CLIs' --kv-cache auto: f32 for dense f32 matrices, f16 once any matrix
// is f16 or packed.
TEST(GPT2, KvCacheDtypeFollowsTheMatrices) {
  GPT2Model m(tiny_config(32, 16, 16, 1, 2), 3);
  EXPECT_EQ(m.kv_cache_dtype_for_matrices(), DType::F32);
  m.cast_matrices(DType::F16);
  EXPECT_EQ(m.kv_cache_dtype_for_matrices(), DType::F16);
  GPT2Model p(tiny_config(32, 16, 16, 1, 2), 3);
  nn::Linear* lin = nullptr;  // the last one
  for (auto& [name, mod] : p.named_modules())
    if (auto* l = dynamic_cast<nn::Linear*>(mod.get())) lin = l;
  ASSERT_NE(lin, nullptr);
  lin->set_packed(std::make_shared<testing_packed::DenseCopy>(lin->weight));
  EXPECT_EQ(p.kv_cache_dtype_for_matrices(), DType::F16);
  EXPECT_EQ(p.kv_cache_dtype(), DType::F32) << "the model's own default stays f32";
}

TEST(GPT2, F16KvCacheMatchesF32Cache) {
  for (int64_t hd : {64, 8}) {
    GPT2Model m(tiny_config(32, 80, 2 * hd, 2, 2), 9);
    {
      NoGradGuard ng;  // sharper attention, so that the cache's values matter
      for (auto& [name, p] : m.named_parameters())
        if (name.find("c_attn.weight") != std::string::npos) rbe::ops::mul_(p, 8.f);
    }
    const int64_t T = 40;
    std::vector<int32_t> toks;
    for (int64_t i = 0; i < 2 * T; ++i) toks.push_back(int32_t((i * 11 + i / 3) % 32));
    auto cols = [&](int64_t t0, int64_t t1) { return columns(toks, 2, T, t0, t1); };
    auto run = [&](DType kv) {
      m.set_kv_cache_dtype(kv);
      nn::KVCache cache = m.make_cache(2, T);
      EXPECT_EQ(cache.dtype(), kv);
      std::vector<Tensor> pieces{m.forward_cached(cols(0, 4), cache), m.forward_cached(cols(4, 9), cache)};
      for (int64_t t = 9; t < T; ++t) pieces.push_back(m.forward_cached(cols(t, t + 1), cache));
      return rbe::concat(pieces, 1);
    };
    const Tensor f32 = run(DType::F32), f16 = run(DType::F16);
    float scale = 0.f;
    for (float v : f32.to_vector()) scale = std::max(scale, std::fabs(v));
    const float diff = max_abs_diff(f16, f32);
    EXPECT_LT(diff, 2e-3f * scale) << "head size " << hd;
    EXPECT_GT(diff, 0.f) << "head size " << hd << ": the f16 cache rounds keys and values";
  }
  // A key beyond f16's range is clamped to 65504, not stored as inf (which
  // would make the softmax inf - inf = NaN).
  GPT2Model big(tiny_config(32, 16, 16, 1, 2), 3);
  {
    NoGradGuard ng;
    for (auto& [name, p] : big.named_parameters())
      if (name.find("c_attn.bias") != std::string::npos) p.data<float>()[16] = 1e6f;  // first key element
  }
  big.set_kv_cache_dtype(DType::F16);
  nn::KVCache cache = big.make_cache(1, 8);
  Tensor first = big.forward_cached(ids_of({1, 2, 3}, 1, 3), cache);
  Tensor next = big.forward_cached(ids_of({4}, 1, 1), cache);
  EXPECT_EQ(cache.k[0].to_vector()[0], 65504.f);
  for (const Tensor& t : {first, next})
    for (float v : t.to_vector()) ASSERT_TRUE(std::isfinite(v));
  GPT2Model m(tiny_config());
  EXPECT_THROW(m.set_kv_cache_dtype(DType::BF16), ShapeError);
  EXPECT_THROW(nn::KVCache(1, 1, 1, 4, 8, DType::I32), ShapeError);
}

}  // namespace
