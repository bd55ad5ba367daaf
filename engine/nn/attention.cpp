#include "nn/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autodiff/node.h"
#include "nn/kernel_util.h"
#include "tensor/kernels/gemm.h"

namespace rbe::nn {

using namespace rbe::nn::detail;

KVCache::KVCache(int64_t n_layer, int64_t batch_, int64_t n_head, int64_t max_length_, int64_t head_dim)
    : max_length(max_length_), batch(batch_) {
  if (n_layer <= 0 || batch_ <= 0 || n_head <= 0 || max_length_ <= 0 || head_dim <= 0)
    throw ShapeError("KVCache: all sizes must be positive (n_layer " + std::to_string(n_layer) + ", batch " +
                     std::to_string(batch_) + ", n_head " + std::to_string(n_head) + ", max_length " +
                     std::to_string(max_length_) + ", head_dim " + std::to_string(head_dim) + ")");
  for (int64_t l = 0; l < n_layer; ++l) {
    k.push_back(Tensor::empty({batch_, n_head, max_length_, head_dim}));
    v.push_back(Tensor::empty({batch_, n_head, max_length_, head_dim}));
  }
}

MultiHeadAttention::MultiHeadAttention(int64_t C, int64_t n_head, float dropout_, uint64_t seed, float init_std,
                                       float proj_init_std)
    : dropout(dropout_), n_head_(n_head), rng_(derive_seed(seed, 99)) {
  if (n_head <= 0 || C % n_head != 0)
    throw ShapeError("MultiHeadAttention: n_embd (" + std::to_string(C) + ") is not divisible by n_head (" +
                     std::to_string(n_head) + ")");
  c_attn = register_module("c_attn", std::make_shared<Linear>(C, 3 * C, true, derive_seed(seed, 0), init_std));
  c_proj = register_module("c_proj", std::make_shared<Linear>(C, C, true, derive_seed(seed, 1), proj_init_std));
}

Tensor MultiHeadAttention::forward(const Tensor& x, uint64_t dropout_seed) const {
  if (!x.defined() || x.dim() != 3 || x.size(2) != c_attn->in_features())
    throw ShapeError("MultiHeadAttention: x must be [B, T, " + std::to_string(c_attn->in_features()) + "], got " +
                     (x.defined() ? shape_str(x.shape()) : "undefined"));
  Tensor y = c_proj->forward(F::causal_self_attention(c_attn->forward(x), n_head_));
  return F::dropout(y, dropout, is_training(), dropout_seed);
}

Tensor MultiHeadAttention::forward_cached(const Tensor& x, KVCache& cache, int64_t layer) const {
  NoGradGuard no_grad;
  const int64_t C = c_attn->in_features(), H = n_head_, hd = C / H;
  if (!x.defined() || x.dim() != 3 || x.size(2) != C)
    throw ShapeError("MultiHeadAttention::forward_cached: x must be [B, T, " + std::to_string(C) + "], got " +
                     (x.defined() ? shape_str(x.shape()) : "undefined"));
  if (layer < 0 || layer >= cache.n_layer())
    throw ShapeError("MultiHeadAttention::forward_cached: layer " + std::to_string(layer) + " not in cache of " +
                     std::to_string(cache.n_layer()) + " layers");
  const int64_t B = x.size(0), Tn = x.size(1), L = cache.length, nk = L + Tn;
  const Tensor& kc = cache.k[size_t(layer)];
  const Tensor& vc = cache.v[size_t(layer)];
  if (B != kc.size(0) || H != kc.size(1) || hd != kc.size(3))
    throw ShapeError("MultiHeadAttention::forward_cached: cache " + shape_str(kc.shape()) + " does not fit x " +
                     shape_str(x.shape()) + " with " + std::to_string(H) + " heads");
  if (nk > cache.max_length)
    throw ShapeError("MultiHeadAttention::forward_cached: " + std::to_string(Tn) + " new tokens after " +
                     std::to_string(L) + " cached exceed the cache length " + std::to_string(cache.max_length));
  Tensor qkv = c_attn->forward(x);  // [B, Tn, 3C], contiguous
  const float* q3 = qkv.data<float>();
  float *kp = kc.data<float>(), *vp = vc.data<float>();
  const int64_t C3 = 3 * C, ML = cache.max_length;
  Tensor y = Tensor::empty({B, Tn, C});
  float* yp = y.data<float>();
  const float scale = float(1.0 / std::sqrt(double(hd)));
  parallel_range(B * H, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> S(static_cast<size_t>(Tn * nk));
    for (int64_t bh = t0; bh < t1; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      float* K = kp + bh * ML * hd;  // [ML, hd] of this (b, h)
      float* V = vp + bh * ML * hd;
      const float* src = q3 + b * Tn * C3 + h * hd;
      for (int64_t t = 0; t < Tn; ++t) {  // append the new keys/values
        std::memcpy(K + (L + t) * hd, src + t * C3 + C, size_t(hd) * sizeof(float));
        std::memcpy(V + (L + t) * hd, src + t * C3 + 2 * C, size_t(hd) * sizeof(float));
      }
      if (Tn == 1) {  // decoding one token: plain vector loops beat sgemm's packing at M = 1
        float* row = S.data();
        for (int64_t j = 0; j < nk; ++j) row[j] = scale * dot_f32(src, K + j * hd, hd);
        const float mx = max_f32(row, nk);
        const float inv = float(1.0 / exp_shift_sum(row, row, nk, mx));
        float* out = yp + b * C + h * hd;
        std::fill(out, out + hd, 0.f);
        for (int64_t j = 0; j < nk; ++j) {
          const float p = row[j] * inv;
          const float* vj = V + j * hd;
          for (int64_t d = 0; d < hd; ++d) out[d] += p * vj[d];
        }
        continue;
      }
      // S[Tn, nk] = scale * Q K[0:nk]^T; new row r sits at position L + r.
      kernels::sgemm(false, true, Tn, nk, hd, scale, src, C3, K, hd, 0.f, S.data(), nk);
      for (int64_t r = 0; r < Tn; ++r) {
        float* row = S.data() + r * nk;
        const int64_t n = L + r + 1;
        const float mx = max_f32(row, n);
        const float inv = float(1.0 / exp_shift_sum(row, row, n, mx));
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
        for (int64_t j = n; j < nk; ++j) row[j] = 0.f;
      }
      kernels::sgemm(false, false, Tn, hd, nk, 1.f, S.data(), nk, V, hd, 0.f, yp + b * Tn * C + h * hd, C);
    }
  });
  return c_proj->forward(y);
}

}  // namespace rbe::nn
