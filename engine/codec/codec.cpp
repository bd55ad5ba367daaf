// The codec's common pieces (grades, transform names, settings and metadata
// JSON) and the dispatch of encode / decode / make_packed by form.
#include "codec/codec.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "codec/dense_packed.h"
#include "codec/fixed_rate.h"
#include "codec/metrics.h"
#include "codec/rbe_entropy.h"
#include "io/json_integer.h"
#include "io/mapped_file.h"
#include "tensor/dtype.h"

namespace rbe::codec {

// ---------------------------------------------------------------- grades

namespace {
// Relative RMSE bounds, a geometric-ish ladder from 0.5% to 35% (docs/format.md).
constexpr double kGradeBounds[kGradeCount] = {0.005, 0.01, 0.02, 0.04, 0.07, 0.12, 0.20, 0.35};
constexpr const char* kGradeNames[kGradeCount] = {"S+", "S", "A+", "A", "B+", "B", "C+", "C"};
constexpr const char* kTransformNames[4] = {"adaptive", "dct", "haar", "cdf97"};
}  // namespace

const char* grade_name(QualityGrade g) {
  const int i = int(g);
  return i >= 0 && i < kGradeCount ? kGradeNames[i] : "?";
}

std::optional<QualityGrade> parse_grade(const std::string& s) {
  for (int i = 0; i < kGradeCount; ++i)
    if (s == kGradeNames[i]) return QualityGrade(i);
  return std::nullopt;
}

double grade_bound(QualityGrade g) {
  const int i = int(g);
  return i >= 0 && i < kGradeCount ? kGradeBounds[i] : kGradeBounds[kGradeCount - 1];
}

QualityGrade grade_for(double rel_rmse) {
  for (int i = 0; i < kGradeCount; ++i)
    if (rel_rmse <= kGradeBounds[i]) return QualityGrade(i);
  return QualityGrade::C;  // C also stands for "anything worse"
}

const char* transform_name(Transform t) {
  const int i = int(t);
  return i >= 0 && i < 4 ? kTransformNames[i] : "?";
}

std::optional<Transform> parse_transform(const std::string& s) {
  for (int i = 0; i < 4; ++i)
    if (s == kTransformNames[i]) return Transform(i);
  return std::nullopt;
}

// ---------------------------------------------------------------- JSON

nlohmann::json CodecSettings::to_json() const {
  nlohmann::json j = {{"codec", codec},
                      {"storage", storage == Storage::Entropy ? "entropy" : "fixed"},
                      {"block_size", block_size},
                      {"transform", transform_name(transform)},
                      {"seed", seed}};
  j["grade"] = grade ? nlohmann::json(grade_name(*grade)) : nlohmann::json(nullptr);
  j["bpw"] = bpw ? nlohmann::json(*bpw) : nlohmann::json(nullptr);
  if (min_block_size > 0) j["min_block_size"] = min_block_size;  // absent = no splitting (older files)
  return j;
}

CodecSettings CodecSettings::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::runtime_error("codec settings: expected a JSON object");
  CodecSettings s;
  try {
    s.codec = j.value("codec", s.codec);
    if (s.codec != "rbe" && s.codec != "q8_0" && s.codec != "q4_0" && s.codec != "f16" && s.codec != "f32")
      throw std::runtime_error("codec settings: unknown codec '" + s.codec + "' (rbe, q8_0, q4_0, f16, f32)");
    const std::string storage = j.value("storage", std::string("fixed"));
    if (storage == "fixed") s.storage = Storage::Fixed;
    else if (storage == "entropy") s.storage = Storage::Entropy;
    else throw std::runtime_error("codec settings: unknown storage '" + storage + "' (fixed, entropy)");
    if (j.contains("grade") && !j["grade"].is_null()) {
      const std::string g = j["grade"].get<std::string>();
      s.grade = parse_grade(g);
      if (!s.grade) throw std::runtime_error("codec settings: unknown grade '" + g + "' (S+ S A+ A B+ B C+ C)");
    }
    if (j.contains("bpw") && !j["bpw"].is_null()) {
      s.bpw = j["bpw"].get<double>();
      if (!(*s.bpw > 0) || !std::isfinite(*s.bpw)) throw std::runtime_error("codec settings: bpw must be > 0");
    }
    using E = std::runtime_error;
    s.block_size = json_integer_or<int, E>(j, "block_size", s.block_size, "codec settings: block_size");
    if (s.block_size < 1 || s.block_size > 4096)
      throw std::runtime_error("codec settings: block_size must be in [1, 4096], got " + std::to_string(s.block_size));
    s.min_block_size = json_integer_or<int, E>(j, "min_block_size", 0, "codec settings: min_block_size");
    try {
      check_min_block_size(s.block_size, s.min_block_size);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("codec settings: ") + e.what());
    }
    const std::string t = j.value("transform", std::string("adaptive"));
    const auto tr = parse_transform(t);
    if (!tr) throw std::runtime_error("codec settings: unknown transform '" + t + "' (adaptive, dct, haar, cdf97)");
    s.transform = *tr;
    s.seed = json_integer_or<uint64_t, E>(j, "seed", s.seed, "codec settings: seed");
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("codec settings: ") + e.what());
  }
  return s;
}

