#pragma once
// The codec's public interface: settings, grades, per-tensor results, and
// encode/decode of one weight matrix in any of the supported forms.
//
//   codec        form                                         used for
//   "f32"/"f16"  dense                                         reference
//   "q8_0"       32 weights + f16 scale (8.5 bits/weight)      baseline, fused matvec
//   "q4_0"       32 weights + f16 scale (4.5 bits/weight)      baseline, fused matvec
//   "rbe"        RBE, storage "fixed": fixed-rate records the fused kernel
//                (RBELinear) runs from, no decompression;
//                storage "entropy": generator record + transform-domain residual,
//                trellis-quantized and entropy-coded (best rate-distortion),
//                decoded once on load.
//
// Implementations: rbe_entropy.h (entropy form), fixed_rate.h (q8_0, q4_0, rbe
// fixed), codec.cpp (dispatch). Files: rbe_file.h. Whole models: model_codec.h.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/packed_matrix.h"
#include "tensor/tensor.h"

namespace rbe::codec {

// Quality grades, best first. Each bounds a block's RMS error relative to the
// block's RMS (rel = ||W - W'|| / ||W||): see grade_bound() and docs/format.md.
enum class QualityGrade : uint8_t { SPlus = 0, S, APlus, A, BPlus, B, CPlus, C };
constexpr int kGradeCount = 8;
const char* grade_name(QualityGrade g);                        // "S+", "S", "A+", ...
std::optional<QualityGrade> parse_grade(const std::string& s);  // inverse; nullopt if unknown
double grade_bound(QualityGrade g);                             // max relative RMSE of a block
QualityGrade grade_for(double rel_rmse);                        // best grade whose bound holds (C if none)

enum class Transform : uint8_t { Adaptive = 0, DCT, Haar, CDF97 };
const char* transform_name(Transform t);  // "adaptive", "dct", "haar", "cdf97"
std::optional<Transform> parse_transform(const std::string& s);

enum class Storage : uint8_t { Fixed = 0, Entropy };  // only meaningful for codec "rbe"

struct CodecSettings {
  std::string codec = "rbe";              // "rbe", "q8_0", "q4_0", "f16", "f32"
  Storage storage = Storage::Fixed;
  std::optional<QualityGrade> grade;      // target: every block meets this grade ...
  std::optional<double> bpw;              // ... or a bits/weight budget for the tensor
  int block_size = 64;                    // block edge in weights (entropy form: square blocks)
  // Entropy form: smallest block of the per-tile quadtree (a power of two >= 8
  // with block_size / min_block_size a power of two); 0 or block_size: no splitting.
  int min_block_size = 0;
  Transform transform = Transform::Adaptive;
  uint64_t seed = 0x5eedULL;              // incoherence rotation seed
  nlohmann::json to_json() const;
  static CodecSettings from_json(const nlohmann::json& j);  // throws std::runtime_error on bad values
};

// One block's outcome, for the heatmaps and the grade histogram.
struct BlockStats {
  int32_t row0 = 0, col0 = 0, rows = 0, cols = 0;
  QualityGrade grade = QualityGrade::C;
  float rmse = 0.f;      // absolute RMS error of the block
  float rel_rmse = 0.f;  // relative to the block's RMS
  float bits = 0.f;      // bits spent on the block, its share of side data included
};

struct CompressionMetadata {
  int block_size = 0;
  int64_t weights = 0;            // rows * cols
  int64_t bytes = 0;              // payload bytes, everything counted
  double bits_per_weight = 0;     // 8 * bytes / weights
  double rmse = 0;                // over the tensor, of decode(encode(W)) - W
  double rel_rmse = 0;            // rmse / rms(W)
  double snr_db = 0;              // 10 log10(sum W^2 / sum (W - W')^2)
  double encode_seconds = 0;
  int64_t coefficient_count = 0;  // basis + residual coefficients kept (entropy form); codes (others)
  nlohmann::json to_json() const;
};

// A compressed matrix: everything needed to decode it. `params` holds the
// form's own small settings (documented per form in docs/format.md); `payload`
// the records. The payload may be owned or borrowed from a mapped file.
struct EncodedTensor {
  std::string codec;        // as CodecSettings::codec
  Storage storage = Storage::Fixed;
  int64_t rows = 0, cols = 0;
  nlohmann::json params;    // form-specific (block size, transform, seed, ...)
  CompressionMetadata meta;
  std::vector<BlockStats> blocks;
  std::vector<uint8_t> owned;           // payload when owned
  const uint8_t* data = nullptr;        // payload start (owned.data() or mapped)
  int64_t size = 0;                     // payload bytes
  std::shared_ptr<const void> keepalive;  // keeps a mapped payload alive (set only for one: a file's, never written)
  void set_owned(std::vector<uint8_t> bytes);  // owned = bytes; data/size follow
};

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};
// fraction in [0, 1]; what: a short description ("h.3.attn.c_attn.weight").
using ProgressFn = std::function<void(double fraction, const std::string& what)>;
using CancelFn = std::function<bool()>;  // true = stop; encoders then throw Cancelled

// Encodes W [rows, cols] (F32, contiguous) under `s`. Fills meta (rmse etc.
// measured against the actual decode) and blocks. Multithreaded; calls
// progress (may be empty) and polls cancel (may be empty) between blocks.
// hessian: optional [cols, cols] X^T X of calibration inputs, for error-aware
// rounding (formats that support it; others ignore it).
EncodedTensor encode(const Tensor& W, const CodecSettings& s, const ProgressFn& progress = {},
                     const CancelFn& cancel = {}, const Tensor& hessian = {});

// Full decode to F32 [rows, cols].
Tensor decode(const EncodedTensor& e);
// Rows [r0, r1) only, into out[(r1 - r0) * cols].
void decode_rows(const EncodedTensor& e, int64_t r0, int64_t r1, float* out);

// A PackedMatrix running straight from `e` (fused kernels) for q8_0, q4_0 and
// rbe fixed, which keeps `e`'s payload alive; for f16 and f32, a dense
// PackedMatrix with a copy of the payload, and for rbe entropy, the decoded
// matrix as f16 (codec/dense_packed.h), which need `e` no more.
std::shared_ptr<nn::PackedMatrix> make_packed(std::shared_ptr<const EncodedTensor> e);

}  // namespace rbe::codec
