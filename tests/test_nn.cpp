// Fused nn ops against composite rbe:: versions and finite differences, and
// the nn modules' structure.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/functional.h"
#include "nn/transformer.h"
#include "nn_test_util.h"

namespace {

using namespace rbe;
using namespace rbe::testutil;
namespace F = rbe::nn::F;

TEST(NNFunctional, LinearMatchesMatmulPlusBias) {
  Tensor x = leaf({2, 3, 5}, 1), w = leaf({4, 5}, 2), b = leaf({4}, 3);
  auto fused = [&] { return F::linear(x, w, b); };
  auto ref = [&] { return rbe::add(rbe::matmul(x, rbe::transpose(w, 0, 1)), b); };
  EXPECT_LT(max_abs_diff(fused(), ref()), 1e-5f);
  auto g1 = grads_of(fused, {x, w, b}), g2 = grads_of(ref, {x, w, b});
  for (int i = 0; i < 3; ++i) EXPECT_LT(max_abs_diff(g1[i], g2[i]), 1e-4f) << "input " << i;
  // no bias
  Tensor y = F::linear(x, w);
  EXPECT_LT(max_abs_diff(y, rbe::matmul(x, rbe::transpose(w, 0, 1))), 1e-5f);
}

TEST(NNFunctional, LinearRejectsBadShapes) {
  EXPECT_THROW(F::linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), ShapeError);
  EXPECT_THROW(F::linear(Tensor::zeros({2, 5}), Tensor::zeros({4, 5}), Tensor::zeros({3})), ShapeError);
}

TEST(NNFunctional, LinearStridedInput) {
  Tensor x = leaf({5, 3}, 4), w = leaf({2, 5}, 5);
  // x^T: [3, 5], not contiguous (made inside each graph: a backward pass frees its graph)
  auto g1 = grads_of([&] { return F::linear(rbe::transpose(x, 0, 1), w); }, {x, w});
  auto g2 = grads_of([&] { return rbe::matmul(rbe::transpose(x, 0, 1), rbe::transpose(w, 0, 1)); }, {x, w});
  EXPECT_LT(max_abs_diff(g1[0], g2[0]), 1e-4f);
  EXPECT_LT(max_abs_diff(g1[1], g2[1]), 1e-4f);
}

Tensor layer_norm_ref(const Tensor& x, const Tensor& w, const Tensor& b, float eps) {
  Tensor mu = rbe::mean(x, -1, true);
  Tensor var = rbe::var(x, -1, /*unbiased=*/false, true);
  return rbe::add(rbe::mul(rbe::div(rbe::sub(x, mu), rbe::sqrt(rbe::add(var, eps))), w), b);
}

TEST(NNFunctional, LayerNormMatchesComposite) {
  Tensor x = leaf({3, 4, 37}, 6, 2.f), w = leaf({37}, 7), b = leaf({37}, 8);
  auto fused = [&] { return F::layer_norm(x, w, b, 1e-5f); };
  auto ref = [&] { return layer_norm_ref(x, w, b, 1e-5f); };
  EXPECT_LT(max_abs_diff(fused(), ref()), 1e-4f);
  auto g1 = grads_of(fused, {x, w, b}), g2 = grads_of(ref, {x, w, b});
  for (int i = 0; i < 3; ++i) EXPECT_LT(max_abs_diff(g1[i], g2[i]), 2e-4f) << "input " << i;
}

