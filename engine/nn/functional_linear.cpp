// Fused linear layer and same-shape add.
#include "autodiff/node.h"
#include "nn/functional.h"
#include "nn/kernel_util.h"
#include "nn/linear_forward.h"
#include "tensor/kernels/gemm.h"
#include "tensor/kernels/gemm_f16.h"
#include "tensor/kernels/gemm_split.h"
#include "tensor/kernels/gemv.h"

namespace rbe::nn::F {

using namespace rbe::nn::detail;

namespace {

// Up to this many input rows a linear layer streams its weight once through
// the multi-vector GEMV instead of packing it for the GEMM: on the 117M token
// matrices (tests/bench/bench_gemv, token_batch) it beats sgemm / gemm_f16w at
// every M in 2..8, the most it takes in one pass (docs/performance.md).
constexpr int64_t kMultiGemvMaxRows = 8;
// With f16 weights inference goes on with the GEMV up to 16 rows, in two
// passes over the weight (kernels::hgemv_multi's even groups): on the
// Emerald Rapids VM the split AMX tiles took 1.0-1.6x its time from 9 to 16
// rows, the SGEMM about 3x, AVX2's 1.04-1.8x; from 17 rows the GEMV needs a
// third pass and the tiles lead (docs/performance.md, "Batches of 9 to
// 16"). With f32 weights each pass reads twice an f16 pass's bytes, and
// the SGEMM, which reads them once, is as fast or faster from 9 rows; the
// f32 tiles come in only from 32 (kSplitTilesMinRowsF32). A training step
// (graph) takes the SGEMM from 9 rows whatever the CPU, so that its numbers
// do not depend on it.
constexpr int64_t kMultiGemvMaxRowsF16 = 16;

// Copies bias[OC] into every row of out[N, OC] so that the GEMM can add onto
// it; returns the GEMM's beta (0 without a bias: out is overwritten).
float fill_rows_with_bias(float* out, const float* bias, int64_t N, int64_t OC) {
  if (!bias) return 0.f;
  parallel_range(N, row_grain(OC), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::memcpy(out + r * OC, bias, size_t(OC) * sizeof(float));
  });
  return 1.f;
}

// dbias[OC] = sum over rows of dout[N, OC]; parallel over column blocks (no races).
void column_sums(float* dbias, const float* dout, int64_t N, int64_t OC) {
  constexpr int64_t kCols = 64;
  int64_t nblk = (OC + kCols - 1) / kCols;
  parallel_range(nblk, N * kCols >= (1 << 16) ? 1 : nblk, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      int64_t c0 = blk * kCols, c1 = std::min(OC, c0 + kCols);
      double acc[kCols] = {};
      for (int64_t r = 0; r < N; ++r) {
        const float* row = dout + r * OC;
        for (int64_t c = c0; c < c1; ++c) acc[c - c0] += row[c];
      }
      for (int64_t c = c0; c < c1; ++c) dbias[c] = float(acc[c - c0]);
    }
  });
}

// F16 weights come from Module::cast_parameters: inference only, no graph.
Tensor linear_f16(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t IC, int64_t OC) {
  const char* op = "linear";
  if (grad_enabled() && (wants_grad(x) || wants_grad(weight) || wants_grad(bias)))
    throw std::runtime_error("linear: weight " + shape_str(weight.shape()) +
                             " is stored as F16, which is for inference only (cast_parameters); run it under "
                             "NoGradGuard, or keep F32 weights to train");
  Tensor tx, tw, tb;
  const Tensor& xc = f32_contig_ref(x, tx, op, "x");
  const Tensor& wc = weight.is_contiguous() ? weight : (tw = weight.contiguous());
  const float* b = bias.defined() ? f32_contig_ref(bias, tb, op, "bias").data<float>() : nullptr;
  const int64_t N = x.numel() / std::max<int64_t>(IC, 1);
  Shape out_shape = x.shape();
  out_shape.back() = OC;
  Tensor y = Tensor::empty(out_shape);
  linear_forward_f16(y.data<float>(), xc.data<float>(), wc.data<uint16_t>(), b, N, IC, OC);
  return y;
}

}  // namespace

