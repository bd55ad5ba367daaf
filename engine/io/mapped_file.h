#pragma once
// A whole file memory-mapped for reading by the safetensors and GGUF readers.
// The mapping is private and writable (copy-on-write): tensors viewing it may
// be modified in memory without ever touching the file.
#include <cstdint>
#include <memory>
#include <string>

namespace rbe::io {

struct MappedFile {
  std::shared_ptr<void> mapping;  // unmaps when the last holder goes
  const uint8_t* data = nullptr;
  uint64_t size = 0;              // an empty file has size 0 and no mapping
};

// Maps path. On failure returns false and sets error to "cannot open file:
// <reason>", "not a regular file" or "cannot map file: <reason>".
bool map_file(const std::string& path, MappedFile& out, std::string& error);

}  // namespace rbe::io
