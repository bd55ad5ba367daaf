// Fused embedding lookups (token, and token + position for GPT-2).
#include <vector>

#include "autodiff/node.h"
#include "nn/functional.h"
#include "nn/kernel_util.h"

namespace rbe::nn::F {

using namespace rbe::nn::detail;

namespace {

const int32_t* checked_ids(const char* op, const Tensor& ids, Tensor& keep, int64_t V) {
  if (!ids.defined()) throw ShapeError(std::string(op) + ": ids are undefined");
  if (ids.dtype() != DType::I32)
    throw ShapeError(std::string(op) + ": ids must be I32, got " + dtype_name(ids.dtype()) + " " + shape_str(ids.shape()));
  keep = ids.contiguous();
  const int32_t* p = keep.data<int32_t>();
  for (int64_t i = 0, n = keep.numel(); i < n; ++i)
    if (p[i] < 0 || p[i] >= V)
      throw ShapeError(std::string(op) + ": id " + std::to_string(p[i]) + " at flat position " + std::to_string(i) +
                       " is out of range for an embedding table of " + std::to_string(V) + " rows");
  return p;
}

// dweight[V, C] = scatter-add of dout[N, C] into rows ids[N]. Parallel over
// column blocks: every task owns its columns in every row, so no races and a
// fixed summation order.
void embedding_backward(float* dweight, const float* dout, const int32_t* ids, int64_t N, int64_t V, int64_t C) {
  fill_zero(dweight, V * C);
  constexpr int64_t kCols = 32;
  const int64_t nblk = (C + kCols - 1) / kCols;
  parallel_range(nblk, N * kCols >= (1 << 15) ? 1 : nblk, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t c0 = blk * kCols, c1 = std::min(C, c0 + kCols);
      for (int64_t n = 0; n < N; ++n) {
        float* dst = dweight + int64_t(ids[n]) * C;
        const float* src = dout + n * C;
        for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
      }
    }
  });
}

// F16 tables (from Module::cast_parameters) are read in place, a row at a
// time, never converted whole; they are inference-only.
bool f16_table(const char* op, const Tensor& t, const char* name) {
  if (!t.defined() || t.dtype() != DType::F16) return false;
  if (grad_enabled() && t.requires_grad())
    throw std::runtime_error(std::string(op) + ": " + name + " " + shape_str(t.shape()) +
                             " is stored as F16, which is for inference only (cast_parameters); run it under "
                             "NoGradGuard, or keep F32 weights to train");
  return true;
}

// dst[0:C] = row `row` of a contiguous [V, C] F32 or F16 table.
void copy_row(const Tensor& table, int64_t row, int64_t C, float* dst) {
  if (table.dtype() == DType::F16)
    f16_to_f32_n(table.data<uint16_t>() + row * C, dst, C);
  else
    std::memcpy(dst, table.data<float>() + row * C, size_t(C) * sizeof(float));
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  const char* op = "embedding";
  if (!weight.defined() || weight.dim() != 2)
    throw ShapeError("embedding: weight must be [V, C], got " + (weight.defined() ? shape_str(weight.shape()) : "undefined"));
  const int64_t V = weight.size(0), C = weight.size(1);
  Tensor idc;
  const int32_t* id = checked_ids(op, ids, idc, V);
  const int64_t N = idc.numel();
  Shape out_shape = ids.shape();
  out_shape.push_back(C);
  Tensor y = Tensor::empty(out_shape);
  if (f16_table(op, weight, "weight")) {
    Tensor wc = weight.contiguous();
    float* out = y.data<float>();
    parallel_range(N, row_grain(C), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) copy_row(wc, id[n], C, out + n * C);
    });
    return y;
  }
  Tensor wc = f32_contig(weight, op, "weight");
  const float* w = wc.data<float>();
  float* out = y.data<float>();
  parallel_range(N, row_grain(C), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) std::memcpy(out + n * C, w + int64_t(id[n]) * C, size_t(C) * sizeof(float));
  });
  return record("embedding", y, {weight}, [idc, N, V, C](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dw = Tensor::empty({V, C});
    embedding_backward(dw.data<float>(), gc.data<float>(), idc.data<int32_t>(), N, V, C);
    return std::vector<Tensor>{dw};
  });
}

