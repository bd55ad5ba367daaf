// matmul with NumPy semantics on top of kernels::sgemm. Operands are used in
// place whenever each matrix is row-major or a plain transpose of it (the
// trans flags absorb the transpose); only other layouts are copied.
#include <cstring>

#include "tensor/kernels/gemm.h"
#include "tensor/ops_internal.h"

namespace rbe::ops {

using namespace detail;

namespace {

// How sgemm can read a [rows, cols] matrix with element strides (rs, cs).
struct MatLayout {
  bool ok = false;
  bool trans = false;  // stored as [cols, rows] row-major
  int64_t ld = 0;
};

MatLayout mat_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  // The stride of a size-1 dim never matters, so either layout may fit.
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1)))
    return {true, false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1)))
    return {true, true, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
  return {};
}

// A 2-d-or-more tensor whose every matrix sgemm can read; copies if needed.
Tensor readable(const Tensor& x, MatLayout& lay) {
  int64_t nd = x.dim();
  int64_t r = x.shape()[size_t(nd - 2)], c = x.shape()[size_t(nd - 1)];
  lay = mat_layout(r, c, x.strides()[size_t(nd - 2)], x.strides()[size_t(nd - 1)]);
  if (lay.ok) return x;
  Tensor y = contiguous_copy(x, DType::F32);
  lay = mat_layout(r, c, y.strides()[size_t(nd - 2)], y.strides()[size_t(nd - 1)]);
  return y;
}

}  // namespace

Tensor matmul(const Tensor& a0, const Tensor& b0) {
  if (a0.dim() == 0 || b0.dim() == 0)
    throw ShapeError(shapes_msg("matmul", a0.shape(), b0.shape()) + ": both operands need at least 1 dim");
  // 1-d promotion: a [K] -> [1, K], b [K] -> [K, 1]; the added dims are dropped at the end.
  Tensor a = as_f32(a0), b = as_f32(b0);
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  if (a_vec) a = unsqueeze(a, 0);
  if (b_vec) b = unsqueeze(b, 1);
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  if (b.size(-2) != K)
    throw ShapeError(shapes_msg("matmul", a0.shape(), b0.shape()) + ": inner dims " + std::to_string(K) + " and " +
                     std::to_string(b.size(-2)) + " differ");
  Shape abatch(a.shape().begin(), a.shape().end() - 2), bbatch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(abatch, bbatch, "matmul");
  const int64_t nb = shape_numel(batch);

  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape);
  float* pc = out.data<float>();
  if (out.numel() == 0) return out;
  if (K == 0) {
    std::memset(pc, 0, size_t(out.numel()) * sizeof(float));
    return out;
  }

  // Fast case: b has no real batch (a weight matrix) and a's batch folds into
  // its rows: one GEMM of [nb*M, K] x [K, N].
  bool b_shared = bbatch.empty() || shape_numel(bbatch) == 1;
  if (b_shared && nb > 1 && abatch == batch) {
    if (auto st = view_strides(a.shape(), a.strides(), {nb * M, K}); st && (*st)[1] == 1 && (*st)[0] >= K) {
      MatLayout lb;
      Tensor bm = readable(reshape(b, {K, N}), lb);
      kernels::sgemm(false, lb.trans, nb * M, N, K, 1.f, a.data<float>(), (*st)[0], bm.data<float>(), lb.ld,
                     0.f, pc, N);
      return out;
    }
  }

  MatLayout la, lb;
  a = readable(a, la);
  b = readable(b, lb);
  // Element offsets of each batch's matrix, broadcasting batch dims.
  Tensor ae = expand(a, [&] { Shape s = batch; s.push_back(M); s.push_back(K); return s; }());
  Tensor be = expand(b, [&] { Shape s = batch; s.push_back(K); s.push_back(N); return s; }());
  const Shape bst_a(ae.strides().begin(), ae.strides().end() - 2), bst_b(be.strides().begin(), be.strides().end() - 2);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  auto offset_of = [&](int64_t i, const Shape& st) {
    int64_t off = 0;
    for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d) {
      off += (i % batch[size_t(d)]) * st[size_t(d)];
      i /= batch[size_t(d)];
    }
    return off;
  };
  auto run = [&](int64_t i) {
    kernels::sgemm(la.trans, lb.trans, M, N, K, 1.f, pa + offset_of(i, bst_a), la.ld, pb + offset_of(i, bst_b), lb.ld,
                   0.f, pc + i * M * N, N);
  };
  // Many small matrices: parallel over the batch; otherwise sgemm parallelizes inside.
  const bool small = M * N * K < 64 * 64 * 64;
  if (nb > 1 && small && nb * M * N * K >= kParallelMin) {
    tbb::parallel_for(int64_t(0), nb, [&](int64_t i) { run(i); });
  } else {
    for (int64_t i = 0; i < nb; ++i) run(i);
  }
  return out;
}

}  // namespace rbe::ops