// out[N, OC] = inp[N, IC] @ weight[OC, IC]^T + bias[OC]. `graph`: the step
// records a graph (training), whose backward runs the SGEMM; the forward
// does too, so that a training step's numbers do not depend on the CPU.
// Inference takes the split AMX tiles where the CPU has them (gemm_split.h:
// as accurate as the SGEMM, 1.4-1.8x its speed on a prompt's products).
void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N, int64_t IC,
                    int64_t OC, bool graph) {
  if (N == 0) return;
  if (N == 1) {  // batch-1 decoding: a bandwidth-bound GEMV streams the weight once
    kernels::sgemv(OC, IC, weight, IC, inp, bias, out);
    return;
  }
  if (N <= kMultiGemvMaxRows) {  // batched decoding: still one pass over the weight
    kernels::sgemv_multi(N, OC, IC, weight, IC, inp, IC, bias, out, OC);
    return;
  }
  const float beta = fill_rows_with_bias(out, bias, N, OC);
  if (!graph && N >= kernels::kSplitTilesMinRowsF32 &&
      kernels::gemm_f32w_tiles(N, OC, IC, inp, IC, weight, IC, beta, out, OC))
    return;
  kernels::sgemm(false, true, N, OC, IC, 1.f, inp, IC, weight, IC, beta, out, OC);
}

// out[N, OC] = inp[N, IC] @ weight[OC, IC]^T + bias[OC] with f16 weights, converted on the fly.
void linear_forward_f16(float* out, const float* inp, const uint16_t* weight, const float* bias, int64_t N,
                        int64_t IC, int64_t OC) {
  if (N == 0) return;
  if (N == 1) {
    kernels::hgemv(OC, IC, weight, IC, inp, bias, out);
    return;
  }
  if (N <= kMultiGemvMaxRowsF16) {  // batched decoding: one or two passes over the weight
    kernels::hgemv_multi(N, OC, IC, weight, IC, inp, IC, bias, out, OC);
    return;
  }
  const float beta = fill_rows_with_bias(out, bias, N, OC);
  kernels::gemm_f16w(N, OC, IC, inp, IC, weight, IC, beta, out, OC);
}


Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const char* op = "linear";
  if (!x.defined() || !weight.defined()) throw ShapeError("linear: undefined input");
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    throw ShapeError("linear: x " + shape_str(x.shape()) + " does not match weight " + shape_str(weight.shape()) +
                     " (expected x [..., in] and weight [out, in])");
  const int64_t IC = weight.size(1), OC = weight.size(0);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != OC))
    throw ShapeError("linear: bias " + shape_str(bias.shape()) + " does not match weight " + shape_str(weight.shape()));
  if (weight.dtype() == DType::F16) return linear_f16(x, weight, bias, IC, OC);
  const int64_t N = x.numel() / std::max<int64_t>(IC, 1);
  Shape out_shape = x.shape();
  out_shape.back() = OC;
  Tensor y = Tensor::empty(out_shape);
  if (!needs_grad({&x, &weight, &bias})) {  // inference: nothing recorded
    Tensor tx, tw, tb;
    const float* b = bias.defined() ? f32_contig_ref(bias, tb, op, "bias").data<float>() : nullptr;
    linear_forward(y.data<float>(), f32_contig_ref(x, tx, op, "x").data<float>(),
                   f32_contig_ref(weight, tw, op, "weight").data<float>(), b, N, IC, OC, false);
    return y;
  }
  Tensor xc = f32_contig(x, op, "x"), wc = f32_contig(weight, op, "weight");
  Tensor bc = bias.defined() ? f32_contig(bias, op, "bias") : Tensor();
  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  linear_forward(y.data<float>(), xc.data<float>(), wc.data<float>(), bc.defined() ? bc.data<float>() : nullptr, N,
                 IC, OC, grad_enabled() && (gx || gw || gb));
  return record("linear", y, {x, weight, bias}, [xc, wc, N, IC, OC, gx, gw, gb, xs = x.shape()](const Tensor& g) {
    Tensor gc = g.contiguous();
    const float* dout = gc.data<float>();
    Tensor dx, dw, db;
    if (gx) {  // dx[N, IC] = dout[N, OC] @ W[OC, IC]
      dx = Tensor::empty(xs);
      if (N > 0) kernels::sgemm(false, false, N, IC, OC, 1.f, dout, OC, wc.data<float>(), IC, 0.f, dx.data<float>(), IC);
    }
    if (gw) {  // dW[OC, IC] = dout^T[OC, N] @ x[N, IC]
      dw = Tensor::empty({OC, IC});
      if (N > 0) kernels::sgemm(true, false, OC, IC, N, 1.f, dout, OC, xc.data<float>(), IC, 0.f, dw.data<float>(), IC);
      else fill_zero(dw.data<float>(), OC * IC);
    }
    if (gb) {
      db = Tensor::empty({OC});
      column_sums(db.data<float>(), dout, N, OC);
    }
    return std::vector<Tensor>{dx, dw, db};
  });
}

