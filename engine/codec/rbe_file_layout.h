#pragma once
// Sizes of the .rbe file write_rbe_file would produce, without writing it
// (CompressedModel::report() counts every byte of the file).
#include <cstdint>

#include "codec/model_codec.h"

namespace rbe::codec {

struct RbeFileSizes {
  uint64_t header_bytes = 0;      // preamble + header JSON + header checksum + padding to the first payload
  uint64_t payload_bytes = 0;     // encoded records and raw tensors
  uint64_t block_stats_bytes = 0; // per-block statistics sections
  uint64_t padding_bytes = 0;     // alignment between sections
  uint64_t file_bytes = 0;        // everything
};

RbeFileSizes rbe_file_sizes(const CompressedModel& cm);

}  // namespace rbe::codec
