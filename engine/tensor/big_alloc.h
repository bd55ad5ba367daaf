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

// Buffers of at least this many bytes, once released with release_aligned,
// are kept for the next allocation of the same padded size if that size was
// asked for more than once (a repeating pass: perplexity batches, training
// steps), up to kReuseCacheBytes in all (the oldest go first). glibc serves them with a
// fresh mmap each time (32 MiB is its largest mmap threshold), so without
// the cache every one is faulted in and zeroed by the kernel again: the
// logits of a perplexity batch (200–400 MB for GPT-2) cost more in page
// faults than in the softmax that reads them.
inline constexpr size_t kReuseMinBytes = size_t(32) << 20;
inline constexpr size_t kReuseCacheBytes = size_t(1) << 30;

// Never null (throws std::bad_alloc). Release with release_aligned (or
// std::free, which bypasses the reuse cache).
void* allocate_aligned(size_t nbytes);
// p from allocate_aligned(nbytes), with the same nbytes.
void release_aligned(void* p, size_t nbytes);
// Frees every buffer the reuse cache holds and forgets which sizes were
// asked for (allocate_aligned does this before it gives up on a failed
// allocation).
void drop_reuse_cache();
// Bytes the reuse cache holds now.
size_t reuse_cache_bytes();

// Gives the pages of freed heap memory back to the system (glibc's
// malloc_trim; nothing elsewhere). Buffers under kReuseMinBytes come from
// glibc's heap once its mmap threshold has risen, and a freed one in the
// middle of the heap stays resident: call this after freeing many of them
// (a model's packed forms, one by one) while memory is still being filled.
void trim_freed_heap();

// This machine's memory: physical plus swap (sysinfo), in bytes.
double machine_memory_bytes();

}  // namespace rbe