Tensor add(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw ShapeError("add: undefined input");
  if (a.shape() != b.shape() || a.dtype() != DType::F32 || b.dtype() != DType::F32) return rbe::add(a, b);
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor y = Tensor::empty(a.shape());
  const float *pa = ac.data<float>(), *pb = bc.data<float>();
  float* py = y.data<float>();
  parallel_range(y.numel(), 1 << 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) py[i] = pa[i] + pb[i];
  });
  const bool ga = wants_grad(a), gb = wants_grad(b);
  return record("add", y, {a, b}, [ga, gb](const Tensor& g) {
    // Two inputs get the same gradient; hand out a copy for the second so the
    // engine can take both buffers over without another copy.
    if (ga && gb) return std::vector<Tensor>{g, g.clone()};
    return std::vector<Tensor>{ga ? g : Tensor(), gb ? g : Tensor()};
  });
}

}  // namespace rbe::nn::F

namespace rbe::nn::F {

using namespace rbe::nn::detail;

Tensor linear_packed(const Tensor& x, const PackedMatrix& weight, const Tensor& bias) {
  const char* op = "linear_packed";
  const int64_t IC = weight.cols(), OC = weight.rows();
  if (!x.defined() || x.dim() < 1 || x.size(-1) != IC)
    throw ShapeError("linear_packed: x " + (x.defined() ? shape_str(x.shape()) : std::string("undefined")) +
                     " does not match the packed " + weight.format() + " weight [" + std::to_string(OC) + ", " +
                     std::to_string(IC) + "]");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != OC))
    throw ShapeError("linear_packed: bias " + shape_str(bias.shape()) + " does not match " + std::to_string(OC) +
                     " outputs");
  if (grad_enabled() && (wants_grad(x) || wants_grad(bias)))
    throw std::runtime_error("linear_packed: a compressed (" + weight.format() +
                             ") weight is for inference only; run it under NoGradGuard");
  Tensor xc = f32_contig(x, op, "x");
  Tensor bc = bias.defined() ? f32_contig(bias, op, "bias") : Tensor();
  const int64_t N = x.numel() / std::max<int64_t>(IC, 1);
  Shape out_shape = x.shape();
  out_shape.back() = OC;
  Tensor y = Tensor::empty(out_shape);
  const float* b = bc.defined() ? bc.data<float>() : nullptr;
  linear_forward_packed(y.data<float>(), xc.data<float>(), weight, b, N);
  return y;
}

void linear_forward_packed(float* out, const float* inp, const PackedMatrix& weight, const float* bias, int64_t N) {
  if (N == 1) weight.gemv(inp, bias, out);
  else if (N > 1) weight.gemm(N, inp, bias, out);
}

void add_(Tensor& dst, const Tensor& src) {
  if (!dst.defined() || !src.defined() || dst.dtype() != DType::F32 || !dst.is_contiguous() ||
      dst.shape() != src.shape() || dst.requires_grad() || src.requires_grad())
    throw ShapeError("add_: dst must be a contiguous F32 tensor of src's shape, and neither may need a gradient");
  const Tensor sc = f32_contig(src, "add_", "src");
  add_rows(dst.data<float>(), sc.data<float>(), dst.numel());
}

void add_rows(float* dst, const float* src, int64_t n) {
  parallel_range(n, 1 << 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) dst[i] += src[i];
  });
}

}  // namespace rbe::nn::F