// Inference (nothing needs a gradient) takes a path that keeps no statistics,
// records nothing and uses plain f32 inputs in place: the same numbers, bit
// for bit, for plain inputs and for ones it must convert (a transposed x,
// f16 parameters).
TEST(NNFunctional, LayerNormAndLinearInferenceMatchTheRecordedPath) {
  Tensor x = leaf({5, 37}, 12, 2.f), w = leaf({37}, 13), b = leaf({37}, 14);
  Tensor lw = leaf({6, 37}, 15), lb = leaf({6}, 16);
  const Tensor y_ln = F::layer_norm(x, w, b), y_lin = F::linear(x, lw, lb);
  ASSERT_TRUE(y_ln.requires_grad() && y_lin.requires_grad());
  Tensor xt = rbe::transpose(leaf({37, 5}, 17), 0, 1);  // [5, 37], not contiguous
  const Tensor yt_ln = F::layer_norm(xt, w, b), yt_lin = F::linear(xt, lw, lb);
  NoGradGuard no_grad;
  EXPECT_EQ(max_abs_diff(F::layer_norm(x, w, b), y_ln), 0.f);
  EXPECT_EQ(max_abs_diff(F::linear(x, lw, lb), y_lin), 0.f);
  EXPECT_EQ(max_abs_diff(F::layer_norm(xt, w, b), yt_ln), 0.f);
  EXPECT_EQ(max_abs_diff(F::linear(xt, lw, lb), yt_lin), 0.f);
  EXPECT_FALSE(F::layer_norm(x, w, b).requires_grad());
  // F16 parameters: converted for the norm, the f16 product for the linear layer.
  const Tensor w16 = w.to(DType::F16), b16 = b.to(DType::F16);
  EXPECT_EQ(max_abs_diff(F::layer_norm(x, w16, b16), F::layer_norm(x, w16.to(DType::F32), b16.to(DType::F32))), 0.f);
  EXPECT_LT(max_abs_diff(F::linear(x, lw.to(DType::F16), lb), y_lin), 2e-2f);
}

TEST(NNFunctional, LayerNormManyRowsParamGrads) {
  // More rows than one reduction chunk, so the partial sums are exercised.
  Tensor x = leaf({300, 16}, 9), w = leaf({16}, 10), b = leaf({16}, 11);
  auto g1 = grads_of([&] { return F::layer_norm(x, w, b); }, {x, w, b});
  auto g2 = grads_of([&] { return layer_norm_ref(x, w, b, 1e-5f); }, {x, w, b});
  for (int i = 0; i < 3; ++i) EXPECT_LT(max_abs_diff(g1[i], g2[i]), 1e-3f) << "input " << i;
}

TEST(NNFunctional, LayerNormStableWithLargeMean) {
  // Values 1e4 + N(0, 1): a one-pass E[x^2] - E[x]^2 in f32 would lose the variance.
  Tensor x = rbe::add(Tensor::randn({4, 64}, 12), 1e4f);
  Tensor y = F::layer_norm(x, Tensor::ones({64}), Tensor::zeros({64}));
  std::vector<float> xv = x.to_vector(), yv = y.to_vector();
  for (int r = 0; r < 4; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < 64; ++i) m += xv[size_t(r * 64 + i)];
    m /= 64;
    for (int i = 0; i < 64; ++i) v += (xv[size_t(r * 64 + i)] - m) * (xv[size_t(r * 64 + i)] - m);
    v /= 64;
    for (int i = 0; i < 64; ++i)
      EXPECT_NEAR(yv[size_t(r * 64 + i)], (xv[size_t(r * 64 + i)] - m) / std::sqrt(v + 1e-5), 2e-3);
  }
}

TEST(NNFunctional, LayerNormFiniteDifferences) {
  Tensor x = leaf({2, 6}, 13), w = leaf({6}, 14), b = leaf({6}, 15);
  auto f = [&] { return F::layer_norm(x, w, b); };
  check_finite_differences(f, x, 1e-2f, 2e-2f);
  check_finite_differences(f, w, 1e-2f, 2e-2f);
  check_finite_differences(f, b, 1e-2f, 2e-2f);
}

TEST(NNFunctional, RMSNormMatchesComposite) {
  Tensor x = leaf({5, 19}, 16), w = leaf({19}, 17);
  auto fused = [&] { return F::rms_norm(x, w, 1e-6f); };
  auto ref = [&] {
    Tensor ms = rbe::mean(rbe::mul(x, x), -1, true);
    return rbe::mul(rbe::div(x, rbe::sqrt(rbe::add(ms, 1e-6f))), w);
  };
  EXPECT_LT(max_abs_diff(fused(), ref()), 1e-4f);
  auto g1 = grads_of(fused, {x, w}), g2 = grads_of(ref, {x, w});
  for (int i = 0; i < 2; ++i) EXPECT_LT(max_abs_diff(g1[i], g2[i]), 2e-4f) << "input " << i;
}

