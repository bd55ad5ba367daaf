#include "tensor/atomic_file.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace rbe {

static std::string errno_text() { return std::strerror(errno); }

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  // Unique per process and per writer, in the target's folder (rename must not cross file systems).
  static std::atomic<uint64_t> counter{0};
  temp_ = path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  f_ = std::fopen(temp_.c_str(), "wb");
  if (!f_) throw IoError(path_ + ": cannot create file: " + errno_text());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t nbytes) {
  if (!f_) throw IoError(path_ + ": write after commit");
  if (nbytes && std::fwrite(data, 1, nbytes, f_) != nbytes) throw IoError(path_ + ": write failed: " + errno_text());
}

void AtomicFileWriter::commit() {
  if (!f_) throw IoError(path_ + ": already committed");
  bool ok = std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok) throw IoError(path_ + ": write failed: " + errno_text());
  if (std::rename(temp_.c_str(), path_.c_str()) != 0)
    throw IoError(path_ + ": cannot rename temporary file into place: " + errno_text());
  committed_ = true;
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFileWriter w(path);
  w.write(contents);
  w.commit();
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open file: " + errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read failed");
  return ss.str();
}

}  // namespace rbe
