#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>


#include "io/gguf_blocks.h"
#include "io/mapped_file.h"
#include "io/tensor_write.h"
#include "tensor/atomic_file.h"

namespace rbe::gguf {

static_assert(std::endian::native == std::endian::little, "GGUF I/O assumes a little-endian host");

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "uint8";
    case ValueType::I8: return "int8";
    case ValueType::U16: return "uint16";
    case ValueType::I16: return "int16";
    case ValueType::U32: return "uint32";
    case ValueType::I32: return "int32";
    case ValueType::F32: return "float32";
    case ValueType::Bool: return "bool";
    case ValueType::String: return "string";
    case ValueType::Array: return "array";
    case ValueType::U64: return "uint64";
    case ValueType::I64: return "int64";
    case ValueType::F64: return "float64";
  }
  return "unknown";
}

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::Q4_0: return "Q4_0";
    case GgmlType::Q8_0: return "Q8_0";
  }
  return "unknown";
}

bool is_quantized(GgmlType t) { return t == GgmlType::Q4_0 || t == GgmlType::Q8_0; }

namespace {

// Bytes of a scalar of type t on disk; 0 for String/Array (variable).
size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    default: return 0;
  }
}

bool known_value_type(uint32_t t) { return t <= uint32_t(ValueType::F64); }
bool integer_type(ValueType t) { return scalar_size(t) != 0 && t != ValueType::Bool && t != ValueType::F32 && t != ValueType::F64; }
bool float_type(ValueType t) { return t == ValueType::F32 || t == ValueType::F64; }

