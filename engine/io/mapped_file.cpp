#include "io/mapped_file.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rbe::io {

bool map_file(const std::string& path, MappedFile& out, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::string("cannot open file: ") + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = "not a regular file";
    return false;
  }
  out = MappedFile{};
  out.size = uint64_t(st.st_size);
  if (out.size == 0) {  // mmap refuses length 0; the caller's size check reports it
    ::close(fd);
    return true;
  }
  const size_t size = size_t(out.size);
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (addr == MAP_FAILED) {
    error = std::string("cannot map file: ") + std::strerror(errno);
    return false;
  }
  out.mapping = std::shared_ptr<void>(addr, [size](void* p) { ::munmap(p, size); });
  out.data = static_cast<const uint8_t*>(addr);
  return true;
}

void release_pages(const void* p, uint64_t n) {
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  // Advice only: a failure leaves the pages resident, which is still correct.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace rbe::io
