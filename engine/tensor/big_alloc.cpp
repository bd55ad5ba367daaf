#include "tensor/big_alloc.h"

#include <sys/mman.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/sysinfo.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <mutex>
#include <new>

namespace rbe {

namespace {

// Decided by the requested size (a 64-byte rounding may reach 2 MiB).
size_t alignment(size_t nbytes) { return nbytes >= kHugePageBytes ? kHugePageBytes : 64; }

size_t padded_size(size_t nbytes) {
  const size_t align = alignment(nbytes);
  const size_t rounded = (nbytes + align - 1) / align * align;  // aligned_alloc wants a multiple of the alignment
  return rounded == 0 ? align : rounded;
}

// Released big buffers, oldest first. A mutex is enough: only buffers of
// 32 MiB and more pass through here.
struct ReuseCache {
  std::mutex mu;
  std::deque<std::pair<void*, size_t>> blocks;  // (buffer, padded size)
  size_t bytes = 0;
  // How often each recent big size was asked for. Only a size asked for
  // again is worth keeping: a one-off buffer (a loader's f32 copy of a
  // matrix it casts) is freed at once, as before.
  std::deque<std::pair<size_t, int>> asked;  // (padded size, count), newest last
  static constexpr size_t kSizesRemembered = 64;

  // Counts a request for size; returns a kept buffer of that size, or null.
  void* take(size_t size) {
    std::lock_guard<std::mutex> lock(mu);
    auto seen = std::find_if(asked.begin(), asked.end(), [&](const auto& a) { return a.first == size; });
    if (seen != asked.end()) {
      ++seen->second;
    } else {
      asked.emplace_back(size, 1);
      if (asked.size() > kSizesRemembered) asked.pop_front();
    }
    // The newest first: its pages are the likeliest to be in cache and TLB.
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it)
      if (it->second == size) {
        void* p = it->first;
        bytes -= size;
        blocks.erase(std::next(it).base());
        return p;
      }
    return nullptr;
  }
  void put(void* p, size_t size) {
    std::deque<std::pair<void*, size_t>> evicted;
    {
      std::lock_guard<std::mutex> lock(mu);
      const bool repeated =
          std::any_of(asked.begin(), asked.end(), [&](const auto& a) { return a.first == size && a.second > 1; });
      if (!repeated || size > kReuseCacheBytes) {
        evicted.emplace_back(p, size);
      } else {
        blocks.emplace_back(p, size);
        bytes += size;
        while (bytes > kReuseCacheBytes) {
          evicted.push_back(blocks.front());
          bytes -= blocks.front().second;
          blocks.pop_front();
        }
      }
    }
    for (auto& [q, n] : evicted) std::free(q);  // outside the lock: munmap takes time
  }
  void drop() {
    std::deque<std::pair<void*, size_t>> all;
    {
      std::lock_guard<std::mutex> lock(mu);
      all.swap(blocks);
      bytes = 0;
      asked.clear();
    }
    for (auto& [q, n] : all) std::free(q);
  }
};

ReuseCache& reuse_cache() {
  static ReuseCache* cache = new ReuseCache();  // never destroyed: tensors may outlive static destruction
  return *cache;
}

}  // namespace

void* allocate_aligned(size_t nbytes) {
  const size_t size = padded_size(nbytes), align = alignment(nbytes);
  if (size >= kReuseMinBytes)
    if (void* p = reuse_cache().take(size)) return p;
  void* p = std::aligned_alloc(align, size);
  if (!p && size >= kReuseMinBytes && reuse_cache_bytes() > 0) {
    drop_reuse_cache();
    p = std::aligned_alloc(align, size);
  }
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advice only: where transparent huge pages are off this fails and the
  // buffer simply stays on 4 KiB pages.
  if (align == kHugePageBytes) (void)madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

void release_aligned(void* p, size_t nbytes) {
  if (!p) return;
  const size_t size = padded_size(nbytes);
  if (size >= kReuseMinBytes) reuse_cache().put(p, size);
  else std::free(p);
}

void drop_reuse_cache() { reuse_cache().drop(); }

size_t reuse_cache_bytes() {
  ReuseCache& c = reuse_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

void trim_freed_heap() {
#if defined(__GLIBC__)
  (void)malloc_trim(0);
#endif
}

double machine_memory_bytes() {
  struct sysinfo si {};
  if (sysinfo(&si) != 0) return 0;
  return (double(si.totalram) + double(si.totalswap)) * double(si.mem_unit);
}

}  // namespace rbe
