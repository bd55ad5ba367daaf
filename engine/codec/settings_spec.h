#pragma once
// Codec settings written as text, for command lines and config files:
//   "codec:rbe,storage:entropy,bpw:3"      (key:value pairs, comma separated)
//   "h.*.mlp.*=codec:q8_0"                  (an override: glob pattern = pairs)
// Keys: codec (rbe|q8_0|q4_0|f16|f32), storage (fixed|entropy), grade (S+ .. C),
// bpw (> 0), block-size (or block_size; >= 1), min-block-size (or min_block_size;
// 0 or a power of two >= 8 with block-size / min-block-size a power of two: the
// entropy form's quadtree), transform (adaptive|dct|haar|cdf97), seed (integer).
// grade and bpw exclude each other: setting one clears the other.
#include <string>

#include "codec/codec.h"
#include "codec/model_codec.h"

namespace rbe::codec {

// Throws std::invalid_argument naming the key and the accepted values.
void apply_setting(CodecSettings& s, const std::string& key, const std::string& value);
// Applies "key:value,key:value" to a copy of base.
CodecSettings parse_settings(const std::string& pairs, const CodecSettings& base);
// "PATTERN=key:value,..."; the override starts from base (the defaults).
TensorOverride parse_override(const std::string& spec, const CodecSettings& base);

}  // namespace rbe::codec
