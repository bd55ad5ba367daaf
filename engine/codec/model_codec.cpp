#include "codec/model_codec.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "autodiff/node.h"
#include "codec/calibration.h"
#include "codec/glob.h"
#include "codec/model_order.h"
#include "codec/rbe_file.h"
#include "codec/rbe_file_layout.h"
#include "io/gguf_import.h"
#include "models/tokenizer_json.h"
#include "nn/layers.h"

namespace rbe::codec {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const TensorOverride* override_for(const std::string& name, const ModelCodecOptions& opt) {
  for (const TensorOverride& o : opt.overrides)
    if (glob_match(o.pattern, name)) return &o;
  return nullptr;
}

// Matrices are encoded; the position table only when an override names it
// (it is small and sensitive), everything else is kept raw.
bool should_encode(const std::string& name, const Tensor& t, const ModelCodecOptions& opt) {
  if (t.dim() != 2) return false;
  return name != "wpe.weight" || override_for(name, opt) != nullptr;
}

// Packed weights of the source model by parameter name: a model loaded from a
// .rbe file has no dense data behind them.
std::map<std::string, const nn::PackedMatrix*> packed_weights(const GPT2Model& model) {
  std::map<std::string, const nn::PackedMatrix*> out;
  for (auto& [name, m] : model.named_modules()) {
    const nn::PackedMatrix* p = nullptr;
    if (auto* lin = dynamic_cast<const nn::Linear*>(m.get())) p = lin->packed().get();
    else if (auto* emb = dynamic_cast<const nn::Embedding*>(m.get())) p = emb->packed().get();
    if (p) out[name + ".weight"] = p;
  }
  return out;
}

Tensor dense_f32(const Tensor& param, const nn::PackedMatrix* packed) {
  if (!packed) return param.to(DType::F32).contiguous();
  Tensor w = Tensor::empty({packed->rows(), packed->cols()});
  packed->decode_rows(0, packed->rows(), w.data<float>());
  return w;
}

// "h.3.attn.c_attn.weight" -> 3; -1 when not in a block.
int64_t block_of(const std::string& name) {
  if (name.rfind("h.", 0) != 0) return -1;
  const size_t dot = name.find('.', 2);
  try {
    return std::stoll(name.substr(2, dot - 2));
  } catch (const std::exception&) {
    return -1;
  }
}

json settings_json(const ModelCodecOptions& opt, int64_t calib_tokens) {
  json overrides = json::array();
  for (const TensorOverride& o : opt.overrides)
    overrides.push_back({{"pattern", o.pattern}, {"settings", o.settings.to_json()}});
  json calib = nullptr;
  if (calib_tokens > 0) calib = {{"tokens", calib_tokens}, {"hessian", "X^T X / tokens, inputs of each Linear"}};
  return {{"defaults", opt.defaults.to_json()}, {"overrides", overrides}, {"calibration", calib}};
}

json grade_histogram(const std::vector<BlockStats>& blocks) {
  int64_t n[kGradeCount] = {};
  for (const BlockStats& b : blocks)
    if (int(b.grade) < kGradeCount) ++n[int(b.grade)];
  json h = json::object();
  for (int g = 0; g < kGradeCount; ++g) h[grade_name(QualityGrade(g))] = n[g];
  return h;
}

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// A GGUF Q8_0 / Q4_0 matrix is our q8_0 / q4_0 payload byte for byte: run it
// packed, straight from the file's mapping.
std::shared_ptr<const nn::PackedMatrix> pack_gguf_matrix(const GgufQuantizedMatrix& q) {
  auto e = std::make_shared<EncodedTensor>();
  e->codec = q.type == gguf::GgmlType::Q8_0 ? "q8_0" : "q4_0";
  e->storage = Storage::Fixed;
  e->rows = q.rows, e->cols = q.cols;
  e->params = {{"group", 32}, {"bits", q.type == gguf::GgmlType::Q8_0 ? 8 : 4}, {"sub_block", 32}, {"source", "gguf"}};
  e->data = q.data;
  e->size = int64_t(q.size);
  e->keepalive = q.keepalive;
  e->meta.weights = q.rows * q.cols;
  e->meta.bytes = e->size;
  e->meta.bits_per_weight = 8.0 * double(e->size) / double(e->meta.weights);
  return make_packed(std::move(e));
}

}  // namespace

