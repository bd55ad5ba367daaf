// Buffers for tensors: 64-byte aligned (every AVX-512 load of a row whose
// byte length is a multiple of 64 stays inside one cache line; a 16-byte
// offset halves a GEMV's streaming rate), and big ones on 2 MiB pages.
#pragma once

#include <cstddef>

namespace rbe {

// Buffers of at least this many bytes are 2 MiB aligned, padded to 2 MiB and
// advised MADV_HUGEPAGE: batch-1 generation streams every weight once per
// token, and with 4 KiB pages each page costs a TLB walk and restarts the
// hardware prefetcher (measured: +20% single-core read rate on this VM).
inline constexpr size_t kHugePageBytes = size_t(2) << 20;

// Never null (throws std::bad_alloc); release with std::free.
void* allocate_aligned(size_t nbytes);

// This machine's memory: physical plus swap (sysinfo), in bytes.
double machine_memory_bytes();

}  // namespace rbe
