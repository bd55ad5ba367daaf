// CUDA decode of the fixed-rate forms: one thread per weight. The bit
// unpacking mirrors fixed::sub_code (codec/fixed_layout.h); the scale is read
// as IEEE half and the weight is one float product, as on the CPU.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "codec/fixed_decode_gpu_kernel.h"

namespace rbe::codec::gpu {

namespace {

struct DeviceLayout {
  int bits, group, subs, sub_bytes, group_bytes;
  long long rows, cols, row_bytes;
  int kind;  // 0 q8_0, 1 q4_0, 2 rbe
  signed char levels[16];
};

__device__ int code_at(const unsigned char* p, int bits, int i) {
  switch (bits) {
    case 8: return p[i];
    case 4: return i < 16 ? (p[i] & 15) : (p[i - 16] >> 4);
    case 2: return (p[i & 7] >> (2 * (i >> 3))) & 3;
    default: {
      const unsigned hi = unsigned(p[8]) | (unsigned(p[9]) << 8) | (unsigned(p[10]) << 16) | (unsigned(p[11]) << 24);
      return ((p[i & 7] >> (2 * (i >> 3))) & 3) | int(((hi >> i) & 1u) << 2);
    }
  }
}

__global__ void decode_kernel(DeviceLayout L, const unsigned char* data, float* out) {
  const long long n = L.rows * L.cols;
  for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n;
       idx += (long long)gridDim.x * blockDim.x) {
    const long long r = idx / L.cols, c = idx % L.cols;
    const unsigned char* g = data + r * L.row_bytes + (c / L.group) * L.group_bytes;
    const int within = int(c % L.group), s = within / 32, i = within % 32;
    const float d = __half2float(__ushort_as_half((unsigned short)(g[0] | (g[1] << 8))));
    const int code = code_at(g + 2 + s * L.sub_bytes, L.bits, i);
    const int level = L.kind == 0 ? int((signed char)(unsigned char)code) : int(L.levels[code]);
    out[idx] = d * float(level);
  }
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string("GPU decode: ") + what + ": " + cudaGetErrorString(err));
}

}  // namespace

bool available(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess || n == 0) {
    if (why) *why = err != cudaSuccess ? std::string("no usable CUDA device: ") + cudaGetErrorString(err) : "no CUDA device";
    return false;
  }
  return true;
}

void decode_fixed_stored(const fixed::Layout& L, const uint8_t* data, float* out) {
  std::string why;
  if (!available(&why)) throw std::runtime_error("GPU decode: " + why);
  DeviceLayout D{};
  D.bits = L.bits;
  D.group = L.group;
  D.subs = L.subs_per_group();
  D.sub_bytes = L.sub_bytes();
  D.group_bytes = L.group_bytes();
  D.rows = L.rows;
  D.cols = L.cols;
  D.row_bytes = L.row_bytes();
  D.kind = L.kind == fixed::Kind::Q8_0 ? 0 : L.kind == fixed::Kind::Q4_0 ? 1 : 2;
  for (int i = 0; i < 16; ++i) D.levels[i] = L.levels[size_t(i)];
  const size_t in_bytes = size_t(L.total_bytes()), out_bytes = size_t(L.rows * L.cols) * sizeof(float);
  unsigned char* d_in = nullptr;
  float* d_out = nullptr;
  try {
    check(cudaMalloc(&d_in, in_bytes), "cudaMalloc");
    check(cudaMalloc(&d_out, out_bytes), "cudaMalloc");
    check(cudaMemcpy(d_in, data, in_bytes, cudaMemcpyHostToDevice), "copy to device");
    const int threads = 256;
    const long long n = L.rows * L.cols;
    const int blocks = int((n + threads - 1) / threads < 65535 ? (n + threads - 1) / threads : 65535);
    decode_kernel<<<blocks, threads>>>(D, d_in, d_out);
    check(cudaGetLastError(), "kernel launch");
    check(cudaMemcpy(out, d_out, out_bytes, cudaMemcpyDeviceToHost), "copy to host");
  } catch (...) {
    cudaFree(d_in);
    cudaFree(d_out);
    throw;
  }
  cudaFree(d_in);
  cudaFree(d_out);
}

}  // namespace rbe::codec::gpu