namespace {

// A parameter's values dropped: an empty [0] tensor from here on (its module
// is not to be run again).
void free_values(const Tensor& param) {
  TensorImpl* impl = param.impl();
  impl->storage = rbe::Storage::allocate(0);
  impl->shape = {0};
  impl->strides = {1};
  impl->offset = 0;
}

CompressedModel compress(const LoadedModel& m, const ModelCodecOptions& opt, const ProgressFn& progress,
                         const CancelFn& cancel, bool release) {
  if (!m.model) throw std::runtime_error("compress_model: no model");
  GPT2Model& model = *m.model;
  auto check_cancel = [&] {
    if (cancel && cancel()) throw Cancelled();
  };
  const auto params = model.named_parameters();
  const auto packed = packed_weights(model);

  // Work order: model order, except that with calibration the head's matrix
  // (the tied wte, or lm_head) waits for the head's statistics at the end.
  const bool calibrate = !opt.calib_text.empty();
  const std::string head_name = m.config.tie_word_embeddings ? "wte.weight" : "lm_head.weight";
  std::vector<size_t> order;
  int64_t total = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!should_encode(params[i].first, params[i].second, opt)) continue;
    total += params[i].second.numel();
    if (!(calibrate && params[i].first == head_name)) order.push_back(i);
  }
  for (size_t i = 0; i < params.size(); ++i)
    if (calibrate && params[i].first == head_name && should_encode(params[i].first, params[i].second, opt))
      order.push_back(i);

  std::optional<Calibrator> calib;
  if (calibrate) {
    if (!m.tokenizer) throw std::runtime_error("calibration needs the model's tokenizer, and this model has none");
    calib.emplace(model, *m.tokenizer, opt.calib_text, opt.calib_tokens, cancel);
  }

  std::map<std::string, std::shared_ptr<const EncodedTensor>> done;
  std::map<std::string, Tensor> hessians;
  int64_t hessian_block = -1;
  int64_t weights_done = 0;
  for (size_t i : order) {
    check_cancel();
    const auto& [name, param] = params[i];
    const TensorOverride* o = override_for(name, opt);
    const CodecSettings& s = o ? o->settings : opt.defaults;
    Tensor H;
    if (calib) {
      const int64_t b = block_of(name);
      if (b >= 0 && b != hessian_block) {
        hessians.clear();  // one block's statistics at a time
        hessians = calib->block_hessians(b);
        hessian_block = b;
      }
      if (name == head_name) H = calib->head_hessian();
      else if (auto it = hessians.find(name); it != hessians.end()) H = it->second;
    }
    auto it = packed.find(name);
    Tensor W = dense_f32(param, it == packed.end() ? nullptr : it->second);
    const int64_t n = W.numel();
    ProgressFn inner;
    if (progress)
      inner = [&, n, &name = name](double f, const std::string&) {  // a structured binding, captured by name
        progress(total ? (double(weights_done) + f * double(n)) / double(total) : 1.0, name);
      };
    if (progress) progress(total ? double(weights_done) / double(total) : 0.0, name);
    EncodedTensor e = encode(W, s, inner, cancel, H);
    done[name] = std::make_shared<const EncodedTensor>(std::move(e));
    weights_done += n;
    W = Tensor();
    if (release && !calib && it == packed.end()) free_values(param);
  }
  check_cancel();

  CompressedModel cm;
  cm.config = m.config;
  cm.tokenizer = tokenizer_to_json(m.tokenizer.get());
  cm.settings = settings_json(opt, calib ? calib->tokens() : 0);
  for (const auto& [name, param] : params) {
    if (auto it = done.find(name); it != done.end()) cm.encoded.emplace_back(name, it->second);
    else cm.raw.emplace_back(name, param.to(DType::F32).clone());
  }
  if (progress) progress(1.0, "done");
  return cm;
}

}  // namespace

