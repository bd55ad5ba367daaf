#pragma once
// RBE, storage "entropy": the best rate-distortion form, decoded once on load.
// Per tensor: a seeded random orthogonal (Hadamard) rotation for incoherence;
// per block: a generator record (records.h) fitted to the block plus a
// transform-domain residual (transforms.h) quantized with trellis-coded
// quantization (tcq.h) and entropy-coded (entropy.h); grade or bits/weight
// targets met per block by choosing the step size. Blocks are the tiles of
// block_size, or (min_block_size set) the leaves of a quadtree per tile, split
// where that saves bits at the grade or lowers D + λR at the bits/weight slope.
// Payload layout and the generator function: docs/format.md.
#include "codec/codec.h"
#include "codec/records.h"

namespace rbe::codec {

EncodedTensor encode_rbe_entropy(const Tensor& W, const CodecSettings& s, const ProgressFn& progress,
                                 const CancelFn& cancel);

// Throws std::invalid_argument unless min_block_size is 0 or block_size (no
// splitting) or a power of two >= 8 below block_size with block_size /
// min_block_size a power of two (so that halving reaches it).
void check_min_block_size(int block_size, int min_block_size);

// The parts of the form that can be switched off, to measure what each buys
// (rbe-rd). codec::encode uses the defaults.
struct RbeEntropyOptions {
  enum class Generator : uint8_t { Off, Auto, Force };  // Auto: keep a record only where it saves bits
  bool rotate = true;                 // per-block seeded rotation (incoherence)
  Generator generator = Generator::Auto;
  bool tcq = true;                    // trellis (ECTCQ); false: scalar RDO quantizer (ECSQ)
};
EncodedTensor encode_rbe_entropy(const Tensor& W, const CodecSettings& s, const ProgressFn& progress,
                                 const CancelFn& cancel, const RbeEntropyOptions& opt);
// Full decode into out[rows * cols]; decode of rows [r0, r1) (selective: only
// the (leaf) blocks those rows touch).
void decode_rbe_entropy(const EncodedTensor& e, float* out);
void decode_rbe_entropy_rows(const EncodedTensor& e, int64_t r0, int64_t r1, float* out);

// Block b as stored (b: the leaf's index in payload order: tiles row-major,
// then the quadtree's leaves in pre-order; without splitting, row-major over
// the block grid): its record, amplitude,
// transform, step and coded residual bytes, with its grade and stats from
// e.blocks (when present). For inspection (the workbench, tests).
HybridEncodedBlock describe_rbe_entropy_block(const EncodedTensor& e, int64_t b);

}  // namespace rbe::codec
