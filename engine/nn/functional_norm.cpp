// Fused LayerNorm and RMSNorm over the last dim.
#include <vector>

#include "nn/functional.h"
#include "nn/kernel_util.h"

namespace rbe::nn::F {

using namespace rbe::nn::detail;

namespace {

// Parameter gradients are sums over rows. Rows are split into fixed chunks
// (independent of the thread count, so results are deterministic); each chunk
// sums into its own partial buffer, and the partials are reduced at the end.
constexpr int64_t kRowsPerChunk = 32;

// partials: [nchunk, width] -> out[width]
void reduce_partials(float* out, const std::vector<float>& partials, int64_t nchunk, int64_t width) {
  parallel_range(width, 256, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (int64_t k = 0; k < nchunk; ++k) s += partials[size_t(k * width + c)];
      out[c] = float(s);
    }
  });
}

// inp, out: [N, C]; weight, bias: [C]; mean, rstd: [N] (both null: not kept)
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int64_t N, int64_t C, float eps) {
  parallel_range(N, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = inp + r * C;
      float* y = out + r * C;
      // Two passes in double: stable even when |mean| >> std.
      double m = sum_f64(x, C) / double(C);
      double v = sum_sq_dev_f64(x, C, m) / double(C);
      float s = float(1.0 / std::sqrt(v + double(eps)));
      float mf = float(m);
      for (int64_t i = 0; i < C; ++i) y[i] = (x[i] - mf) * s * weight[i] + bias[i];
      if (mean) mean[r] = mf, rstd[r] = s;
    }
  });
}

// dout, inp, dinp: [N, C]; dweight, dbias: [C] (overwritten); mean, rstd: [N]
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C) {
  const int64_t nchunk = (N + kRowsPerChunk - 1) / kRowsPerChunk;
  const bool want_params = dweight || dbias;
  std::vector<float> partials(want_params ? size_t(nchunk * 2 * C) : 0, 0.f);
  parallel_range(nchunk, std::max<int64_t>(1, row_grain(C) / kRowsPerChunk), [&](int64_t k0, int64_t k1) {
    std::vector<float> dnorm(static_cast<size_t>(C)), norm(static_cast<size_t>(C));
    for (int64_t k = k0; k < k1; ++k) {
      float* pw = want_params ? &partials[size_t(k * 2 * C)] : nullptr;
      float* pb = want_params ? pw + C : nullptr;
      for (int64_t r = k * kRowsPerChunk, re = std::min(N, r + kRowsPerChunk); r < re; ++r) {
        const float* dy = dout + r * C;
        const float* x = inp + r * C;
        const float m = mean[r], s = rstd[r];
        for (int64_t i = 0; i < C; ++i) {
          norm[size_t(i)] = (x[i] - m) * s;
          dnorm[size_t(i)] = weight[i] * dy[i];
        }
        if (want_params)
          for (int64_t i = 0; i < C; ++i) {
            pw[i] += dy[i] * norm[size_t(i)];
            pb[i] += dy[i];
          }
        if (dinp) {
          const float dnorm_mean = float(sum_f64(dnorm.data(), C) / double(C));
          const float dnorm_norm_mean = dot_f32(dnorm.data(), norm.data(), C) / float(C);
          float* dx = dinp + r * C;
          for (int64_t i = 0; i < C; ++i)
            dx[i] = (dnorm[size_t(i)] - dnorm_mean - norm[size_t(i)] * dnorm_norm_mean) * s;
        }
      }
    }
  });
  if (!want_params) return;
  std::vector<float> out(static_cast<size_t>(2 * C));
  reduce_partials(out.data(), partials, nchunk, 2 * C);
  if (dweight) std::memcpy(dweight, out.data(), size_t(C) * sizeof(float));
  if (dbias) std::memcpy(dbias, out.data() + C, size_t(C) * sizeof(float));
}

// inp, out: [N, C]; weight: [C]; rstd: [N]
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C, float eps) {
  parallel_range(N, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = inp + r * C;
      float* y = out + r * C;
      float s = float(1.0 / std::sqrt(sum_sq_dev_f64(x, C, 0.0) / double(C) + double(eps)));
      for (int64_t i = 0; i < C; ++i) y[i] = x[i] * s * weight[i];
      rstd[r] = s;
    }
  });
}