CompressedModel compress_model(const LoadedModel& m, const ModelCodecOptions& opt, const ProgressFn& progress,
                               const CancelFn& cancel) {
  return compress(m, opt, progress, cancel, false);
}

CompressedModel compress_model(LoadedModel&& m, const ModelCodecOptions& opt, const ProgressFn& progress,
                               const CancelFn& cancel) {
  return compress(m, opt, progress, cancel, true);
}

json CompressedModel::report() const {
  const RbeFileSizes sizes = rbe_file_sizes(*this);
  json tensors = json::array();
  int64_t all_weights = 0, enc_weights = 0, enc_bytes = 0, raw_weights = 0, raw_bytes = 0;
  double err2 = 0, sig2 = 0;
  for (const TensorEntry& en : ordered_entries(*this)) {
    json t;
    t["name"] = en.name;
    if (en.encoded) {
      const EncodedTensor& e = *en.encoded;
      const int64_t w = e.rows * e.cols;
      t["shape"] = {e.rows, e.cols};
      t["codec"] = e.codec;
      t["storage"] = e.storage == Storage::Entropy ? "entropy" : "fixed";
      t["weights"] = w;
      t["bytes"] = e.size;
      t["bits_per_weight"] = 8.0 * double(e.size) / double(w);
      t["rmse"] = finite_or_null(e.meta.rmse);
      t["rel_rmse"] = finite_or_null(e.meta.rel_rmse);
      t["snr_db"] = finite_or_null(e.meta.snr_db);
      t["grade_histogram"] = grade_histogram(e.blocks);
      t["encode_seconds"] = finite_or_null(e.meta.encode_seconds);
      all_weights += w, enc_weights += w, enc_bytes += e.size;
      // Sums of squares back from rmse and rel_rmse, for the model-wide figures.
      if (std::isfinite(e.meta.rmse)) err2 += e.meta.rmse * e.meta.rmse * double(w);
      if (e.meta.rel_rmse > 0 && std::isfinite(e.meta.rel_rmse))
        sig2 += std::pow(e.meta.rmse / e.meta.rel_rmse, 2) * double(w);
    } else {
      const int64_t w = en.raw->numel();
      t["shape"] = en.raw->shape();
      t["codec"] = "f32";
      t["storage"] = "raw";
      t["weights"] = w;
      t["bytes"] = w * 4;
      t["bits_per_weight"] = 32.0;
      t["rmse"] = 0.0;
      t["rel_rmse"] = 0.0;
      t["snr_db"] = nullptr;  // lossless
      t["grade_histogram"] = grade_histogram({});
      all_weights += w, raw_weights += w, raw_bytes += w * 4;
    }
    tensors.push_back(std::move(t));
  }
  json enc = {{"weights", enc_weights},
              {"bytes", enc_bytes},
              {"bits_per_weight", enc_weights ? 8.0 * double(enc_bytes) / double(enc_weights) : 0.0},
              {"rel_rmse", sig2 > 0 ? json(std::sqrt(err2 / sig2)) : json(nullptr)},
              {"snr_db", err2 > 0 && sig2 > 0 ? json(10 * std::log10(sig2 / err2)) : json(nullptr)}};
  json totals = {{"weights", all_weights},
                 {"bytes", sizes.file_bytes},
                 {"bits_per_weight", all_weights ? 8.0 * double(sizes.file_bytes) / double(all_weights) : 0.0},
                 {"encoded", enc},
                 {"raw", {{"weights", raw_weights}, {"bytes", raw_bytes}}},
                 {"header_bytes", sizes.header_bytes},
                 {"block_stats_bytes", sizes.block_stats_bytes},
                 {"padding_bytes", sizes.padding_bytes}};
  return {{"tensors", std::move(tensors)}, {"totals", std::move(totals)}, {"settings", settings}};
}

