#pragma once
// The .rbe file (spec: docs/format.md): magic "RBE\0", version, a JSON header
// (model config, tokenizer, codec settings, tensor table with offsets, lengths
// and a checksum per tensor), then 64-byte-aligned tensor payloads: encoded
// records or raw F32 tensors. Written to a temporary name and renamed; read
// memory-mapped, every offset and length validated before use.
#include <string>

#include "codec/model_codec.h"

namespace rbe::codec {

void write_rbe_file(const std::string& path, const CompressedModel& cm);
// Throws std::runtime_error naming the file (and the tensor) on any corruption:
// truncation, bad magic, unsupported version, bad JSON, out-of-range offsets,
// checksum mismatch.
CompressedModel read_rbe_file(const std::string& path);
bool looks_like_rbe_file(const std::string& path);  // by magic

}  // namespace rbe::codec
