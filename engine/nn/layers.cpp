#include "nn/layers.h"

#include <cmath>

#include "nn/activations.h"

namespace rbe::nn {

static void check_positive(const char* what, int64_t v, const char* name) {
  if (v <= 0) throw ShapeError(std::string(what) + ": " + name + " must be positive, got " + std::to_string(v));
}

namespace {
thread_local bool g_skip_init = false;
}

SkipInitGuard::SkipInitGuard() : prev_(g_skip_init) { g_skip_init = true; }
SkipInitGuard::~SkipInitGuard() { g_skip_init = prev_; }
bool skip_init() { return g_skip_init; }

// Normal(0, std) weights from the seed, or uninitialised under SkipInitGuard.
static Tensor init_normal(const Shape& shape, uint64_t seed, float std) {
  return g_skip_init ? Tensor::empty(shape) : Tensor::randn(shape, seed, 0.f, std);
}

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, uint64_t seed, float init_std) {
  check_positive("Linear", in_features, "in_features");
  check_positive("Linear", out_features, "out_features");
  weight = register_parameter("weight", init_normal({out_features, in_features}, seed, init_std));
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out_features}));
}

static void check_packed_shape(const char* what, const PackedMatrix& p, const Tensor& weight) {
  if (p.rows() != weight.size(0) || p.cols() != weight.size(1))
    throw ShapeError(std::string(what) + ": packed " + p.format() + " weight [" + std::to_string(p.rows()) + ", " +
                     std::to_string(p.cols()) + "] does not match the layer's weight " + shape_str(weight.shape()));
}

Tensor Linear::forward(const Tensor& x) const {
  if (observer) observer(x);
  return packed_ ? F::linear_packed(x, *packed_, bias) : F::linear(x, weight, bias);
}

void Linear::set_packed(std::shared_ptr<const PackedMatrix> p) {
  if (p) check_packed_shape("Linear::set_packed", *p, weight);
  packed_ = std::move(p);
}

LayerNorm::LayerNorm(int64_t C, float eps_) : eps(eps_) {
  check_positive("LayerNorm", C, "C");
  weight = register_parameter("weight", Tensor::ones({C}));
  bias = register_parameter("bias", Tensor::zeros({C}));
}

RMSNorm::RMSNorm(int64_t C, float eps_) : eps(eps_) {
  check_positive("RMSNorm", C, "C");
  weight = register_parameter("weight", Tensor::ones({C}));
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim, uint64_t seed, float init_std) {
  check_positive("Embedding", num_embeddings, "num_embeddings");
  check_positive("Embedding", dim, "dim");
  weight = register_parameter("weight", init_normal({num_embeddings, dim}, seed, init_std));
}

Tensor Embedding::forward(const Tensor& ids) const {
  return packed_ ? F::embedding_packed(*packed_, ids) : F::embedding(weight, ids);
}

void Embedding::set_packed(std::shared_ptr<const PackedMatrix> p) {
  if (p) check_packed_shape("Embedding::set_packed", *p, weight);
  packed_ = std::move(p);
}

static Tensor position_ids(int64_t start, int64_t T) {
  Tensor ids = Tensor::empty({T}, DType::I32);
  for (int64_t t = 0; t < T; ++t) ids.data<int32_t>()[t] = int32_t(start + t);
  return ids;
}

LearnedPositionalEmbedding::LearnedPositionalEmbedding(int64_t n_pos, int64_t dim, uint64_t seed, float init_std) {
  check_positive("LearnedPositionalEmbedding", n_pos, "n_pos");
  check_positive("LearnedPositionalEmbedding", dim, "dim");
  weight = register_parameter("weight", init_normal({n_pos, dim}, seed, init_std));
}

Tensor LearnedPositionalEmbedding::forward_range(int64_t start, int64_t T) const {
  return F::embedding(weight, position_ids(start, T));
}

SinusoidalPositionalEmbedding::SinusoidalPositionalEmbedding(int64_t n_pos, int64_t dim) {
  check_positive("SinusoidalPositionalEmbedding", n_pos, "n_pos");
  check_positive("SinusoidalPositionalEmbedding", dim, "dim");
  table_ = Tensor::empty({n_pos, dim});
  float* p = table_.data<float>();
  for (int64_t pos = 0; pos < n_pos; ++pos)
    for (int64_t i = 0; i < dim; ++i) {
      const double freq = std::pow(10000.0, -double(i - i % 2) / double(dim));
      p[pos * dim + i] = float(i % 2 == 0 ? std::sin(double(pos) * freq) : std::cos(double(pos) * freq));
    }
}

Tensor SinusoidalPositionalEmbedding::forward_range(int64_t start, int64_t T) const {
  return F::embedding(table_, position_ids(start, T));
}

GELU::GELU(const std::string& approximate) {
  if (approximate == "none") act_ = F::Activation::Gelu;
  else if (approximate == "tanh") act_ = F::Activation::GeluTanh;
  else throw ShapeError("GELU: approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
}

}  // namespace rbe::nn