TEST(NNFunctional, EmbeddingMatchesIndexSelectAndScatterAdds) {
  Tensor w = leaf({10, 6}, 18);
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{3, 1, 3, 9, 0, 3}, {2, 3});
  Tensor y = F::embedding(w, ids);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 6}));
  Tensor ref = rbe::reshape(rbe::index_select(w, 0, rbe::reshape(ids, {6})), {2, 3, 6});
  EXPECT_EQ(max_abs_diff(y, ref), 0.f);
  auto g1 = grads_of([&] { return F::embedding(w, ids); }, {w});
  auto g2 = grads_of([&] { return rbe::reshape(rbe::index_select(w, 0, rbe::reshape(ids, {6})), {2, 3, 6}); }, {w});
  EXPECT_LT(max_abs_diff(g1[0], g2[0]), 1e-5f);
}

TEST(NNFunctional, EmbeddingCountsRepeatedIds) {
  Tensor w = leaf({5, 4}, 19);
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{2, 2, 2, 4}, {4});
  rbe::backward(rbe::sum(F::embedding(w, ids)));
  EXPECT_FLOAT_EQ(w.grad().at({2, 1}), 3.f);
  EXPECT_FLOAT_EQ(w.grad().at({4, 3}), 1.f);
  EXPECT_FLOAT_EQ(w.grad().at({0, 0}), 0.f);
}

TEST(NNFunctional, EmbeddingRejectsBadIds) {
  Tensor w = Tensor::zeros({5, 4});
  EXPECT_THROW(F::embedding(w, Tensor::from_vector(std::vector<int32_t>{0, 5}, {2})), ShapeError);
  EXPECT_THROW(F::embedding(w, Tensor::from_vector(std::vector<int32_t>{-1}, {1})), ShapeError);
  EXPECT_THROW(F::embedding(w, Tensor::zeros({2})), ShapeError);  // f32 ids
}

TEST(NNFunctional, TokenPositionEmbeddingMatchesComposite) {
  Tensor wte = leaf({11, 8}, 20), wpe = leaf({9, 8}, 21);
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{1, 5, 5, 10, 0, 1}, {2, 3});
  Tensor pos = Tensor::from_vector(std::vector<int32_t>{2, 3, 4}, {3});
  auto fused = [&] { return F::token_position_embedding(wte, wpe, ids, 2); };
  auto ref = [&] { return rbe::add(F::embedding(wte, ids), F::embedding(wpe, pos)); };
  EXPECT_LT(max_abs_diff(fused(), ref()), 1e-6f);
  auto g1 = grads_of(fused, {wte, wpe}), g2 = grads_of(ref, {wte, wpe});
  EXPECT_LT(max_abs_diff(g1[0], g2[0]), 1e-5f);
  EXPECT_LT(max_abs_diff(g1[1], g2[1]), 1e-5f);
  EXPECT_THROW(F::token_position_embedding(wte, wpe, ids, 7), ShapeError);  // positions 7..9 of 9
}

// Reference: split qkv, move heads forward, composite attention, move back.
Tensor attention_ref(const Tensor& qkv, int64_t H) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
  std::vector<Tensor> parts = rbe::split(qkv, C, -1);
  auto heads = [&](const Tensor& t) { return rbe::permute(rbe::reshape(t, {B, T, H, C / H}), {0, 2, 1, 3}); };
  Tensor y = F::scaled_dot_product_attention(heads(parts[0]), heads(parts[1]), heads(parts[2]), true);
  return rbe::reshape(rbe::permute(y, {0, 2, 1, 3}), {B, T, C});
}

