#pragma once
// Writing a tensor's elements into a file being written (safetensors, GGUF).
#include "tensor/atomic_file.h"
#include "tensor/tensor.h"

namespace rbe::io {

// Writes t's elements in row-major order as dtype `as` (a float dtype, or
// t's own). Stored as it is when it already is; else converted a panel of
// about 1 MiB of rows at a time (a transposed Conv1D weight, an f32 matrix
// written as f16), so that no whole copy of a tensor is made: with whole
// copies, writing a 124M model's HF folder grew the heap by 160 MB.
void write_tensor(AtomicFileWriter& w, const Tensor& t, DType as);

}  // namespace rbe::io
