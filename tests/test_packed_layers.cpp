// Layers running from an attached nn::PackedMatrix: Linear (gemv and gemm
// paths), Embedding lookups, and a whole GPT-2 with every matrix packed,
// including the tied head, against the dense model. The PackedMatrix here is
// a plain dense copy, so any difference is the wiring's fault.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "packed_test_util.h"
#include "autodiff/node.h"
#include "models/gpt2.h"
#include "nn/layers.h"
#include "nn/packed_matrix.h"

namespace {

using namespace rbe;

using testing_packed::DenseCopy;  // batch 1 runs its gemv, larger batches decode + SGEMM

float max_rel_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    num = std::max(num, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
    den = std::max(den, double(std::fabs(b.data<float>()[i])));
  }
  return float(num / std::max(den, 1e-12));
}

TEST(PackedLayers, LinearMatchesDenseForBatchOneAndMany) {
  NoGradGuard ng;
  nn::Linear lin(40, 300, true, 7);
  for (int64_t i = 0; i < lin.bias.numel(); ++i) lin.bias.data<float>()[i] = 0.01f * float(i % 13);
  for (int64_t N : {1, 5}) {
    Tensor x = Tensor::randn({N, 40}, 3 + N);
    Tensor dense = lin.forward(x);
    auto p = std::make_shared<DenseCopy>(lin.weight);
    lin.set_packed(p);
    Tensor packed = lin.forward(x);
    lin.set_packed(nullptr);
    EXPECT_LT(max_rel_diff(packed, dense), 1e-5f) << "N = " << N;
    EXPECT_EQ(p->gemv_calls, N == 1 ? 1 : 0);
  }
}

TEST(PackedLayers, ShapeMismatchAndGradientsAreRefused) {
  nn::Linear lin(8, 4);
  EXPECT_THROW(lin.set_packed(std::make_shared<DenseCopy>(Tensor::zeros({8, 4}))), ShapeError);
  lin.set_packed(std::make_shared<DenseCopy>(lin.weight));
  Tensor x = Tensor::randn({1, 8}, 1);
  x.set_requires_grad(true);
  EXPECT_THROW(lin.forward(x), std::runtime_error);  // inference only
}

TEST(PackedLayers, ObserverSeesEveryInput) {
  NoGradGuard ng;
  nn::Linear lin(6, 3);
  int64_t seen = 0;
  lin.observer = [&](const Tensor& x) { seen += x.numel() / 6; };
  lin.forward(Tensor::randn({4, 6}, 2));
  lin.forward(Tensor::randn({1, 6}, 3));
  EXPECT_EQ(seen, 5);
}

TEST(PackedLayers, Gpt2WithEveryMatrixPackedMatchesDense) {
  NoGradGuard ng;
  ModelConfig c;
  c.vocab_size = 97;
  c.n_positions = 32;
  c.n_embd = 48;
  c.n_layer = 2;
  c.n_head = 4;
  c.tokenizer = "char";
  GPT2Model m(c, 11);
  m.eval();
  Tensor ids = Tensor::empty({1, 9}, DType::I32);
  for (int i = 0; i < 9; ++i) ids.data<int32_t>()[i] = (i * 31) % 97;

  auto cache = m.make_cache(1, 32);
  Tensor dense_prompt = m.forward_cached(ids, cache);
  Tensor step = Tensor::empty({1, 1}, DType::I32);
  step.data<int32_t>()[0] = 5;
  Tensor dense_step = m.forward_cached(step, cache);

  int attached = 0;
  for (auto& [name, mod] : m.named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(mod.get())) lin->set_packed(std::make_shared<DenseCopy>(lin->weight)), ++attached;
    if (auto* emb = dynamic_cast<nn::Embedding*>(mod.get()); emb && name == "wte")
      emb->set_packed(std::make_shared<DenseCopy>(emb->weight)), ++attached;
  }
  EXPECT_EQ(attached, 2 * 4 + 1);
  // Poison the dense weights: the packed model must not read them.
  for (auto& [name, t] : m.named_parameters())
    if (t.dim() == 2 && name != "wpe.weight") std::fill(t.data<float>(), t.data<float>() + t.numel(), NAN);

  auto cache2 = m.make_cache(1, 32);
  Tensor packed_prompt = m.forward_cached(ids, cache2);
  Tensor packed_step = m.forward_cached(step, cache2);
  EXPECT_LT(max_rel_diff(packed_prompt, dense_prompt), 1e-4f);
  EXPECT_LT(max_rel_diff(packed_step, dense_step), 1e-4f);
}

}  // namespace