// dx = s * (w*dy - x * s^2 * mean(w*dy*x)); dw = sum_rows dy * x * s
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t N, int64_t C) {
  const int64_t nchunk = (N + kRowsPerChunk - 1) / kRowsPerChunk;
  std::vector<float> partials(dweight ? size_t(nchunk * C) : 0, 0.f);
  parallel_range(nchunk, std::max<int64_t>(1, row_grain(C) / kRowsPerChunk), [&](int64_t k0, int64_t k1) {
    std::vector<float> wdy(static_cast<size_t>(C));
    for (int64_t k = k0; k < k1; ++k) {
      float* pw = dweight ? &partials[size_t(k * C)] : nullptr;
      for (int64_t r = k * kRowsPerChunk, re = std::min(N, r + kRowsPerChunk); r < re; ++r) {
        const float* dy = dout + r * C;
        const float* x = inp + r * C;
        const float s = rstd[r];
        if (pw)
          for (int64_t i = 0; i < C; ++i) pw[i] += dy[i] * x[i] * s;
        if (dinp) {
          for (int64_t i = 0; i < C; ++i) wdy[size_t(i)] = weight[i] * dy[i];
          const float mdot = dot_f32(wdy.data(), x, C) / float(C);
          float* dx = dinp + r * C;
          for (int64_t i = 0; i < C; ++i) dx[i] = s * (wdy[size_t(i)] - x[i] * s * s * mdot);
        }
      }
    }
  });
  if (dweight) reduce_partials(dweight, partials, nchunk, C);
}

void check_norm_args(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (!x.defined() || !weight.defined()) throw ShapeError(std::string(op) + ": undefined input");
  if (x.dim() < 1) throw ShapeError(std::string(op) + ": x must have at least 1 dim, got " + shape_str(x.shape()));
  const int64_t C = x.size(-1);
  if (weight.shape() != Shape{C} || (bias.defined() && bias.shape() != Shape{C}))
    throw ShapeError(std::string(op) + ": weight " + shape_str(weight.shape()) +
                     (bias.defined() ? " / bias " + shape_str(bias.shape()) : std::string()) +
                     " must be [" + std::to_string(C) + "] for x " + shape_str(x.shape()));
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const char* op = "layer_norm";
  if (!bias.defined()) throw ShapeError("layer_norm: bias is undefined");
  check_norm_args(op, x, weight, bias);
  const int64_t C = x.size(-1), N = C ? x.numel() / C : 0;
  Tensor y = Tensor::empty(x.shape());
  if (!needs_grad({&x, &weight, &bias})) {  // inference: no statistics kept, nothing recorded
    Tensor tx, tw, tb;
    layer_norm_rows(y.data<float>(), f32_contig_ref(x, tx, op, "x").data<float>(),
                    f32_contig_ref(weight, tw, op, "weight").data<float>(),
                    f32_contig_ref(bias, tb, op, "bias").data<float>(), N, C, eps);
    return y;
  }
  Tensor xc = f32_contig(x, op, "x"), wc = f32_contig(weight, op, "weight"), bc = f32_contig(bias, op, "bias");
  Tensor mean = Tensor::empty({N}), rstd = Tensor::empty({N});
  layernorm_forward(y.data<float>(), mean.data<float>(), rstd.data<float>(), xc.data<float>(), wc.data<float>(),
                    bc.data<float>(), N, C, eps);
  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  return record("layer_norm", y, {x, weight, bias}, [xc, wc, mean, rstd, N, C, gx, gw, gb](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dx = gx ? Tensor::empty(xc.shape()) : Tensor();
    Tensor dw = gw ? Tensor::empty({C}) : Tensor();
    Tensor db = gb ? Tensor::empty({C}) : Tensor();
    layernorm_backward(gx ? dx.data<float>() : nullptr, gw ? dw.data<float>() : nullptr,
                       gb ? db.data<float>() : nullptr, gc.data<float>(), xc.data<float>(), wc.data<float>(),
                       mean.data<float>(), rstd.data<float>(), N, C);
    return std::vector<Tensor>{dx, dw, db};
  });
}

void layer_norm_rows(float* y, const float* x, const float* weight, const float* bias, int64_t N, int64_t C, float eps) {
  layernorm_forward(y, nullptr, nullptr, x, weight, bias, N, C, eps);
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
  const char* op = "rms_norm";
  check_norm_args(op, x, weight, Tensor());
  const int64_t C = x.size(-1), N = C ? x.numel() / C : 0;
  Tensor xc = f32_contig(x, op, "x"), wc = f32_contig(weight, op, "weight");
  Tensor y = Tensor::empty(x.shape()), rstd = Tensor::empty({N});
  rmsnorm_forward(y.data<float>(), rstd.data<float>(), xc.data<float>(), wc.data<float>(), N, C, eps);
  const bool gx = wants_grad(x), gw = wants_grad(weight);
  return record("rms_norm", y, {x, weight}, [xc, wc, rstd, N, C, gx, gw](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dx = gx ? Tensor::empty(xc.shape()) : Tensor();
    Tensor dw = gw ? Tensor::empty({C}) : Tensor();
    rmsnorm_backward(gx ? dx.data<float>() : nullptr, gw ? dw.data<float>() : nullptr, gc.data<float>(),
                     xc.data<float>(), wc.data<float>(), rstd.data<float>(), N, C);
    return std::vector<Tensor>{dx, dw};
  });
}

}  // namespace rbe::nn::F