TEST(NNFunctional, CausalAttentionMatchesSDPA) {
  // T = 70 spans two 64-row blocks of the fused kernel.
  Tensor qkv = leaf({2, 70, 3 * 24}, 22);
  auto fused = [&] { return F::causal_self_attention(qkv, 3); };
  auto ref = [&] { return attention_ref(qkv, 3); };
  EXPECT_LT(max_abs_diff(fused(), ref()), 1e-4f);
  auto g1 = grads_of(fused, {qkv}), g2 = grads_of(ref, {qkv});
  EXPECT_LT(max_abs_diff(g1[0], g2[0]), 5e-4f);
}

TEST(NNFunctional, CausalAttentionIsCausal) {
  // Changing the last token must not change earlier outputs.
  Tensor qkv = Tensor::randn({1, 6, 12}, 23);
  Tensor y1 = F::causal_self_attention(qkv, 2);
  Tensor qkv2 = qkv.clone();
  for (int64_t c = 0; c < 12; ++c) qkv2.data<float>()[5 * 12 + c] += 1.f;
  Tensor y2 = F::causal_self_attention(qkv2, 2);
  std::vector<float> a = y1.to_vector(), b = y2.to_vector();
  for (size_t i = 0; i < 5 * 4; ++i) EXPECT_EQ(a[i], b[i]);
  EXPECT_NE(a[5 * 4], b[5 * 4]);
  EXPECT_THROW(F::causal_self_attention(qkv, 5), ShapeError);
}

TEST(NNFunctional, CausalAttentionFiniteDifferences) {
  Tensor qkv = leaf({1, 5, 3 * 8}, 24);
  check_finite_differences([&] { return F::causal_self_attention(qkv, 2); }, qkv, 1e-2f, 2e-2f);
}

TEST(NNFunctional, CrossEntropyMatchesLogSoftmaxGather) {
  Tensor logits = leaf({2, 3, 7}, 25, 3.f);
  std::vector<int32_t> tv = {1, 6, -1, 0, 3, 3};
  Tensor targets = Tensor::from_vector(tv, {2, 3});
  std::vector<float> onehot(2 * 3 * 7, 0.f);
  for (size_t n = 0; n < tv.size(); ++n)
    if (tv[n] >= 0) onehot[n * 7 + size_t(tv[n])] = 1.f;
  Tensor oh = Tensor::from_vector(onehot, {2, 3, 7});
  auto fused = [&] { return F::cross_entropy(logits, targets); };
  auto ref = [&] { return rbe::mul(rbe::sum(rbe::mul(rbe::log_softmax(logits, -1), oh)), -1.f / 5.f); };
  EXPECT_NEAR(fused().item(), ref().item(), 1e-5);
  logits.set_grad(Tensor());
  rbe::backward(fused());
  Tensor g1 = logits.grad();
  logits.set_grad(Tensor());
  rbe::backward(ref());
  EXPECT_LT(max_abs_diff(g1, logits.grad()), 1e-5f);
  // Scaled upstream gradient.
  logits.set_grad(Tensor());
  rbe::backward(rbe::mul(fused(), 3.f));
  EXPECT_LT(max_abs_diff(logits.grad(), rbe::mul(g1, 3.f)), 1e-5f);
  // [N, V] form.
  Tensor flat = Tensor::randn({4, 5}, 26);
  Tensor t4 = Tensor::from_vector(std::vector<int32_t>{0, 4, 2, 2}, {4});
  EXPECT_NEAR(F::cross_entropy(flat, t4).item(),
              -rbe::mean(rbe::sum(rbe::mul(rbe::log_softmax(flat, -1),
                                           Tensor::from_vector(std::vector<float>{1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0,
                                                                                  0, 0, 0, 1, 0, 0},
                                                               {4, 5})),
                                  -1)).item(),
              1e-5);
}

