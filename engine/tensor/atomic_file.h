#pragma once
// Crash-safe file writing: data goes to a temporary file next to the target,
// which is flushed and renamed over the target only when complete, so readers
// never see a half-written file.
#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rbe {

// Thrown when a file cannot be created, written or renamed; names the path.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Streams a file under a temporary name; commit() renames it into place.
// Destroying an uncommitted writer removes the temporary file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t nbytes);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();  // flush, fsync, close, rename

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  std::string path_;
  std::string temp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

void write_file_atomic(const std::string& path, std::string_view contents);

// Reads a whole file; throws IoError naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace rbe
