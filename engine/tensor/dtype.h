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

// IEEE half and bfloat16 conversions (round to nearest even).
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t b);

}  // namespace rbe
