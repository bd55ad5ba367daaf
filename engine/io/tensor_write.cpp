#include "io/tensor_write.h"

#include <algorithm>

#include "tensor/ops.h"

namespace rbe::io {

namespace {
constexpr int64_t kPanelBytes = int64_t(1) << 20;
}  // namespace

void write_tensor(AtomicFileWriter& w, const Tensor& t, DType as) {
  const size_t elem = dtype_size(as);
  if (t.is_contiguous() && t.dtype() == as) {
    w.write(t.raw_data(), size_t(t.numel()) * elem);
    return;
  }
  if (t.dim() < 2 || t.numel() == 0) {
    const Tensor c = t.contiguous().to(as);
    w.write(c.raw_data(), size_t(c.numel()) * elem);
    return;
  }
  const int64_t rows = t.size(0), row_elems = t.numel() / rows;
  const int64_t panel = std::max<int64_t>(1, kPanelBytes / std::max<int64_t>(1, row_elems * int64_t(elem)));
  for (int64_t r = 0; r < rows; r += panel) {
    const Tensor c = ops::slice(t, 0, r, std::min(rows, r + panel)).contiguous().to(as);
    w.write(c.raw_data(), size_t(c.numel()) * elem);
  }
}

}  // namespace rbe::io
