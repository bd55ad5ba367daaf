// rbe-convert: converts a model (our checkpoint or a HuggingFace GPT-2 folder,
// anything io/model_loader.h opens, or a gpt2 .gguf file) to another format.
//
//   rbe-convert --model IN --to hf   --out DIR  [--dtype f32|f16|bf16]
//   rbe-convert --model IN --to rbe  --out DIR  [--dtype f32|f16|bf16]
//   rbe-convert --model IN --to gguf --out FILE [--dtype f32|f16|q8_0|q4_0]
//   rbe-convert --model IN --out FILE.rbe [--codec rbe|q8_0|q4_0|f16|f32] [--storage fixed|entropy]
//               [--grade G | --bpw B] [--block-size N] [--min-block-size N] [--transform dct|haar|cdf97|adaptive]
//               [--override 'PATTERN=key:value,...' ...] [--calib FILE [--calib-tokens N]] [--report FILE.json]
//
// IN may also be a compressed .rbe file: --to hf|rbe|gguf decompress it.
//
// hf:   a HuggingFace GPT-2 folder (Conv1D [in, out] weights, HF config.json,
//       vocab.json + merges.txt) that transformers loads. HF has no character
//       tokenizer, so char-tokenizer models are written as --to rbe instead
//       (with a note on stderr).
// rbe:  our checkpoint layout (docs/formats.md): [out, in] weights, our
//       config.json, tokenizer.json or vocab.json + merges.txt.
// gguf: a llama.cpp GGUF file, architecture gpt2 (docs/formats.md, "GGUF").
//       q8_0 / q4_0: the matrices as ggml's Q8_0 / Q4_0 blocks (our codec's
//       q8_0 / q4_0 payloads); a matrix IN already stores in that form (.rbe
//       or .gguf) is copied byte for byte, any other is encoded.
// .rbe: a compressed model file (codec/rbe_file.h, docs/format.md): every
//       matrix encoded with the codec settings (the first matching --override,
//       else the defaults), norms, biases and positions raw; the quality report
//       table goes to stdout, --report writes it as JSON. Chosen when --out ends
//       in .rbe or any codec option is given.
// Training state is left behind. Every file is written under a temporary
// name and renamed. Progress and the summary go to stderr.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "codec/densify.h"
#include "codec/model_codec.h"
#include "codec/rbe_file.h"
#include "codec/report_table.h"
#include "codec/settings_spec.h"
#include "tensor/atomic_file.h"
#include "io/gguf.h"
#include "io/gguf_export.h"
#include "io/gguf_import.h"
#include "io/hf_gpt2.h"
#include "io/model_loader.h"
#include "io/safetensors.h"
#include "models/char_tokenizer.h"
#include "models/gpt2_tokenizer.h"

#include <nlohmann/json.hpp>

using namespace rbe;
namespace fs = std::filesystem;

namespace {

std::string join(const std::string& dir, const char* name) { return (fs::path(dir) / name).string(); }

std::string mb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / 1e6);
  return buf;
}

uint64_t folder_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

// vocab.json + merges.txt: copied from a folder, rebuilt from the tokenizer for a GGUF or .rbe input.
hf::TokenizerFiles tokenizer_files(const LoadedModel& m, const std::string& in) {
  if (m.format == "hf" || m.format == "rbe-checkpoint") return hf::read_tokenizer_files(in);
  return hf::tokenizer_files(dynamic_cast<const GPT2Tokenizer&>(*m.tokenizer));
}

// Our checkpoint layout: weights by our names in the chosen dtype, config, tokenizer files.
void write_rbe(const LoadedModel& m, const std::string& in, const std::string& out, DType dtype) {
  fs::create_directories(out);
  safetensors::save(join(out, "model.safetensors"), m.model->named_parameters(), {{"format", "pt"}}, dtype);
  m.config.save(join(out, "config.json"));
  if (auto* ch = dynamic_cast<const CharTokenizer*>(m.tokenizer.get())) {
    ch->save(join(out, "tokenizer.json"));
  } else if (m.tokenizer) {
    hf::TokenizerFiles files = tokenizer_files(m, in);
    write_file_atomic(join(out, "vocab.json"), files.vocab_json);
    write_file_atomic(join(out, "merges.txt"), files.merges_txt);
  }
}

// HF's layout, weights in dtype (transformers reads F32/F16/BF16 safetensors).
void write_hf(const LoadedModel& m, const std::string& in, const std::string& out, DType dtype) {
  std::optional<hf::TokenizerFiles> files;
  if (m.tokenizer) files = tokenizer_files(m, in);
  hf::save(out, *m.model, files ? &*files : nullptr, 0, dtype);
}

