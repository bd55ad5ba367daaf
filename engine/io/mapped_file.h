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

// Gives back this process's pages of [p, p + n) inside a mapping (the whole
// pages in that range): they stop counting towards its resident memory, and a
// later read maps them again from the file. A change made in memory to those
// pages is lost, so a loader calls it only for bytes it has copied and keeps
// no view of. Lets a loader converting a big file tensor by tensor peak at
// about the model's memory instead of the model's plus the file's.
void release_pages(const void* p, uint64_t n);

}  // namespace rbe::io