TEST(NNFunctional, CrossEntropyErrors) {
  Tensor logits = Tensor::zeros({2, 4});
  EXPECT_THROW(F::cross_entropy(logits, Tensor::from_vector(std::vector<int32_t>{0, 4}, {2})), ShapeError);
  EXPECT_THROW(F::cross_entropy(logits, Tensor::from_vector(std::vector<int32_t>{0}, {1})), ShapeError);
  EXPECT_THROW(F::cross_entropy(logits, Tensor::zeros({2})), ShapeError);
  // Uniform logits: loss = log(4).
  EXPECT_NEAR(F::cross_entropy(logits, Tensor::from_vector(std::vector<int32_t>{0, 3}, {2})).item(), std::log(4.f), 1e-6);
}

TEST(NNFunctional, DropoutIsInvertedAndReproducible) {
  Tensor x = leaf({100, 100}, 27);
  EXPECT_TRUE(F::dropout(x, 0.5f, false, 1).is_same(x));
  EXPECT_TRUE(F::dropout(x, 0.f, true, 1).is_same(x));
  Tensor y = F::dropout(x, 0.25f, true, 42);
  std::vector<float> xv = x.to_vector(), yv = y.to_vector();
  int zeros = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.f) ++zeros;
    else EXPECT_NEAR(yv[i], xv[i] / 0.75f, 1e-5f);
  }
  EXPECT_NEAR(zeros / 10000.0, 0.25, 0.03);
  EXPECT_EQ(max_abs_diff(y, F::dropout(x, 0.25f, true, 42)), 0.f);
  EXPECT_GT(max_abs_diff(y, F::dropout(x, 0.25f, true, 43)), 0.f);
  // Backward uses the same mask: dx = mask / (1 - p).
  rbe::backward(rbe::sum(F::dropout(x, 0.25f, true, 42)));
  std::vector<float> g = x.grad().to_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_FLOAT_EQ(g[i], yv[i] == 0.f ? 0.f : 1.f / 0.75f);
  EXPECT_THROW(F::dropout(x, 1.5f, true, 1), ShapeError);
}

// The in-place forms for inference give the same bits as the graph ops, and
// refuse tensors that need a gradient, are not contiguous, or differ in shape.
TEST(NNFunctional, InPlaceActivationAndAddMatchTheirGraphOps) {
  Tensor x = leaf({3, 50}, 28, 3.f), y = leaf({3, 50}, 29, 1.f);
  for (F::Activation a : {F::Activation::Gelu, F::Activation::GeluTanh, F::Activation::Relu, F::Activation::Silu,
                          F::Activation::Mish}) {
    Tensor t = x.detach().clone();
    F::activation_(t, a);
    EXPECT_EQ(t.to_vector(), F::activation(x.detach(), a).to_vector()) << F::activation_name(a);
  }
  Tensor s = x.detach().clone();
  F::add_(s, y.detach());
  EXPECT_EQ(s.to_vector(), F::add(x.detach(), y.detach()).to_vector());
  Tensor needs_grad = x;  // a leaf that requires a gradient
  EXPECT_THROW(F::activation_(needs_grad, F::Activation::Relu), ShapeError);
  EXPECT_THROW(F::add_(needs_grad, y.detach()), ShapeError);
  Tensor other = leaf({50, 3}, 30, 1.f).detach();
  EXPECT_THROW(F::add_(s, other), ShapeError);
  Tensor strided = rbe::transpose(x.detach().clone(), 0, 1);
  EXPECT_THROW(F::activation_(strided, F::Activation::Relu), ShapeError);
}

TEST(NNFunctional, ActivationsMatchComposite) {
  Tensor x = leaf({3, 50}, 28, 3.f);
  struct Case { F::Activation a; Tensor (*ref)(const Tensor&); };
  const Case cases[] = {{F::Activation::Gelu, &rbe::gelu}, {F::Activation::GeluTanh, &rbe::gelu_tanh},
                        {F::Activation::Relu, &rbe::relu}, {F::Activation::Silu, &rbe::silu},
                        {F::Activation::Mish, &rbe::mish}};
  for (const Case& c : cases) {
    auto fused = [&] { return F::activation(x, c.a); };
    auto ref = [&] { return c.ref(x); };
    EXPECT_LT(max_abs_diff(fused(), ref()), 1e-5f) << F::activation_name(c.a);
    EXPECT_LT(max_abs_diff(grads_of(fused, {x})[0], grads_of(ref, {x})[0]), 1e-4f) << F::activation_name(c.a);
  }
  EXPECT_EQ(F::activation_from_name("gelu_new"), F::Activation::GeluTanh);
  EXPECT_EQ(F::activation_from_name("swish"), F::Activation::Silu);
  EXPECT_THROW(F::activation_from_name("tanhh"), ShapeError);
}

