#pragma once
// Whole-model size of a compression, counted here from the tensors (not from
// the codec's report) so the panel's numbers are an independent tally:
// encoded payload bytes plus raw tensors at their stored size.
#include <cstdint>

#include "codec/model_codec.h"

struct CompressionTotals {
  int64_t matrixWeights = 0, matrixBytes = 0;  // the encoded tensors
  int64_t rawWeights = 0, rawBytes = 0;        // norms, biases, position embeddings
  double matrixBitsPerWeight() const { return matrixWeights ? 8.0 * double(matrixBytes) / double(matrixWeights) : 0; }
  double modelBitsPerWeight() const {
    const int64_t w = matrixWeights + rawWeights;
    return w ? 8.0 * double(matrixBytes + rawBytes) / double(w) : 0;
  }
  int64_t bytes() const { return matrixBytes + rawBytes; }
};

CompressionTotals compressionTotals(const rbe::codec::CompressedModel& cm);
