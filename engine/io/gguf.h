#pragma once
// GGUF (ggml / llama.cpp model files), version 3, little-endian:
//   "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x (string key, u32 value_type, value),
//   tensor_count x (string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset),
//   padding to general.alignment (default 32), then the data section; every
//   tensor's offset (relative to the data section) is a multiple of the alignment.
// Strings are u64 length + bytes (no terminator). Dims are in ggml order:
// fastest-varying first, i.e. the reverse of a row-major shape.
// See docs/formats.md ("GGUF") for the GPT-2 mapping.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace rbe::gguf {

// Thrown for unreadable, malformed or unsupported files; names the file and
// the key or tensor concerned.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;
constexpr size_t kMaxNameLength = 63;  // ggml's GGML_MAX_NAME (64) minus the terminator
constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType t);

// Tensor element types we read and write (ggml_type numbers). Q4_0 and Q8_0
// are ggml's block_q4_0 / block_q8_0 (blocks of 32 along a row; layouts in
// io/gguf_blocks.h and docs/formats.md, "GGUF").
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };
const char* ggml_type_name(GgmlType t);  // "F32", "F16", "Q4_0", "Q8_0"
bool is_quantized(GgmlType t);           // Q4_0, Q8_0

// A metadata value: a scalar, a string, or an array of scalars or strings
// (arrays of arrays are not supported). Integers of every width and bools
// live in `i` (unsigned 64-bit values as their bit pattern), floats in `f`.
struct Value {
  ValueType type = ValueType::U32;
  ValueType array_type = ValueType::U8;  // element type when type == Array
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;         // Array of integers or bools
  std::vector<double> floats;        // Array of F32/F64
  std::vector<std::string> strings;  // Array of String

  static Value u32(uint32_t v);
  static Value i32(int32_t v);
  static Value u64(uint64_t v);
  static Value f32(float v);
  static Value boolean(bool v);
  static Value string(std::string v);
  static Value string_array(std::vector<std::string> v);
  static Value int_array(ValueType element, std::vector<int64_t> v);
  static Value float_array(ValueType element, std::vector<double> v);

  bool is_integer() const;  // U8..I64 (not Bool)
  bool is_float() const { return type == ValueType::F32 || type == ValueType::F64; }
  size_t array_size() const;
  bool operator==(const Value& o) const = default;
};

struct TensorInfo {
  std::string name;
  Shape dims;  // ggml order (ne[0] first)
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // bytes from the start of the data section
  uint64_t nbytes = 0;

  Shape shape() const { return Shape(dims.rbegin(), dims.rend()); }  // row-major
};

// Bytes of a tensor's data: raw (F32/F16) or ggml blocks (Q4_0/Q8_0).
struct TensorBytes {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

// Builds a file in memory order: metadata in insertion order, then tensors.
// Tensor data is converted while it is written, so the writer only keeps
// handles to the caller's tensors.
class Writer {
 public:
  explicit Writer(uint32_t alignment = kDefaultAlignment);

  // Throws FormatError on a duplicate key or an empty key.
  void set(const std::string& key, Value v);
  // t: any dtype convertible to the target (F32/F16/BF16), any strides; its
  // row-major shape is stored reversed (ggml order). Throws on a duplicate or
  // over-long name or more than 4 dimensions, and for Q4_0/Q8_0 (the writer
  // does not quantize: use add_tensor_bytes).
  void add_tensor(const std::string& name, const Tensor& t, GgmlType type);
  // A tensor of row-major `shape` stored as the bytes produce() returns,
  // called once while write() runs (so a whole model's quantized matrices are
  // never all in memory at once). They must be exactly the size the type
  // implies (checked then). Throws like add_tensor, and when a Q4_0/Q8_0 row
  // length (the last dimension) is not a multiple of 32.
  void add_tensor_bytes(const std::string& name, const Shape& shape, GgmlType type,
                        std::function<std::vector<uint8_t>()> produce);

  size_t tensor_count() const { return tensors_.size(); }
  // Written to a temporary name, then renamed (engine/tensor/atomic_file.h).
  // progress (optional) is called after each tensor with (done, total).
  void write(const std::string& path, const std::function<void(size_t, size_t)>& progress = nullptr) const;

 private:
  struct Pending {
    std::string name;
    Shape shape;  // row-major
    GgmlType type;
    Tensor data;                                  // add_tensor
    std::function<std::vector<uint8_t>()> bytes;  // add_tensor_bytes
  };
  void check_new(const std::string& name, const Shape& shape, GgmlType type) const;
  uint32_t alignment_;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<Pending> tensors_;
};

// A GGUF file, memory-mapped and validated on open: counts and string lengths
// bounded by the bytes left in the file (a bogus count never allocates),
// known value and tensor types, 1-4 positive dims, names unique and at most 63
// bytes, offsets aligned, every tensor inside the file, no overlaps, Q4_0 /
// Q8_0 rows a whole number of 32-weight blocks.
class File {
 public:
  static File open(const std::string& path);  // throws FormatError

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section in the file

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(const std::string& key) const;  // null if absent
  // The value of key; throws FormatError naming the key when it is absent or
  // not of the expected kind.
  const Value& get(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // file order
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws FormatError if absent
  // The tensor with its row-major shape, as F32 or F16: a view of the mapping
  // (copy-on-write), copied only when misaligned for its type. Q4_0 / Q8_0
  // tensors are decoded to F32 (io/gguf_blocks.h).
  Tensor tensor(const std::string& name) const;
  // The tensor's stored bytes (inside the mapping; keepalive() keeps them valid).
  TensorBytes bytes(const std::string& name) const;
  std::shared_ptr<const void> keepalive() const { return mapping_; }
  // Drops the tensor's mapped pages from memory (io::release_pages), for a
  // loader that has copied it and keeps no view of it.
  void release(const std::string& name) const;

 private:
  std::string path_;
  std::shared_ptr<void> mapping_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
};

}  // namespace rbe::gguf