TEST(NNFunctional, AddSameShapeAndBroadcast) {
  Tensor a = leaf({3, 4}, 29), b = leaf({3, 4}, 30), c = leaf({4}, 31);
  auto g = grads_of([&] { return F::add(a, b); }, {a, b});
  auto r = grads_of([&] { return rbe::add(a, b); }, {a, b});
  EXPECT_EQ(max_abs_diff(g[0], r[0]), 0.f);
  EXPECT_EQ(max_abs_diff(g[1], r[1]), 0.f);
  EXPECT_EQ(F::add(a, c).shape(), (Shape{3, 4}));
}

// ---- modules ----

std::vector<std::string> names(const nn::Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(n);
  return out;
}

TEST(NNModules, TransformerBlockUsesGPT2Names) {
  nn::BlockConfig cfg;
  cfg.n_embd = 16;
  cfg.n_head = 4;
  nn::TransformerBlock blk(cfg, 1);
  EXPECT_EQ(names(blk), (std::vector<std::string>{"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                                   "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                                   "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
                                                   "mlp.c_proj.bias"}));
  EXPECT_EQ(blk.attn->c_attn->weight.shape(), (Shape{48, 16}));
  EXPECT_EQ(blk.mlp->c_fc->weight.shape(), (Shape{64, 16}));
  EXPECT_EQ(blk.parameter_count(), 2 * 32 + 16 * 48 + 48 + 16 * 16 + 16 + 16 * 64 + 64 + 64 * 16 + 16);
  nn::Linear nobias(3, 2, false);
  EXPECT_EQ(names(nobias), (std::vector<std::string>{"weight"}));
  EXPECT_FALSE(nobias.bias.defined());
  cfg.n_head = 3;
  EXPECT_THROW(nn::TransformerBlock bad(cfg), ShapeError);
}

TEST(NNModules, PreAndPostLayerNormBothRun) {
  nn::BlockConfig cfg;
  cfg.n_embd = 16;
  cfg.n_head = 2;
  nn::TransformerBlock pre(cfg, 3);
  cfg.pre_ln = false;
  nn::TransformerBlock post(cfg, 3);
  Tensor x = leaf({2, 5, 16}, 32);
  Tensor a = pre.forward(x), b = post.forward(x);
  EXPECT_EQ(a.shape(), x.shape());
  EXPECT_EQ(b.shape(), x.shape());
  EXPECT_GT(max_abs_diff(a, b), 1e-3f);
  // Post-LN output rows are normalized (ln_2 weight 1, bias 0).
  std::vector<float> bv = b.to_vector();
  double m = 0;
  for (int i = 0; i < 16; ++i) m += bv[size_t(i)];
  EXPECT_NEAR(m / 16, 0.0, 1e-4);
  rbe::backward(rbe::sum(rbe::add(a, b)));
  EXPECT_TRUE(pre.attn->c_attn->weight.grad().defined());
  EXPECT_TRUE(post.mlp->c_fc->weight.grad().defined());
  EXPECT_TRUE(x.grad().defined());
}

