#pragma once
// Scratch buffers kept by a thread between calls of a kernel (a fresh one of
// hundreds of KiB per call would be new pages to fault in every time):
// page-aligned, grown as needed, never shrunk.
#include <cstddef>
#include <cstdlib>
#include <new>

namespace rbe::kernels {

struct AlignedBuffer {
  void* ptr = nullptr;
  size_t cap = 0;  // bytes
  bool busy = false;  // held by a ScratchLease
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(ptr); }
  void* bytes(size_t n) {
    if (n > cap) {
      std::free(ptr);
      cap = (n + 4095) / 4096 * 4096;
      ptr = std::aligned_alloc(4096, cap);
      if (!ptr) {
        cap = 0;
        throw std::bad_alloc();
      }
    }
    return ptr;
  }
  float* get(size_t floats) { return static_cast<float*>(bytes(floats * sizeof(float))); }
};

// A thread's buffer held across a parallel loop: while the thread waits in
// it, it may steal an unrelated task that calls the same kernel again, which
// must not take (and perhaps reallocate) the buffer in use. The lease takes
// `tls` unless a caller further up this thread holds it, then one of its own.
class ScratchLease {
 public:
  explicit ScratchLease(AlignedBuffer& tls) : buf_(tls.busy ? &own_ : &tls) { buf_->busy = true; }
  ~ScratchLease() { buf_->busy = false; }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  AlignedBuffer& operator*() { return *buf_; }
  AlignedBuffer* operator->() { return buf_; }

 private:
  AlignedBuffer own_;
  AlignedBuffer* buf_;
};

}  // namespace rbe::kernels
