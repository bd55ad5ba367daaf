// The batched product of the fixed-rate forms (prompt processing): AMX tiles
// where the machine has them (fixed_gemm_amx.h; bf16 for many rows, int8 for
// a few), else AVX512-BF16 dot products for many rows where the CPU has them
// (fixed_gemm_bf16.h), else the SGEMM on weights decoded to f32: inside its
// column tasks for few rows, as row panels for more.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "codec/fixed_gemm_amx.h"
#include "codec/fixed_gemm_bf16.h"
#include "codec/fixed_interleaved.h"
#include "codec/fixed_internal.h"
#include "codec/fixed_kernels.h"
#include "codec/fixed_kernels_internal.h"
#include "codec/hadamard.h"
#include "tensor/env_switch.h"
#include "tensor/kernels/amx_tiles.h"
#include "tensor/kernels/gemm.h"

namespace rbe::codec::fixed {
namespace {

// RBE_FIXED_GEMM=sgemm turns both tile kernels off.
bool tiles_allowed() { return !env_equals("RBE_FIXED_GEMM", "sgemm"); }

// Few rows (a prompt: up to 144 rows on the AVX2 SGEMM, 280 on AVX-512): the
// SGEMM's column tasks decode their own panels a depth block (whole scale
// groups) at a time, so no f32 copy of the matrix goes through L3
// (gemm_decoded_columns). Else panels.
void gemm_sgemm(const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias, float* Y) {
  const int64_t R = L.rows, K = L.cols, G = L.group;
  const bool columns = kernels::gemm_decoded_columns(
      N, R, K, X, K, G,
      [&](int64_t j0, int64_t n, int64_t p0, int64_t kcur, float* out) {
        const int64_t g0 = p0 / G, g1 = (p0 + kcur) / G;
        Layout Lg = L;  // the groups read, as a row of their own
        Lg.cols = (g1 - g0) * G;
        std::vector<uint8_t> scratch(w.in_place() ? 0 : size_t(n * Lg.row_bytes()));
        const StoredRows::Groups src = w.groups(L, j0, j0 + n, g0, g1, scratch.data());
        for (int64_t j = 0; j < n; ++j) decode_row_stored(Lg, src.p + j * src.stride, 0, out + j * kcur);
      },
      0.f, Y, R);
  if (!columns)
    kernels::gemm_decoded_panels(
        N, R, K, X,
        [&](int64_t r0, int64_t r1, float* out) {
          std::vector<uint8_t> scratch(w.in_place() ? 0 : size_t((r1 - r0) * L.row_bytes()));
          const uint8_t* rows = w.rows(L, r0, r1, scratch.data());
          for (int64_t r = r0; r < r1; ++r) decode_row_stored(L, rows, r - r0, out + (r - r0) * K);
        },
        Y);
  if (bias)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t r = 0; r < R; ++r) Y[n * R + r] += bias[r];
}

// Whether `name` is a batched kernel this machine runs.
bool runs_here(const char* name) {
  return std::strcmp(name, "sgemm") == 0 || (std::strcmp(name, "amx") == 0 && amx_gemm_available()) ||
         (std::strcmp(name, "amx-bf16") == 0 && amx_bf16_gemm_available()) ||
         (std::strcmp(name, "avx512-bf16") == 0 && avx512_bf16_gemm_available());
}

// The N rows of X [N, K] rotated by R (rbe fixed's rotation), over the
// threads, in buf; returns buf's data.
const float* rotated_rows(const RandomizedHadamard& R, const float* X, int64_t N, int64_t K, std::vector<float>& buf) {
  buf.assign(X, X + N * K);
  R.forward_rows(buf.data(), N);
  return buf.data();
}

// From this many rows the bf16 tiles beat the int8 ones (bench_quant_gemv
// batch/, 124M shapes, 2 threads: 1.6-2.1x at 128 rows, 0.95-1.5x at 16;
// at 4 rows int8 is 1.0-1.25x faster, its weights unpacked to 1 byte, not 2).
constexpr int64_t kBf16MinRows = 16;

}  // namespace

// Here, not in fixed_gemm_amx.cpp: these checks come before any AMX code.
bool amx_gemm_available() {
  static const bool ok = rbe::kernels::amx_int8_usable() && tiles_allowed();
  return ok;
}

bool amx_bf16_gemm_available() {
  static const bool ok = rbe::kernels::amx_bf16_usable() && tiles_allowed();
  return ok;
}

const char* gemm_kernel_for(int64_t N, bool from_copy) {
  static const char* forced = [] {
    const char* env = std::getenv("RBE_FIXED_GEMM");
    return env && runs_here(env) ? env : nullptr;
  }();
  if (forced) return forced;
  // The bf16 tiles read the regrouped copy as it is; the int8 tiles would
  // rebuild the stored rows from it first (9-12 rows, 124M shapes: 1.5-2.9x
  // slower than from the stored bytes, docs/performance.md).
  if ((N >= kBf16MinRows || from_copy) && amx_bf16_gemm_available()) return "amx-bf16";
  if (amx_gemm_available()) return "amx";
  return N >= kAvx512Bf16MinRows && avx512_bf16_gemm_available() ? "avx512-bf16" : "sgemm";
}

// With `rot`, X's rows are rotated first: by the bf16 tiles as they convert
// each row, else into a copy of X.
void gemm_with(const char* name, const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias,
               float* Y, const RandomizedHadamard* rot) {
  if (std::strcmp(name, "amx-bf16") == 0)
    return w.copy() ? gemm_amx_bf16_interleaved(*w.copy(), L, N, X, bias, Y, rot)
                    : gemm_amx_bf16(L, w.data(), N, X, bias, Y, rot);
  std::vector<float> Xr;
  if (rot) X = rotated_rows(*rot, X, N, L.cols, Xr);
  if (std::strcmp(name, "amx") == 0) gemm_amx(L, w, N, X, bias, Y);
  else if (std::strcmp(name, "avx512-bf16") == 0) gemm_avx512_bf16(L, w, N, X, bias, Y);
  else gemm_sgemm(L, w, N, X, bias, Y);
}

void gemm(const Layout& L, const StoredRows& w, int64_t N, const float* X, const float* bias, float* Y,
          const RandomizedHadamard* rot) {
  gemm_with(gemm_kernel_for(N, w.copy() != nullptr), L, w, N, X, bias, Y, rot);
}

}  // namespace rbe::codec::fixed

namespace rbe::codec {

const char* fixed_gemm_kernel_name() { return fixed::gemm_kernel_for(128); }

std::vector<std::string> fixed_gemm_kernel_names() {
  std::vector<std::string> v;
  for (const char* n : {"amx", "amx-bf16", "avx512-bf16", "sgemm"})
    if (fixed::runs_here(n)) v.emplace_back(n);
  return v;
}

bool fixed_gemm_with_kernel(const char* name, const EncodedTensor& e, int64_t N, const float* X, const float* bias,
                            float* Y) {
  if (!fixed::runs_here(name)) return false;
  const fixed::Layout L = fixed::layout_of(e);
  std::unique_ptr<RandomizedHadamard> rot;
  if (L.kind == fixed::Kind::Rbe)  // Y = X W^T = (X R^T) W'^T: X's rows rotated
    rot = std::make_unique<RandomizedHadamard>(L.cols, fixed::rotation_seed(e));
  fixed::gemm_with(name, L, fixed::StoredRows(e.data), N, X, bias, Y, rot.get());
  return true;
}

}  // namespace rbe::codec
