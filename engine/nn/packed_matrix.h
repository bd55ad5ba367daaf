#pragma once
// A weight matrix kept in a compressed form (Q8_0, Q4_0, RBE records, ...)
// that layers use for inference without materialising it. nn only defines the
// interface; engine/codec implements it. Linear and Embedding use a
// PackedMatrix when one is attached (their `packed` member), else their dense
// weight. Inference only: no gradients flow through a packed weight.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace rbe::nn {

class PackedMatrix {
 public:
  virtual ~PackedMatrix() = default;

  virtual int64_t rows() const = 0;  // out features (or vocabulary rows)
  virtual int64_t cols() const = 0;  // in features (or embedding width)

  // y[rows] = W x[cols] (+ bias[rows] when bias != nullptr). Batch-1 decode:
  // the hot path, fused with decompression, multithreaded with oneTBB.
  virtual void gemv(const float* x, const float* bias, float* y) const = 0;

  // Y[N, rows] = X[N, cols] W^T (+ bias). Default: decode row panels to f32 and
  // run the SGEMM on them (prompt processing); formats may do better.
  virtual void gemm(int64_t N, const float* X, const float* bias, float* Y) const;

  // Rows [r0, r1) of W decoded to f32 into out[(r1 - r0) * cols()] (embedding
  // lookups, selective decode, tests).
  virtual void decode_rows(int64_t r0, int64_t r1, float* out) const = 0;

  // Bytes this form occupies (everything counted: codes, scales, records).
  virtual int64_t bytes() const = 0;
  // The bytes a matvec reads, where they lie, as one span (rbe-bench's
  // bandwidth probe reads them in place): those above, or a copy of them in
  // another arrangement where the form's matvec runs on one.
  virtual std::span<const std::byte> storage() const = 0;
  // Format name for reports: "q8_0", "q4_0", "rbe-f4", ...
  virtual std::string format() const = 0;
};

}  // namespace rbe::nn