Tensor token_position_embedding(const Tensor& wte, const Tensor& wpe, const Tensor& ids, int64_t pos_offset) {
  const char* op = "token_position_embedding";
  if (!wte.defined() || !wpe.defined() || wte.dim() != 2 || wpe.dim() != 2 || wte.size(1) != wpe.size(1))
    throw ShapeError("token_position_embedding: wte " + (wte.defined() ? shape_str(wte.shape()) : "undefined") +
                     " and wpe " + (wpe.defined() ? shape_str(wpe.shape()) : "undefined") + " must be [V, C] and [P, C]");
  if (!ids.defined() || ids.dim() != 2)
    throw ShapeError("token_position_embedding: ids must be [B, T], got " + (ids.defined() ? shape_str(ids.shape()) : "undefined"));
  const int64_t V = wte.size(0), P = wpe.size(0), C = wte.size(1), B = ids.size(0), T = ids.size(1);
  if (pos_offset < 0 || pos_offset + T > P)
    throw ShapeError("token_position_embedding: positions " + std::to_string(pos_offset) + ".." +
                     std::to_string(pos_offset + T - 1) + " exceed the " + std::to_string(P) + " learned positions");
  Tensor idc;
  const int32_t* id = checked_ids(op, ids, idc, V);
  Tensor y = Tensor::empty({B, T, C});
  const bool hte = f16_table(op, wte, "wte"), hpe = f16_table(op, wpe, "wpe");
  if (hte || hpe) {
    Tensor tc = hte ? wte.contiguous() : f32_contig(wte, op, "wte");
    Tensor pc = hpe ? wpe.contiguous() : f32_contig(wpe, op, "wpe");
    float* out = y.data<float>();
    parallel_range(B * T, row_grain(C), [&](int64_t n0, int64_t n1) {
      std::vector<float> p(static_cast<size_t>(C));
      for (int64_t n = n0; n < n1; ++n) {
        float* o = out + n * C;
        copy_row(tc, id[n], C, o);
        copy_row(pc, pos_offset + n % T, C, p.data());
        for (int64_t c = 0; c < C; ++c) o[c] += p[size_t(c)];
      }
    });
    return y;
  }
  Tensor tc = f32_contig(wte, op, "wte"), pc = f32_contig(wpe, op, "wpe");
  const float *te = tc.data<float>(), *pe = pc.data<float>() + pos_offset * C;
  float* out = y.data<float>();
  parallel_range(B * T, row_grain(C), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const float* a = te + int64_t(id[n]) * C;
      const float* p = pe + (n % T) * C;
      float* o = out + n * C;
      for (int64_t c = 0; c < C; ++c) o[c] = a[c] + p[c];
    }
  });
  const bool gte = wants_grad(wte), gpe = wants_grad(wpe);
  return record(op, y, {wte, wpe}, [idc, B, T, V, P, C, pos_offset, gte, gpe](const Tensor& g) {
    Tensor gc = g.contiguous();
    const float* dout = gc.data<float>();
    Tensor dte, dpe;
    if (gte) {
      dte = Tensor::empty({V, C});
      embedding_backward(dte.data<float>(), dout, idc.data<int32_t>(), B * T, V, C);
    }
    if (gpe) {  // dwpe[pos_offset + t] = sum_b dout[b, t]
      dpe = Tensor::zeros({P, C});
      float* dp = dpe.data<float>() + pos_offset * C;
      parallel_range(T, row_grain(C * B), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t b = 0; b < B; ++b) {
            const float* src = dout + (b * T + t) * C;
            for (int64_t c = 0; c < C; ++c) dp[t * C + c] += src[c];
          }
      });
    }
    return std::vector<Tensor>{dte, dpe};
  });
}

}  // namespace rbe::nn::F

namespace rbe::nn::F {

using namespace rbe::nn::detail;

Tensor embedding_packed(const PackedMatrix& weight, const Tensor& ids) {
  const char* op = "embedding_packed";
  Tensor idc;
  const int32_t* id = checked_ids(op, ids, idc, weight.rows());
  const int64_t C = weight.cols(), N = idc.numel();
  Shape out_shape = ids.shape();
  out_shape.push_back(C);
  Tensor y = Tensor::empty(out_shape);
  float* out = y.data<float>();
  parallel_range(N, row_grain(C), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) weight.decode_rows(id[n], id[n] + 1, out + n * C);
  });
  return y;
}

Tensor token_position_embedding_packed(const PackedMatrix& wte, const Tensor& wpe, const Tensor& ids,
                                       int64_t pos_offset) {
  const char* op = "token_position_embedding_packed";
  if (!wpe.defined() || wpe.dim() != 2 || wpe.size(1) != wte.cols())
    throw ShapeError(std::string(op) + ": wpe " + (wpe.defined() ? shape_str(wpe.shape()) : "undefined") +
                     " must be [P, " + std::to_string(wte.cols()) + "]");
  if (!ids.defined() || ids.dim() != 2)
    throw ShapeError(std::string(op) + ": ids must be [B, T], got " + (ids.defined() ? shape_str(ids.shape()) : "undefined"));
  const int64_t P = wpe.size(0), C = wte.cols(), T = ids.size(1);
  if (pos_offset < 0 || pos_offset + T > P)
    throw ShapeError(std::string(op) + ": positions " + std::to_string(pos_offset) + ".." +
                     std::to_string(pos_offset + T - 1) + " exceed the " + std::to_string(P) + " learned positions");
  Tensor y = embedding_packed(wte, ids);  // [B, T, C]
  Tensor pc = f16_table(op, wpe, "wpe") ? wpe.contiguous() : f32_contig(wpe, op, "wpe");
  float* out = y.data<float>();
  parallel_range(ids.numel(), row_grain(C), [&](int64_t n0, int64_t n1) {
    std::vector<float> p(static_cast<size_t>(C));
    for (int64_t n = n0; n < n1; ++n) {
      copy_row(pc, pos_offset + n % T, C, p.data());
      float* o = out + n * C;
      for (int64_t c = 0; c < C; ++c) o[c] += p[size_t(c)];
    }
  });
  return y;
}

}  // namespace rbe::nn::F
