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
#include <optional>
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
// `as` (F32, F16 or BF16): the floating-point tensors are stored in that dtype,
// each converted (and made contiguous) only as it is written, so that a
// converted copy of the whole set never exists.
void save(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
          const Metadata& metadata = {}, std::optional<DType> as = std::nullopt);

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
  // Elements of every tensor, summed (a loader's check of a config against
  // the file, before it allocates the model).
  double element_count() const;

  // A view of the mapped data (copied only when the data is misaligned for
  // its dtype). The view keeps the mapping alive.
  Tensor tensor(const std::string& name) const;
  // Drops the tensor's mapped pages from memory (io::release_pages), for a
  // loader that has copied it and keeps no view of it.
  void release(const std::string& name) const;

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

// A set of tensors held by one file or split over shards by an index file
// (HuggingFace's model.safetensors.index.json):
//   {"metadata": {...}, "weight_map": {"tensor name": "shard file name", ...}}
// Shard names are plain file names in the index's folder. Opening validates
// the index and every shard it names; each tensor must sit in the shard the
// map names, and every tensor of every shard must be in the map. Errors name
// the index or the shard file, and the tensor.
class ShardedFile {
 public:
  static ShardedFile open_index(const std::string& index_path);
  static ShardedFile open_single(const std::string& path);  // one plain .safetensors file

  const std::string& path() const { return path_; }  // the index (or the single file)
  std::vector<std::string> names() const;              // sorted
  double element_count() const;                        // of every shard's tensors
  bool contains(const std::string& name) const { return shard_of_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;       // throws FormatError if absent
  const std::string& file_of(const std::string& name) const;   // path of the shard holding it
  Tensor tensor(const std::string& name) const;
  void release(const std::string& name) const { shard(name).release(name); }

 private:
  const File& shard(const std::string& name) const;
  std::string path_;
  std::vector<File> shards_;
  std::map<std::string, size_t> shard_of_;
};

// Writes tensors (in the given order) to shards of at most max_shard_bytes of
// tensor data each (a bigger tensor gets a shard of its own), named
// "<stem>-00001-of-0000N.safetensors", and "<stem>.safetensors.index.json",
// HF's layout. The index is written last, so a reader never sees an index
// naming a missing shard. Returns the index path.
std::string save_sharded(const std::string& dir, const std::string& stem,
                         const std::vector<std::pair<std::string, Tensor>>& tensors, uint64_t max_shard_bytes,
                         const Metadata& metadata = {}, std::optional<DType> as = std::nullopt);

}  // namespace rbe::safetensors
