#include "compression_totals.h"

#include "tensor/dtype.h"

CompressionTotals compressionTotals(const rbe::codec::CompressedModel& cm) {
  CompressionTotals t;
  for (const auto& [name, e] : cm.encoded) {
    t.matrixWeights += e->rows * e->cols;
    t.matrixBytes += e->meta.bytes > 0 ? e->meta.bytes : e->size;
  }
  for (const auto& [name, tensor] : cm.raw) {
    t.rawWeights += tensor.numel();
    t.rawBytes += tensor.numel() * int64_t(rbe::dtype_size(tensor.dtype()));
  }
  return t;
}
