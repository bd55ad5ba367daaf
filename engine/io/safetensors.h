#pragma once
// The safetensors format (HuggingFace): 8-byte little-endian header length N,
// N bytes of JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {str: str}}, then the raw data section (offsets are relative to it).
//
// Reading memory-maps the file and validates the whole header before any
// tensor is used; tensors are zero-copy views of the mapping (copy-on-write,
// so writing into one never touches the file).
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace rbe::safetensors {

// Thrown for unreadable or malformed files; the message names the file and,
// where there is one, the tensor.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Metadata = std::map<std::string, std::string>;

// Writes tensors (F32, F16, BF16, I32 or BOOL; any strides) in the given order,
// to a temporary name then renamed. Names must be unique and not "__metadata__".
void save(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
          const Metadata& metadata = {});

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

class File {
 public:
  // Maps and validates path; throws FormatError.
  static File open(const std::string& path);

  const std::string& path() const { return path_; }
  const Metadata& metadata() const { return metadata_; }
  // Tensors in data-offset order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws FormatError if absent

  // A view of the mapped data (copied only when the data is misaligned for
  // its dtype). The view keeps the mapping alive.
  Tensor tensor(const std::string& name) const;

 private:
  std::string path_;
  std::shared_ptr<void> mapping_;  // owns the mmap
  const uint8_t* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  Metadata metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
};

// Convenience: every tensor of a file, by name.
std::map<std::string, Tensor> load(const std::string& path);

}  // namespace rbe::safetensors
