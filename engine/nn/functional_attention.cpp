// Fused causal multi-head self-attention (forward and backward), plus the
// composite reference version used by the tests.
#include <vector>

#include "nn/functional.h"
#include "nn/kernel_util.h"
#include "tensor/kernels/gemm.h"

namespace rbe::nn::F {

using namespace rbe::nn::detail;

namespace {

// Query rows are processed in blocks; a block of rows i0..i1 only needs keys
// 0..i1 (causal), which skips the upper triangle of QK^T.
constexpr int64_t kRowBlock = 64;

struct AttnDims {
  int64_t B, T, C, H, hd;
  float scale;
  int64_t C3() const { return 3 * C; }
  int64_t nblk() const { return (T + kRowBlock - 1) / kRowBlock; }
};

// out: [B, T, C], lse: [B, H, T]; qkv: [B, T, 3C]
void attention_forward(float* out, float* lse, const float* qkv, const AttnDims& d) {
  const int64_t C3 = d.C3(), nblk = d.nblk();
  parallel_range(d.B * d.H * nblk, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> S(static_cast<size_t>(kRowBlock * d.T));
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t bh = task / nblk, blk = task % nblk, b = bh / d.H, h = bh % d.H;
      const int64_t i0 = blk * kRowBlock, i1 = std::min(d.T, i0 + kRowBlock), m = i1 - i0, nk = i1;
      const float* base = qkv + b * d.T * C3 + h * d.hd;
      const float *Q = base + i0 * C3, *K = base + d.C, *V = base + 2 * d.C;
      float* s = S.data();
      // S[m, nk] = scale * Q[i0:i1] K[0:nk]^T
      kernels::sgemm(false, true, m, nk, d.hd, d.scale, Q, C3, K, C3, 0.f, s, nk);
      for (int64_t r = 0; r < m; ++r) {
        float* row = s + r * nk;
        const int64_t n = i0 + r + 1;  // keys 0..i visible
        const float mx = max_f32(row, n);
        const double sum = exp_shift_sum(row, row, n, mx);
        const float inv = float(1.0 / sum);
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
        for (int64_t j = n; j < nk; ++j) row[j] = 0.f;
        lse[bh * d.T + i0 + r] = mx + float(std::log(sum));
      }
      // out[i0:i1, head h] = P[m, nk] V[0:nk]
      kernels::sgemm(false, false, m, d.hd, nk, 1.f, s, nk, V, C3, 0.f, out + (b * d.T + i0) * d.C + h * d.hd, d.C);
    }
  });
}

// dqkv: [B, T, 3C] (overwritten); dout: [B, T, C]; qkv: [B, T, 3C]; lse: [B, H, T]
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* lse, const AttnDims& d) {
  const int64_t C3 = d.C3(), nblk = d.nblk();
  parallel_range(d.B * d.H, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> Pbuf(static_cast<size_t>(kRowBlock * d.T)), dPbuf(static_cast<size_t>(kRowBlock * d.T));
    for (int64_t bh = t0; bh < t1; ++bh) {
      const int64_t b = bh / d.H, h = bh % d.H;
      const float* base = qkv + b * d.T * C3 + h * d.hd;
      float* dbase = dqkv + b * d.T * C3 + h * d.hd;
      const float *K = base + d.C, *V = base + 2 * d.C;
      float *dK = dbase + d.C, *dV = dbase + 2 * d.C;
      for (int64_t t = 0; t < d.T; ++t) {  // dK, dV accumulate over row blocks
        std::memset(dK + t * C3, 0, size_t(d.hd) * sizeof(float));
        std::memset(dV + t * C3, 0, size_t(d.hd) * sizeof(float));
      }
      for (int64_t blk = 0; blk < nblk; ++blk) {
        const int64_t i0 = blk * kRowBlock, i1 = std::min(d.T, i0 + kRowBlock), m = i1 - i0, nk = i1;
        const float* Q = base + i0 * C3;
        const float* dO = dout + (b * d.T + i0) * d.C + h * d.hd;
        float *P = Pbuf.data(), *dP = dPbuf.data();
        // Recompute P = exp(scale * Q K^T - lse), causal.
        kernels::sgemm(false, true, m, nk, d.hd, d.scale, Q, C3, K, C3, 0.f, P, nk);
        // dP[m, nk] = dO[m, hd] V[0:nk]^T
        kernels::sgemm(false, true, m, nk, d.hd, 1.f, dO, d.C, V, C3, 0.f, dP, nk);
        for (int64_t r = 0; r < m; ++r) {
          float *prow = P + r * nk, *dprow = dP + r * nk;
          const int64_t n = i0 + r + 1;
          const float l = lse[bh * d.T + i0 + r];
          exp_shift_inplace(prow, n, l);
          for (int64_t j = n; j < nk; ++j) prow[j] = 0.f;
          // softmax backward: dS = P * (dP - sum_j P dP)
          const float D = dot_f32(prow, dprow, n);
          for (int64_t j = 0; j < n; ++j) dprow[j] = prow[j] * (dprow[j] - D);
          for (int64_t j = n; j < nk; ++j) dprow[j] = 0.f;
        }
        // dV[0:nk] += P^T dO
        kernels::sgemm(true, false, nk, d.hd, m, 1.f, P, nk, dO, d.C, 1.f, dV, C3);
        // dQ[i0:i1] = scale * dS K[0:nk]
        kernels::sgemm(false, false, m, d.hd, nk, d.scale, dP, nk, K, C3, 0.f, dbase + i0 * C3, C3);
        // dK[0:nk] += scale * dS^T Q[i0:i1]
        kernels::sgemm(true, false, nk, d.hd, m, d.scale, dP, nk, Q, C3, 1.f, dK, C3);
      }
    }
  });
}

}  // namespace

