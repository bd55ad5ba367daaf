#pragma once
// Element types and devices. Compute is f32; f16/bf16 are storage types for
// loading and conversion; i32 holds token ids and indices; bool holds masks.
#include <cstddef>
#include <cstdint>
#include <string>

namespace rbe {

enum class DType : uint8_t { F32, F16, BF16, I32, Bool };
enum class Device : uint8_t { CPU, CUDA };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
DType dtype_from_name(const std::string& name);  // "F32", "F16", "BF16", "I32", "BOOL"
const char* device_name(Device d);
// F32, F16 or BF16: the types a weight may be stored in.
inline bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// IEEE half and bfloat16 conversions (round to nearest even).
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t b);
// The same conversions over n contiguous values, bit-identical to the ones
// above, 8 at a time with F16C where the build has it (a model's cast to f16
// went from about 13 ns to under 1 ns per weight).
void f32_to_f16_n(const float* src, uint16_t* dst, int64_t n);
void f16_to_f32_n(const uint16_t* src, float* dst, int64_t n);
// n contiguous values of dtype `from` at src into `to` at dst, in chunks
// over the threads, when the pair has a bulk conversion above (f32 <-> f16:
// casting a model's weights, loading them into an f16 model); returns false,
// doing nothing, for any other pair.
bool convert_bulk(const void* src, DType from, void* dst, DType to, int64_t n);

}  // namespace rbe