bool known_ggml_type(uint32_t t) {
  return t == uint32_t(GgmlType::F32) || t == uint32_t(GgmlType::F16) || t == uint32_t(GgmlType::Q4_0) ||
         t == uint32_t(GgmlType::Q8_0);
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

// ---- Value ----

Value Value::u32(uint32_t v) { Value x; x.type = ValueType::U32; x.i = v; return x; }
Value Value::i32(int32_t v) { Value x; x.type = ValueType::I32; x.i = v; return x; }
Value Value::u64(uint64_t v) { Value x; x.type = ValueType::U64; x.i = int64_t(v); return x; }
Value Value::f32(float v) { Value x; x.type = ValueType::F32; x.f = v; return x; }
Value Value::boolean(bool v) { Value x; x.type = ValueType::Bool; x.i = v ? 1 : 0; return x; }
Value Value::string(std::string v) { Value x; x.type = ValueType::String; x.s = std::move(v); return x; }

Value Value::string_array(std::vector<std::string> v) {
  Value x;
  x.type = ValueType::Array;
  x.array_type = ValueType::String;
  x.strings = std::move(v);
  return x;
}

Value Value::int_array(ValueType element, std::vector<int64_t> v) {
  if (!integer_type(element) && element != ValueType::Bool)
    throw FormatError(std::string("int_array: element type ") + value_type_name(element) + " is not an integer type");
  Value x;
  x.type = ValueType::Array;
  x.array_type = element;
  x.ints = std::move(v);
  return x;
}

Value Value::float_array(ValueType element, std::vector<double> v) {
  if (!float_type(element)) throw FormatError(std::string("float_array: element type ") + value_type_name(element) + " is not a float type");
  Value x;
  x.type = ValueType::Array;
  x.array_type = element;
  x.floats = std::move(v);
  return x;
}

bool Value::is_integer() const { return integer_type(type); }

size_t Value::array_size() const {
  if (type != ValueType::Array) return 0;
  return array_type == ValueType::String ? strings.size() : float_type(array_type) ? floats.size() : ints.size();
}

// ---- writing ----

namespace {

class Buffer {
 public:
  template <class T>
  void put(T v) {
    const char* p = reinterpret_cast<const char*>(&v);
    bytes_.append(p, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_.append(s);
  }
  void put_scalar(ValueType t, int64_t i, double f) {
    switch (t) {
      case ValueType::U8: case ValueType::Bool: put<uint8_t>(uint8_t(i)); break;
      case ValueType::I8: put<int8_t>(int8_t(i)); break;
      case ValueType::U16: put<uint16_t>(uint16_t(i)); break;
      case ValueType::I16: put<int16_t>(int16_t(i)); break;
      case ValueType::U32: put<uint32_t>(uint32_t(i)); break;
      case ValueType::I32: put<int32_t>(int32_t(i)); break;
      case ValueType::U64: put<uint64_t>(uint64_t(i)); break;
      case ValueType::I64: put<int64_t>(i); break;
      case ValueType::F32: put<float>(float(f)); break;
      case ValueType::F64: put<double>(f); break;
      default: throw FormatError(std::string("not a scalar type: ") + value_type_name(t));
    }
  }
  void put_value(const Value& v) {
    put<uint32_t>(uint32_t(v.type));
    if (v.type == ValueType::String) {
      put_string(v.s);
    } else if (v.type == ValueType::Array) {
      put<uint32_t>(uint32_t(v.array_type));
      put<uint64_t>(v.array_size());
      if (v.array_type == ValueType::String) {
        for (auto& s : v.strings) put_string(s);
      } else if (float_type(v.array_type)) {
        for (double f : v.floats) put_scalar(v.array_type, 0, f);
      } else {
        for (int64_t i : v.ints) put_scalar(v.array_type, i, 0);
      }
    } else {
      put_scalar(v.type, v.i, v.f);
    }
  }
  void pad_to(uint64_t alignment) { bytes_.append(align_up(bytes_.size(), alignment) - bytes_.size(), '\0'); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace

Writer::Writer(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    throw FormatError("GGUF alignment must be a power of two, got " + std::to_string(alignment));
  if (alignment != kDefaultAlignment) kv_.emplace_back("general.alignment", Value::u32(alignment));
}

void Writer::set(const std::string& key, Value v) {
  if (key.empty()) throw FormatError("GGUF metadata key is empty");
  for (auto& [k, _] : kv_)
    if (k == key) throw FormatError("duplicate GGUF metadata key '" + key + "'");
  if (v.type == ValueType::Array && v.array_type == ValueType::Array)
    throw FormatError("GGUF metadata '" + key + "': arrays of arrays are not supported");
  kv_.emplace_back(key, std::move(v));
}

void Writer::check_new(const std::string& name, const Shape& shape, GgmlType type) const {
  if (name.empty() || name.size() > kMaxNameLength)
    throw FormatError("GGUF tensor name '" + name + "' must be 1 to " + std::to_string(kMaxNameLength) + " bytes");
  if (shape.size() < 1 || shape.size() > kMaxDims)
    throw FormatError("GGUF tensor '" + name + "' has " + std::to_string(shape.size()) + " dimensions (1 to 4 allowed)");
  for (int64_t d : shape)
    if (d <= 0) throw FormatError("GGUF tensor '" + name + "' is empty");
  if (!known_ggml_type(uint32_t(type)))
    throw FormatError("GGUF tensor '" + name + "': unknown ggml type " + std::to_string(uint32_t(type)));
  if (shape.back() % block_elements(type) != 0)
    throw FormatError("GGUF tensor '" + name + "': rows of " + std::to_string(shape.back()) + " elements cannot be stored as " +
                      ggml_type_name(type) + " (ggml needs a multiple of " + std::to_string(block_elements(type)) + ")");
  for (auto& p : tensors_)
    if (p.name == name) throw FormatError("duplicate GGUF tensor name '" + name + "'");
}

void Writer::add_tensor(const std::string& name, const Tensor& t, GgmlType type) {
  if (!t.defined()) throw FormatError("GGUF tensor '" + name + "' is undefined");
  if (t.dim() < 1 || t.dim() > int64_t(kMaxDims))
    throw FormatError("GGUF tensor '" + name + "' has " + std::to_string(t.dim()) + " dimensions (1 to 4 allowed)");
  check_new(name, t.shape(), type);
  if (is_quantized(type))
    throw FormatError("GGUF tensor '" + name + "': the writer does not quantize to " + ggml_type_name(type) +
                      " (give the blocks with add_tensor_bytes)");
  if (t.dtype() != DType::F32 && t.dtype() != DType::F16 && t.dtype() != DType::BF16)
    throw FormatError("GGUF tensor '" + name + "': dtype " + dtype_name(t.dtype()) + " cannot be stored as " + ggml_type_name(type));
  tensors_.push_back({name, t.shape(), type, t, nullptr});
}

void Writer::add_tensor_bytes(const std::string& name, const Shape& shape, GgmlType type,
                              std::function<std::vector<uint8_t>()> produce) {
  check_new(name, shape, type);
  if (!produce) throw FormatError("GGUF tensor '" + name + "': no data");
  tensors_.push_back({name, shape, type, Tensor(), std::move(produce)});
}

void Writer::write(const std::string& path, const std::function<void(size_t, size_t)>& progress) const {
  Buffer h;
  h.put<uint32_t>(0x46554747u);  // "GGUF" read as a little-endian u32
  h.put<uint32_t>(kVersion);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(kv_.size());
  for (auto& [key, v] : kv_) {
    h.put_string(key);
    h.put_value(v);
  }
  auto nbytes_of = [](const Pending& p) {
    uint64_t n = 1;
    for (int64_t d : p.shape) n *= uint64_t(d);
    return type_bytes(p.type, n);
  };
  uint64_t offset = 0;
  for (auto& p : tensors_) {
    h.put_string(p.name);
    h.put<uint32_t>(uint32_t(p.shape.size()));
    for (auto d = p.shape.rbegin(); d != p.shape.rend(); ++d) h.put<uint64_t>(uint64_t(*d));
    h.put<uint32_t>(uint32_t(p.type));
    h.put<uint64_t>(offset);
    offset = align_up(offset + nbytes_of(p), alignment_);
  }
  h.pad_to(alignment_);

  AtomicFileWriter w(path);
  w.write(h.bytes());
  static const char zeros[64] = {};
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const Pending& p = tensors_[k];
    const size_t nbytes = size_t(nbytes_of(p));
    if (p.bytes) {
      const std::vector<uint8_t> bytes = p.bytes();
      if (bytes.size() != nbytes)
        throw FormatError("GGUF tensor '" + p.name + "': " + std::to_string(bytes.size()) + " bytes of " +
                          ggml_type_name(p.type) + " data given, " + std::to_string(nbytes) + " expected for " +
                          shape_str(p.shape));
      w.write(bytes.data(), nbytes);
    } else {
      io::write_tensor(w, p.data, p.type == GgmlType::F32 ? DType::F32 : DType::F16);
    }
    size_t pad = size_t(align_up(nbytes, alignment_) - nbytes);
    while (pad > 0) {
      size_t n = std::min(pad, sizeof(zeros));
      w.write(zeros, n);
      pad -= n;
    }
    if (progress) progress(k + 1, tensors_.size());
  }
  w.commit();
}

// ---- reading ----

namespace {

// Reads from the mapped header with every length checked against the bytes left.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, const std::string& path) : base_(base), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  FormatError error(const std::string& msg) const { return FormatError(path_ + ": " + msg); }

  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      throw error("file truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                  std::to_string(pos_) + ", only " + std::to_string(left()) + " left");
  }
  template <class T>
  T get(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string get_string(const std::string& what) {
    uint64_t n = get<uint64_t>(what + " (string length)");
    need(n, what + " (string of " + std::to_string(n) + " bytes)");
    std::string s(reinterpret_cast<const char*>(base_ + pos_), size_t(n));
    pos_ += n;
    return s;
  }
  // A count of items each at least min_bytes long must fit in the bytes left.
  void check_count(uint64_t n, uint64_t min_bytes, const std::string& what) const {
    if (min_bytes > 0 && n > left() / min_bytes)
      throw error(what + " " + std::to_string(n) + " is impossible: only " + std::to_string(left()) +
                  " bytes left in the file");
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

void read_scalar(Cursor& c, ValueType t, int64_t& i, double& f, const std::string& what) {
  switch (t) {
    case ValueType::U8: i = c.get<uint8_t>(what); break;
    case ValueType::I8: i = c.get<int8_t>(what); break;
    case ValueType::U16: i = c.get<uint16_t>(what); break;
    case ValueType::I16: i = c.get<int16_t>(what); break;
    case ValueType::U32: i = c.get<uint32_t>(what); break;
    case ValueType::I32: i = c.get<int32_t>(what); break;
    case ValueType::U64: i = int64_t(c.get<uint64_t>(what)); break;
    case ValueType::I64: i = c.get<int64_t>(what); break;
    case ValueType::F32: f = c.get<float>(what); break;
    case ValueType::F64: f = c.get<double>(what); break;
    case ValueType::Bool: {
      uint8_t b = c.get<uint8_t>(what);
      if (b > 1) throw c.error(what + ": bool value " + std::to_string(b) + " is not 0 or 1");
      i = b;
      break;
    }
    default: throw c.error(what + ": not a scalar type");
  }
}

ValueType read_type(Cursor& c, const std::string& what) {
  uint32_t t = c.get<uint32_t>(what + " (type)");
  if (!known_value_type(t)) throw c.error(what + ": unknown value type " + std::to_string(t));
  return ValueType(t);
}

Value read_value(Cursor& c, const std::string& what) {
  Value v;
  v.type = read_type(c, what);
  if (v.type == ValueType::String) {
    v.s = c.get_string(what);
  } else if (v.type == ValueType::Array) {
    v.array_type = read_type(c, what + " (array element)");
    if (v.array_type == ValueType::Array) throw c.error(what + ": arrays of arrays are not supported");
    uint64_t n = c.get<uint64_t>(what + " (array length)");
    const bool strings = v.array_type == ValueType::String;
    c.check_count(n, strings ? 8 : scalar_size(v.array_type), what + ": array length");
    if (strings) {
      v.strings.reserve(size_t(n));
      for (uint64_t k = 0; k < n; ++k) v.strings.push_back(c.get_string(what + "[" + std::to_string(k) + "]"));
    } else if (float_type(v.array_type)) {
      v.floats.resize(size_t(n));
      int64_t unused;
      for (uint64_t k = 0; k < n; ++k) read_scalar(c, v.array_type, unused, v.floats[k], what);
    } else {
      v.ints.resize(size_t(n));
      double unused;
      for (uint64_t k = 0; k < n; ++k) read_scalar(c, v.array_type, v.ints[k], unused, what);
    }
  } else {
    read_scalar(c, v.type, v.i, v.f, what);
  }
  return v;
}

}  // namespace

File File::open(const std::string& path) {
  File f;
  f.path_ = path;
  auto fail = [&](const std::string& msg) { return FormatError(path + ": " + msg); };

  io::MappedFile map;
  std::string error;
  if (!io::map_file(path, map, error)) throw fail(error);
  f.size_ = map.size;
  if (f.size_ < 24) throw fail("file too small for a GGUF header (" + std::to_string(f.size_) + " bytes)");
  f.mapping_ = map.mapping;
  f.base_ = map.data;

  Cursor c(f.base_, f.size_, path);
  if (std::memcmp(f.base_, "GGUF", 4) != 0) throw fail("not a GGUF file (bad magic)");
  c.get<uint32_t>("magic");
  f.version_ = c.get<uint32_t>("version");
  if (f.version_ != 2 && f.version_ != 3)
    throw fail("GGUF version " + std::to_string(f.version_) + " is not supported (only 2 and 3)");
  const uint64_t n_tensors = c.get<uint64_t>("tensor count");
  const uint64_t n_kv = c.get<uint64_t>("metadata count");
  // Minimum bytes: a key-value is a key length, a type and a 1-byte value;
  // a tensor info is a name length, n_dims, one dim, a type and an offset.
  c.check_count(n_kv, 8 + 4 + 1, "metadata count");
  c.check_count(n_tensors, 8 + 4 + 8 + 4 + 8, "tensor count");

  f.kv_.reserve(size_t(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.get_string("metadata key #" + std::to_string(k));
    if (key.empty()) throw fail("metadata key #" + std::to_string(k) + " is empty");
    Value v = read_value(c, "metadata '" + key + "'");
    if (!f.kv_index_.emplace(key, f.kv_.size()).second) throw fail("duplicate metadata key '" + key + "'");
    f.kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const Value* a = f.find("general.alignment")) {
    if (a->type != ValueType::U32) throw fail(std::string("metadata 'general.alignment' must be uint32, not ") + value_type_name(a->type));
    if (a->i == 0 || (a->i & (a->i - 1)) != 0)
      throw fail("metadata 'general.alignment' (" + std::to_string(a->i) + ") is not a power of two");
    f.alignment_ = uint32_t(a->i);
  }

  f.tensors_.reserve(size_t(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo t;
    t.name = c.get_string("tensor #" + std::to_string(k) + " name");
    const std::string what = "tensor '" + t.name + "'";
    if (t.name.empty() || t.name.size() > kMaxNameLength)
      throw fail(what + ": name must be 1 to " + std::to_string(kMaxNameLength) + " bytes (tensor #" + std::to_string(k) + ")");
    uint32_t n_dims = c.get<uint32_t>(what + " n_dims");
    if (n_dims < 1 || n_dims > kMaxDims) throw fail(what + ": " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = c.get<uint64_t>(what + " dims");
      if (ne == 0 || ne > f.size_) throw fail(what + ": dimension " + std::to_string(d) + " is " + std::to_string(ne) + " (must be 1 to the file size)");
      if (numel > f.size_ / ne) throw fail(what + ": " + std::to_string(numel) + " x " + std::to_string(ne) + " elements cannot fit in the file");
      numel *= ne;
      t.dims.push_back(int64_t(ne));
    }
    uint32_t type = c.get<uint32_t>(what + " type");
    if (!known_ggml_type(type))
      throw fail(what + ": ggml type " + std::to_string(type) +
                 " is not supported (only F32 = 0, F16 = 1, Q4_0 = 2 and Q8_0 = 8)");
    t.type = GgmlType(type);
    if (uint64_t(t.dims[0]) % uint64_t(block_elements(t.type)) != 0)
      throw fail(what + ": " + ggml_type_name(t.type) + " rows of " + std::to_string(t.dims[0]) +
                 " elements are not a whole number of " + std::to_string(block_elements(t.type)) + "-element blocks");
    t.nbytes = type_bytes(t.type, numel);
    t.offset = c.get<uint64_t>(what + " offset");
    if (t.offset % f.alignment_ != 0)
      throw fail(what + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(f.alignment_));
    if (!f.index_.emplace(t.name, f.tensors_.size()).second) throw fail("duplicate tensor name '" + t.name + "'");
    f.tensors_.push_back(std::move(t));
  }

  f.data_offset_ = align_up(c.pos(), f.alignment_);
  const uint64_t data_size = f.data_offset_ <= f.size_ ? f.size_ - f.data_offset_ : 0;
  std::vector<const TensorInfo*> by_offset;
  for (auto& t : f.tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw fail("tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", " + std::to_string(t.offset + t.nbytes) +
                 ") lies outside the data section (" + std::to_string(data_size) + " bytes): file truncated?");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k)
    if (by_offset[k - 1]->offset + by_offset[k - 1]->nbytes > by_offset[k]->offset)
      throw fail("tensors '" + by_offset[k - 1]->name + "' and '" + by_offset[k]->name + "' overlap");
  return f;
}

const Value* File::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const Value& File::get(const std::string& key) const {
  const Value* v = find(key);
  if (!v) throw FormatError(path_ + ": metadata '" + key + "' is missing");
  return *v;
}

int64_t File::get_int(const std::string& key) const {
  const Value& v = get(key);
  if (!v.is_integer()) throw FormatError(path_ + ": metadata '" + key + "' is " + value_type_name(v.type) + ", expected an integer");
  return v.i;
}

double File::get_float(const std::string& key) const {
  const Value& v = get(key);
  if (!v.is_float()) throw FormatError(path_ + ": metadata '" + key + "' is " + value_type_name(v.type) + ", expected a float");
  return v.f;
}

const std::string& File::get_string(const std::string& key) const {
  const Value& v = get(key);
  if (v.type != ValueType::String) throw FormatError(path_ + ": metadata '" + key + "' is " + value_type_name(v.type) + ", expected a string");
  return v.s;
}

const TensorInfo& File::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw FormatError(path_ + ": no tensor named '" + name + "'");
  return tensors_[it->second];
}

TensorBytes File::bytes(const std::string& name) const {
  const TensorInfo& t = info(name);
  return {base_ + data_offset_ + t.offset, t.nbytes};
}

void File::release(const std::string& name) const {
  const TensorBytes b = bytes(name);
  io::release_pages(b.data, b.size);
}

Tensor File::tensor(const std::string& name) const {
  const TensorInfo& t = info(name);
  uint8_t* p = const_cast<uint8_t*>(base_) + data_offset_ + t.offset;
  if (is_quantized(t.type)) {
    Tensor out = Tensor::empty(t.shape(), DType::F32);
    dequantize(t.type, p, out.numel(), out.data<float>());
    return out;
  }
  const DType dtype = t.type == GgmlType::F32 ? DType::F32 : DType::F16;
  if (reinterpret_cast<uintptr_t>(p) % uint64_t(block_bytes(t.type)) == 0)
    return Tensor::from_storage(Storage::borrow(p, size_t(t.nbytes), mapping_), t.shape(), dtype);
  Tensor out = Tensor::empty(t.shape(), dtype);
  std::memcpy(out.raw_data(), p, size_t(t.nbytes));
  return out;
}

}  // namespace rbe::gguf