TEST(NNModules, PreLNBlockMatchesComposite) {
  nn::BlockConfig cfg;
  cfg.n_embd = 12;
  cfg.n_head = 3;
  cfg.activation = "gelu";
  nn::TransformerBlock blk(cfg, 5);
  Tensor x = Tensor::randn({2, 7, 12}, 33);
  auto lin = [](const Tensor& t, const nn::Linear& l) {
    return rbe::add(rbe::matmul(t, rbe::transpose(l.weight, 0, 1)), l.bias);
  };
  auto ln = [](const Tensor& t, const nn::LayerNorm& l) { return layer_norm_ref(t, l.weight, l.bias, l.eps); };
  Tensor h = rbe::add(x, lin(attention_ref(lin(ln(x, *blk.ln_1), *blk.attn->c_attn), 3), *blk.attn->c_proj));
  Tensor ref = rbe::add(h, lin(rbe::gelu(lin(ln(h, *blk.ln_2), *blk.mlp->c_fc)), *blk.mlp->c_proj));
  EXPECT_LT(max_abs_diff(blk.forward(x), ref), 1e-4f);
}

TEST(NNModules, DropoutModuleOnlyInTraining) {
  nn::Dropout d(0.5f, 7);
  Tensor x = Tensor::ones({1000});
  Tensor y = d.forward(x);
  EXPECT_GT(max_abs_diff(x, y), 0.5f);
  d.eval();
  EXPECT_TRUE(d.forward(x).is_same(x));
}

TEST(NNModules, PositionalEmbeddings) {
  nn::SinusoidalPositionalEmbedding pe(10, 8);
  EXPECT_TRUE(pe.parameters().empty());
  Tensor t = pe.forward_range(0, 10);
  EXPECT_EQ(t.shape(), (Shape{10, 8}));
  EXPECT_NEAR(t.at({1, 0}), std::sin(1.0), 1e-6);
  EXPECT_NEAR(t.at({1, 1}), std::cos(1.0), 1e-6);
  EXPECT_NEAR(t.at({3, 2}), std::sin(3.0 / std::pow(10000.0, 2.0 / 8)), 1e-6);
  EXPECT_NEAR(t.at({3, 5}), std::cos(3.0 / std::pow(10000.0, 4.0 / 8)), 1e-6);
  EXPECT_EQ(max_abs_diff(pe.forward_range(4, 2), rbe::slice(t, 0, 4, 6)), 0.f);
  nn::LearnedPositionalEmbedding lpe(6, 4, 1);
  EXPECT_EQ(names(lpe), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(max_abs_diff(lpe.forward_range(2, 3), rbe::slice(lpe.weight, 0, 2, 5)), 0.f);
}

TEST(NNModules, ActivationAndLossModules) {
  Tensor x = Tensor::randn({2, 6}, 34);
  EXPECT_LT(max_abs_diff(nn::GELU("tanh").forward(x), rbe::gelu_tanh(x)), 1e-5f);
  EXPECT_LT(max_abs_diff(nn::GELU().forward(x), rbe::gelu(x)), 1e-5f);
  EXPECT_THROW(nn::GELU("fast"), ShapeError);
  EXPECT_LT(max_abs_diff(nn::ReLU().forward(x), rbe::relu(x)), 1e-6f);
  EXPECT_LT(max_abs_diff(nn::Swish().forward(x), rbe::silu(x)), 1e-5f);
  EXPECT_LT(max_abs_diff(nn::Mish().forward(x), rbe::mish(x)), 1e-5f);
  EXPECT_LT(max_abs_diff(nn::Softmax(-1).forward(x), rbe::softmax(x, -1)), 1e-6f);
  EXPECT_LT(max_abs_diff(nn::LogSoftmax(0).forward(x), rbe::log_softmax(x, 0)), 1e-6f);
  Tensor tg = Tensor::from_vector(std::vector<int32_t>{1, -1}, {2});
  EXPECT_NEAR(nn::CrossEntropyLoss().forward(x, tg).item(), -rbe::log_softmax(x, -1).at({0, 1}), 1e-5);
  nn::RMSNorm rms(6);
  EXPECT_EQ(names(rms), (std::vector<std::string>{"weight"}));
  nn::LayerNorm ln(6);
  EXPECT_EQ(names(ln), (std::vector<std::string>{"weight", "bias"}));
}

}  // namespace
