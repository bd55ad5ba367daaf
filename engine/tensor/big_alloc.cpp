#include "tensor/big_alloc.h"

#include <sys/mman.h>
#include <sys/sysinfo.h>

#include <cstdlib>
#include <new>

namespace rbe {

void* allocate_aligned(size_t nbytes) {
  const bool huge = nbytes >= kHugePageBytes;
  const size_t align = huge ? kHugePageBytes : 64;
  size_t rounded = (nbytes + align - 1) / align * align;  // aligned_alloc wants a multiple of the alignment
  if (rounded == 0) rounded = align;
  void* p = std::aligned_alloc(align, rounded);
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advice only: where transparent huge pages are off this fails and the
  // buffer simply stays on 4 KiB pages.
  if (huge) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

double machine_memory_bytes() {
  struct sysinfo si {};
  if (sysinfo(&si) != 0) return 0;
  return (double(si.totalram) + double(si.totalswap)) * double(si.mem_unit);
}

}  // namespace rbe