struct CodecArgs {
  std::string codec = "rbe", storage = "fixed", grade, transform = "adaptive", calib, report;
  double bpw = 0;
  int block_size = 0, min_block_size = -1;  // -1: not given
  int64_t calib_tokens = 4096;
  std::vector<std::string> overrides;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Progress on stderr: a bar redrawn in place on a terminal (at most 10 times
// a second), else one line per tensor.
class CompressProgress {
 public:
  void operator()(double f, const std::string& what) {
    if (!tty_) {
      if (what != last_ && what != "done") std::fprintf(stderr, "  [%3d%%] %s\n", int(f * 100), what.c_str());
      last_ = what;
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (what == last_ && f < 1.0 && now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now, last_ = what;
    const int width = 30, done = int(f * width + 0.5);
    std::string bar(size_t(done), '=');
    if (done < width) bar += '>' + std::string(size_t(width - done - 1), ' ');
    std::fprintf(stderr, "\r  [%s] %3d%%  %-40.40s", bar.c_str(), int(f * 100), what.c_str());
    open_ = true;
  }
  void finish() {
    if (open_) std::fputc('\n', stderr);
    open_ = false;
  }

 private:
  bool tty_ = cli::stderr_is_tty(), open_ = false;
  std::string last_;
  std::chrono::steady_clock::time_point drawn_{};
};

// The GGUF exporter's Q8_0 / Q4_0 encoder: IN's own blocks for a matrix IN
// stores in that form (so the GGUF holds exactly them, GPTQ-rounded ones
// included), else codec::encode. copied / encoded count the two cases.
GgufQuantizeFn gguf_quantizer(const std::string& in, const LoadedModel& m, std::shared_ptr<int> copied,
                              std::shared_ptr<int> encoded) {
  auto stored = std::make_shared<std::map<std::string, std::shared_ptr<const codec::EncodedTensor>>>();
  std::shared_ptr<gguf::File> src;
  if (m.format == "rbe") {
    for (auto& [name, e] : codec::read_rbe_file(in).encoded) (*stored)[name] = e;
  } else if (m.format == "gguf") {
    src = std::make_shared<gguf::File>(gguf::File::open(in));
  }
  return [=](const std::string& param, const Tensor& W, gguf::GgmlType type) -> std::vector<uint8_t> {
    const std::string form = type == gguf::GgmlType::Q8_0 ? "q8_0" : "q4_0";
    if (auto it = stored->find(param); it != stored->end() && it->second->codec == form) {
      ++*copied;
      return {it->second->data, it->second->data + it->second->size};
    }
    if (src) {
      const std::string g = gguf_tensor_name(param);
      if (src->contains(g) && src->info(g).type == type) {
        const gguf::TensorBytes b = src->bytes(g);
        ++*copied;
        return {b.data, b.data + b.size};
      }
    }
    codec::CodecSettings s;
    s.codec = form;
    s.storage = codec::Storage::Fixed;
    const codec::EncodedTensor e = codec::encode(W, s);
    ++*encoded;
    return {e.data, e.data + e.size};
  };
}

int write_compressed(LoadedModel&& m, const codec::ModelCodecOptions& opt, const CodecArgs& a,
                     const std::string& out) {
  CompressProgress bar;
  std::cerr << "compressing (" << opt.defaults.to_json().dump() << (opt.overrides.empty() ? "" : ", overrides")
            << (opt.calib_text.empty() ? "" : ", calibrated") << ")\n";
  // The model is read for this alone: each matrix is freed once encoded.
  codec::CompressedModel cm =
      codec::compress_model(std::move(m), opt, [&](double f, const std::string& w) { bar(f, w); });
  bar.finish();
  std::cerr << "writing " << out << "\n";
  codec::write_rbe_file(out, cm);
  nlohmann::json report = cm.report();
  if (!a.report.empty()) write_file_atomic(a.report, report.dump(1) + "\n");
  std::cout << codec::report_table(report) << std::flush;
  const auto& tot = report.at("totals");
  char bpw[32];
  std::snprintf(bpw, sizeof bpw, "%.3f", tot.at("bits_per_weight").get<double>());
  std::cerr << "wrote " << out << " (" << (cm.encoded.size() + cm.raw.size()) << " tensors, "
            << mb(tot.at("bytes").get<uint64_t>()) << ", " << bpw << " bits/weight with everything counted)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Convert a model (RBE checkpoint, HuggingFace GPT-2 folder, .gguf or .rbe file) to HF, an RBE "
               "checkpoint, GGUF, or a compressed .rbe file."};
  std::string model, out, to, dtype_arg = "f32";
  CodecArgs ca;
  int threads = 0;
  app.add_option("--model", model, "Model to read: RBE checkpoint or HuggingFace GPT-2 folder, or a .gguf or .rbe file")
      ->required();
  app.add_option("--out", out, "Output folder (hf, rbe) or file (gguf, .rbe)")->required();
  auto* to_opt = app.add_option("--to", to,
                                "Output format: hf, rbe or gguf (default: a compressed .rbe file when --out ends in "
                                ".rbe or a codec option is given, else hf)")
                     ->check(CLI::IsMember({"hf", "rbe", "gguf"}));
  std::vector<CLI::Option*> codec_opts;
  codec_opts.push_back(app.add_option("--codec", ca.codec, "Codec of the matrices (.rbe output)")
                           ->check(CLI::IsMember({"rbe", "q8_0", "q4_0", "f16", "f32"}))
                           ->capture_default_str());
  codec_opts.push_back(app.add_option("--storage", ca.storage, "RBE storage: fixed (fused kernels) or entropy (smallest)")
                           ->check(CLI::IsMember({"fixed", "entropy"}))
                           ->capture_default_str());
  auto* grade_opt = app.add_option("--grade", ca.grade, "Quality target: every block meets this grade (S+ S A+ A B+ B C+ C)");
  auto* bpw_opt = app.add_option("--bpw", ca.bpw, "Bits per weight target for each matrix")->check(cli::positive());
  grade_opt->excludes(bpw_opt);
  codec_opts.push_back(grade_opt);
  codec_opts.push_back(bpw_opt);
  codec_opts.push_back(app.add_option("--block-size", ca.block_size, "Block edge in weights")->check(CLI::Range(1, 4096)));
  codec_opts.push_back(app.add_option("--min-block-size", ca.min_block_size,
                                      "RBE entropy: split blocks (quadtree) down to this edge where it pays; a power of "
                                      "two >= 8, block size / it a power of two (0: no splitting, the default)")
                           ->check(CLI::Range(0, 4096)));
  codec_opts.push_back(app.add_option("--transform", ca.transform, "RBE entropy residual transform")
                           ->check(CLI::IsMember({"adaptive", "dct", "haar", "cdf97"}))
                           ->capture_default_str());
  codec_opts.push_back(app.add_option("--override", ca.overrides,
                                      "Per-tensor settings, first match wins: 'PATTERN=key:value,...' with keys codec, "
                                      "storage, grade, bpw, block-size, min-block-size, transform, seed (e.g. "
                                      "'h.*.mlp.*=codec:q8_0'; "
                                      "repeatable)"));
  auto* calib_opt = app.add_option("--calib", ca.calib, "Calibration text: error-aware rounding with the layers' input "
                                                        "statistics");
  codec_opts.push_back(calib_opt);
  codec_opts.push_back(app.add_option("--calib-tokens", ca.calib_tokens, "Calibration tokens to use")
                           ->check(cli::positive())
                           ->capture_default_str()
                           ->needs(calib_opt));
  codec_opts.push_back(app.add_option("--report", ca.report, "Write the quality report as JSON to FILE"));
  app.add_option("--threads", threads, "Worker threads (0: all cores)")->capture_default_str()->check(cli::non_negative());
  app.add_option("--dtype", dtype_arg, "Storage dtype of the weights (hf, rbe: f32, f16, bf16; gguf: f32, f16, q8_0, q4_0)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  bool codec_given = false;
  for (auto* o : codec_opts) codec_given |= o->count() > 0;
  // A compressed .rbe file: asked for by name or by codec options.
  const bool compressed = (to.empty() || to == "rbe") && (ends_with(out, ".rbe") || codec_given);
  if (to.empty()) to = compressed ? "rbe" : "hf";
  if (codec_given && !compressed) {
    std::cerr << "rbe-convert: error: codec options (--codec, --bpw, --override, --calib, ...) apply only to .rbe "
                 "output, not --to "
              << to << "\n";
    return cli::kExitUsage;
  }
  codec::ModelCodecOptions copt;
  if (compressed) {
    try {
      std::string pairs = "codec:" + ca.codec + ",storage:" + ca.storage + ",transform:" + ca.transform;
      if (!ca.grade.empty()) pairs += ",grade:" + ca.grade;
      if (ca.block_size > 0) pairs += ",block-size:" + std::to_string(ca.block_size);
      if (ca.min_block_size >= 0) pairs += ",min-block-size:" + std::to_string(ca.min_block_size);
      copt.defaults = codec::parse_settings(pairs, codec::CodecSettings{});
      if (ca.bpw > 0) copt.defaults.bpw = ca.bpw;
      for (const std::string& o : ca.overrides) copt.overrides.push_back(codec::parse_override(o, copt.defaults));
    } catch (const std::invalid_argument& e) {
      std::cerr << "rbe-convert: error: " << e.what() << "\n";
      return cli::kExitUsage;
    }
    copt.calib_tokens = ca.calib_tokens;
  }
  (void)to_opt;
  if (to == "gguf" && dtype_arg == "bf16") {
    std::cerr << "rbe-convert: error: --dtype bf16 is not available with --to gguf (use f32, f16, q8_0 or q4_0)\n";
    return cli::kExitUsage;
  }
  const bool quantized_gguf = dtype_arg == "q8_0" || dtype_arg == "q4_0";
  if (quantized_gguf && to != "gguf") {
    std::cerr << "rbe-convert: error: --dtype " << dtype_arg << " is only for --to gguf (for a .rbe file use --codec "
              << dtype_arg << ")\n";
    return cli::kExitUsage;
  }

  return cli::run_main("rbe-convert", [&] {
    auto limit = cli::limit_threads(threads);
    const DType dtype = dtype_arg == "f16" ? DType::F16 : dtype_arg == "bf16" ? DType::BF16 : DType::F32;
    std::cerr << "reading " << model << "\n";
    // The writers store every weight in dtype, so for f16 the matrices are
    // read as f16: the same rounding, half the memory. A GGUF keeps its
    // position table f32, so that one is read f32; compression and quantized
    // GGUF start from f32.
    const bool read_f16 = !compressed && dtype == DType::F16;
    const MatrixStorage storage =
        read_f16 ? MatrixStorage(DType::F16, to == "gguf" ? gguf_f32_matrices() : std::vector<std::string>{})
                 : MatrixStorage(DType::F32);
    LoadedModel m = codec::load_any_model(model, storage);
    const ModelConfig& c = m.config;
    std::cerr << "  " << m.format << ": " << c.n_layer << " layers, " << c.n_embd << " dim, " << c.n_head
              << " heads, vocab " << c.vocab_size << ", context " << c.n_positions << ", "
              << m.model->parameter_count() << " parameters, tokenizer "
              << (m.tokenizer ? m.tokenizer->type() : std::string("none")) << "\n";

    if (compressed) {
      if (!ca.calib.empty()) copt.calib_text = cli::read_text_file(ca.calib);
      return write_compressed(std::move(m), copt, ca, out);
    }
    // Dense writers need dense weights: decompress a model loaded from a .rbe
    // file, into the dtype its other matrices were read in.
    if (int64_t n = codec::densify(*m.model, read_f16 ? DType::F16 : DType::F32))
      std::cerr << "  decompressed " << n << " matrices\n";

    if (to == "gguf") {
      GgufExportOptions opt;
      opt.dtype = dtype;
      auto copied = std::make_shared<int>(0), encoded = std::make_shared<int>(0);
      if (quantized_gguf) {
        opt.quant = dtype_arg == "q8_0" ? gguf::GgmlType::Q8_0 : gguf::GgmlType::Q4_0;
        opt.quantize = gguf_quantizer(model, m, copied, encoded);
      }
      opt.name = fs::path(model).lexically_normal().filename().string();
      if (opt.name.empty() || opt.name == ".") opt.name = fs::path(model).lexically_normal().parent_path().filename().string();
      if (opt.name.empty()) opt.name = "gpt2";
      std::cerr << "writing " << out << "\n";
      GgufExportReport r = export_gguf(out, *m.model, m.tokenizer.get(), opt);
      for (auto& w : r.warnings) std::cerr << "rbe-convert: warning: " << w << "\n";
      if (quantized_gguf)
        std::cerr << "  " << dtype_arg << " matrices: " << *copied << " copied from " << model << ", " << *encoded
                  << " encoded\n";
      std::cerr << "wrote " << out << " (GGUF v3, arch gpt2, " << r.tensors << " tensors, "
                << (quantized_gguf ? (dtype_arg == "q8_0" ? "Q8_0" : "Q4_0") : dtype_name(dtype)) << ", "
                << mb(r.file_bytes) << ")\n";
      return 0;
    }

    std::string layout = to;
    if (to == "hf" && dynamic_cast<const CharTokenizer*>(m.tokenizer.get())) {
      std::cerr << "rbe-convert: note: HuggingFace GPT-2 has no character tokenizer; writing the RBE checkpoint "
                   "layout (tokenizer.json kept), which rbe-infer and load_model read\n";
      layout = "rbe";
    }
    std::cerr << "writing " << out << "\n";
    if (layout == "hf")
      write_hf(m, model, out, dtype);
    else
      write_rbe(m, model, out, dtype);
    std::cerr << "wrote " << out << " (" << (layout == "hf" ? "HuggingFace" : "RBE checkpoint") << " layout, "
              << dtype_name(dtype) << ", " << mb(folder_bytes(out)) << ")\n";
    return 0;
  });
}