Tensor causal_self_attention(const Tensor& qkv, int64_t n_head) {
  const char* op = "causal_self_attention";
  if (!qkv.defined() || qkv.dim() != 3 || qkv.size(2) % 3 != 0)
    throw ShapeError("causal_self_attention: qkv must be [B, T, 3C], got " +
                     (qkv.defined() ? shape_str(qkv.shape()) : "undefined"));
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
  if (n_head <= 0 || C % n_head != 0)
    throw ShapeError("causal_self_attention: C = " + std::to_string(C) + " is not divisible by n_head = " +
                     std::to_string(n_head) + " (qkv " + shape_str(qkv.shape()) + ")");
  AttnDims d{B, T, C, n_head, C / n_head, 0.f};
  d.scale = float(1.0 / std::sqrt(double(d.hd)));
  Tensor qc = f32_contig(qkv, op, "qkv");
  Tensor y = Tensor::empty({B, T, C}), lse = Tensor::empty({B, n_head, T});
  attention_forward(y.data<float>(), lse.data<float>(), qc.data<float>(), d);
  return record(op, y, {qkv}, [qc, lse, d](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dqkv = Tensor::empty(qc.shape());
    attention_backward(dqkv.data<float>(), gc.data<float>(), qc.data<float>(), lse.data<float>(), d);
    return std::vector<Tensor>{dqkv};
  });
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
  if (!q.defined() || !k.defined() || !v.defined() || q.dim() < 2 || k.dim() < 2 || v.dim() < 2 ||
      q.size(-1) != k.size(-1) || k.size(-2) != v.size(-2))
    throw ShapeError("scaled_dot_product_attention: q, k, v must be [..., T, hd] with matching sizes, got " +
                     (q.defined() ? shape_str(q.shape()) : "?") + ", " + (k.defined() ? shape_str(k.shape()) : "?") +
                     ", " + (v.defined() ? shape_str(v.shape()) : "?"));
  const int64_t Tq = q.size(-2), Tk = k.size(-2);
  Tensor att = rbe::matmul(q, rbe::transpose(k, -2, -1)) * float(1.0 / std::sqrt(double(q.size(-1))));
  if (causal) {
    // Query i sits at position i + (Tk - Tq) of the keys (the last Tq positions).
    Tensor mask = Tensor::empty({Tq, Tk}, DType::Bool);
    uint8_t* mp = mask.data<uint8_t>();
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = 0; j < Tk; ++j) mp[i * Tk + j] = j <= i + (Tk - Tq);
    att = rbe::where(mask, att, Tensor::scalar(-INFINITY));
  }
  return rbe::matmul(rbe::softmax(att, -1), v);
}

}  // namespace rbe::nn::F