LoadedModel instantiate(const CompressedModel& cm) {
  LoadedModel out;
  out.config = cm.config;
  out.format = "rbe";
  // Every parameter is set below (or never read: packed layers).
  double stored = 0;
  for (const auto& [name, e] : cm.encoded) stored += double(e->rows) * double(e->cols);
  for (const auto& [name, t] : cm.raw) stored += double(t.numel());
  out.model = GPT2Model::for_loading(cm.config, "instantiate", {}, stored);
  std::map<std::string, Tensor> params;
  for (auto& [name, t] : out.model->named_parameters()) params[name] = t;
  std::map<std::string, std::shared_ptr<nn::Module>> modules;
  for (auto& [name, m] : out.model->named_modules()) modules[name] = m;

  std::map<std::string, bool> filled;
  auto target = [&](const std::string& name, const Shape& shape) -> Tensor& {
    auto it = params.find(name);
    if (it == params.end()) throw std::runtime_error("instantiate: the model has no parameter " + name);
    if (it->second.shape() != shape)
      throw std::runtime_error("instantiate: " + name + " is " + shape_str(shape) + " but the model expects " +
                               shape_str(it->second.shape()));
    if (filled[name]) throw std::runtime_error("instantiate: " + name + " is given twice");
    filled[name] = true;
    return it->second;
  };
  for (auto& [name, raw] : cm.raw) {
    Tensor& p = target(name, raw.shape());
    Tensor src = raw.to(DType::F32).contiguous();
    std::memcpy(p.data<float>(), src.data<float>(), size_t(src.numel()) * 4);
  }
  for (auto& [name, e] : cm.encoded) {
    Tensor& p = target(name, {e->rows, e->cols});
    const std::string module = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0
                                   ? name.substr(0, name.size() - 7)
                                   : std::string();
    auto mit = modules.find(module);
    nn::Module* mod = mit == modules.end() ? nullptr : mit->second.get();
    if (auto* lin = dynamic_cast<nn::Linear*>(mod)) {
      lin->set_packed(make_packed(e));
    } else if (auto* emb = dynamic_cast<nn::Embedding*>(mod); emb && module == "wte") {
      emb->set_packed(make_packed(e));  // lookups and the tied head run from it
    } else {
      Tensor d = decode(*e);  // no packed path for this tensor (e.g. wpe): dense
      std::memcpy(p.data<float>(), d.data<float>(), size_t(d.numel()) * 4);
    }
  }
  for (auto& [name, t] : params)
    if (!filled[name]) throw std::runtime_error("instantiate: no data for parameter " + name);
  out.tokenizer = tokenizer_from_json(cm.tokenizer);
  if (out.tokenizer && out.tokenizer->vocab_size() > cm.config.vocab_size)
    throw std::runtime_error("instantiate: the tokenizer has " + std::to_string(out.tokenizer->vocab_size()) +
                             " tokens but the model's vocabulary is " + std::to_string(cm.config.vocab_size));
  out.model->eval();
  return out;
}

LoadedModel load_any_model(const std::string& path, const MatrixStorage& matrices) {
  if (!fs::is_regular_file(path)) return load_model(path, matrices);
  LoadedModel m;
  if (looks_like_rbe_file(path) || fs::path(path).extension() == ".rbe") {
    CompressedModel cm = read_rbe_file(path);
    try {
      m = instantiate(cm);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
  } else {
    std::string ext = fs::path(path).extension().string();
    for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (ext != ".gguf") return load_model(path, matrices);
    GgufModel g = import_gguf(path, {pack_gguf_matrix, matrices});
    m.config = g.config;
    m.model = std::move(g.model);
    m.tokenizer = std::move(g.tokenizer);
    m.format = "gguf";
    m.model->eval();
  }
  // The dense matrices of an .rbe file (wpe, raw ones) were filled as f32; a
  // GGUF's already have their dtype (nothing left to cast). Packed layers stay packed.
  if (matrices.dtype != DType::F32) m.model->cast_matrices(matrices);
  return m;
}

}  // namespace rbe::codec