nlohmann::json CompressionMetadata::to_json() const {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"block_size", block_size},          {"weights", weights},       {"bytes", bytes},
          {"bits_per_weight", num(bits_per_weight)}, {"rmse", num(rmse)}, {"rel_rmse", num(rel_rmse)},
          {"snr_db", num(snr_db)},             {"encode_seconds", encode_seconds},
          {"coefficient_count", coefficient_count}};
}

void EncodedTensor::set_owned(std::vector<uint8_t> bytes) {
  owned = std::move(bytes);
  data = owned.data();
  size = int64_t(owned.size());
  keepalive.reset();
}

// ---------------------------------------------------------------- dense forms

namespace {

bool is_dense(const std::string& c) { return c == "f16" || c == "f32"; }
bool is_fixed(const EncodedTensor& e) {
  return e.codec == "q8_0" || e.codec == "q4_0" || (e.codec == "rbe" && e.storage == Storage::Fixed);
}

EncodedTensor encode_dense(const Tensor& W, const CodecSettings& s, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const Tensor Wc = W.to(DType::F32).contiguous();
  const int64_t rows = Wc.shape()[0], cols = Wc.shape()[1], n = rows * cols;
  const float* w = Wc.data<float>();
  const bool half = s.codec == "f16";
  std::vector<uint8_t> bytes(size_t(n) * (half ? 2 : 4));
  if (half)
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = f32_to_f16(w[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  else
    std::memcpy(bytes.data(), w, bytes.size());
  EncodedTensor e;
  e.codec = s.codec;
  e.storage = Storage::Fixed;
  e.rows = rows, e.cols = cols;
  e.params = nlohmann::json::object();
  e.set_owned(std::move(bytes));
  std::vector<float> dec(static_cast<size_t>(n));
  decode_rows(e, 0, rows, dec.data());
  CompressionMetadata& m = e.meta;
  m.block_size = 0;
  m.weights = n;
  m.bytes = e.size;
  m.bits_per_weight = 8.0 * double(e.size) / double(n);
  m.rmse = rmse(w, dec.data(), n);
  m.rel_rmse = rel_rmse(w, dec.data(), n);
  m.snr_db = snr_db(w, dec.data(), n);
  m.coefficient_count = n;
  // One block stat for the whole matrix (the dense forms have no blocks).
  BlockStats st;
  st.rows = int32_t(rows), st.cols = int32_t(cols);
  st.rmse = float(m.rmse), st.rel_rmse = float(m.rel_rmse), st.grade = grade_for(m.rel_rmse);
  st.bits = float(8.0 * double(e.size));
  e.blocks.push_back(st);
  m.encode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (progress) progress(1.0, s.codec);
  return e;
}

void decode_dense_rows(const EncodedTensor& e, int64_t r0, int64_t r1, float* out) {
  const bool half = e.codec == "f16";
  const int64_t need = e.rows * e.cols * (half ? 2 : 4);
  if (!e.data || e.size != need)
    throw std::runtime_error(e.codec + " payload: expected " + std::to_string(need) + " bytes, got " + std::to_string(e.size));
  const int64_t a = r0 * e.cols, b = r1 * e.cols;
  if (half)
    for (int64_t i = a; i < b; ++i) {
      uint16_t h;
      std::memcpy(&h, e.data + 2 * i, 2);
      out[i - a] = f16_to_f32(h);
    }
  else
    std::memcpy(out, e.data + 4 * a, size_t(b - a) * 4);
}

void check_shape(const Tensor& W) {
  if (!W.defined()) throw std::invalid_argument("encode: the tensor is undefined");
  if (W.shape().size() != 2) throw std::invalid_argument("encode: expected a 2-D matrix");
  if (W.shape()[0] <= 0 || W.shape()[1] <= 0) throw std::invalid_argument("encode: the matrix is empty");
  if (W.dtype() == DType::I32 || W.dtype() == DType::Bool)
    throw std::invalid_argument(std::string("encode: expected floating point weights, got ") + dtype_name(W.dtype()));
}

}  // namespace

// ---------------------------------------------------------------- dispatch

EncodedTensor encode(const Tensor& W, const CodecSettings& s, const ProgressFn& progress, const CancelFn& cancel,
                     const Tensor& hessian) {
  check_shape(W);
  if (is_dense(s.codec)) return encode_dense(W, s, progress);
  if (s.codec == "q8_0" || s.codec == "q4_0" || (s.codec == "rbe" && s.storage == Storage::Fixed))
    return encode_fixed(W, s, progress, cancel, hessian);
  if (s.codec == "rbe" && s.storage == Storage::Entropy) return encode_rbe_entropy(W, s, progress, cancel);
  throw std::invalid_argument("encode: unknown codec '" + s.codec + "' (rbe, q8_0, q4_0, f16, f32)");
}

void decode_rows(const EncodedTensor& e, int64_t r0, int64_t r1, float* out) {
  if (r0 < 0 || r1 > e.rows || r0 > r1)
    throw std::out_of_range("decode_rows: rows [" + std::to_string(r0) + ", " + std::to_string(r1) +
                            ") outside [0, " + std::to_string(e.rows) + ")");
  if (is_dense(e.codec)) return decode_dense_rows(e, r0, r1, out);
  if (is_fixed(e)) return decode_fixed_rows(e, r0, r1, out);
  if (e.codec == "rbe" && e.storage == Storage::Entropy) return decode_rbe_entropy_rows(e, r0, r1, out);
  throw std::runtime_error("decode: unknown codec '" + e.codec + "'");
}

Tensor decode(const EncodedTensor& e) {
  if (e.rows <= 0 || e.cols <= 0) throw std::runtime_error("decode: bad shape");
  Tensor out = Tensor::empty({e.rows, e.cols});
  if (e.codec == "rbe" && e.storage == Storage::Entropy) decode_rbe_entropy(e, out.data<float>());
  else decode_rows(e, 0, e.rows, out.data<float>());
  return out;
}

std::shared_ptr<nn::PackedMatrix> make_packed(std::shared_ptr<const EncodedTensor> e) {
  if (!e) throw std::invalid_argument("make_packed: null encoding");
  if (is_fixed(*e)) return make_packed_fixed(std::move(e));
  if (e->rows <= 0 || e->cols <= 0) throw std::runtime_error("make_packed: bad shape");
  Tensor w;
  if (is_dense(e->codec)) {  // the payload is the matrix: copied as it is, nothing converted
    const DType dtype = e->codec == "f16" ? DType::F16 : DType::F32;
    const int64_t need = e->rows * e->cols * int64_t(dtype_size(dtype));
    if (!e->data || e->size != need)
      throw std::runtime_error(e->codec + " payload: expected " + std::to_string(need) + " bytes, got " +
                               std::to_string(e->size));
    w = Tensor::empty({e->rows, e->cols}, dtype);
    std::memcpy(w.raw_data(), e->data, size_t(need));
  } else {
    w = decode(*e).to(DType::F16);  // rbe entropy: decoded once, kept as f16 (its error is far above f16's)
  }
  // A payload in a file's mapping (EncodedTensor::keepalive) is not read
  // again for inference: give its pages back, so that the file's and the
  // copy's do not add up while a model loads.
  if (e->keepalive && e->owned.empty()) io::release_pages(e->data, uint64_t(e->size));
  return std::make_shared<DensePacked>(std::move(w), is_dense(e->codec) ? e->codec : "rbe-entropy");
}

}  // namespace rbe::codec
