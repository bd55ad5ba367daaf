// libFuzzer entry points over the file readers and the tokenizer, one
// executable per target (RBE_FUZZ_TARGET, set by tests/fuzz/CMakeLists.txt).
// A file's input is written to a file and opened the way the programs open
// it; every outcome must be a loaded model (or tensor set, or tokenizer) or a
// std::exception, never a crash, a sanitizer report, a hang or a runaway
// allocation. Run by tests/fuzz/run.sh.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autodiff/node.h"
#include "codec/model_codec.h"
#include "io/gguf.h"
#include "io/hf_gpt2.h"
#include "io/safetensors.h"
#include "models/gpt2_tokenizer.h"

#define RBE_FUZZ_SAFETENSORS 1
#define RBE_FUZZ_GGUF 2
#define RBE_FUZZ_RBE 3
#define RBE_FUZZ_CONFIG 4
#define RBE_FUZZ_GGUF_MODEL 5
#define RBE_FUZZ_TOKENIZER 6
#define RBE_FUZZ_SHARDED 7
#define RBE_FUZZ_ENCODE 8

namespace {

// A folder of this process's own for the input files, removed at exit.
const std::string& scratch_dir() {
  static const std::string* dir = [] {
    const char* shm = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    // Never destroyed: the exit handler below still reads it.
    auto* d = new std::string(std::string(shm) + "/rbe_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

std::string scratch(const std::string& name) { return scratch_dir() + "/" + name; }

// A folder named by an environment variable (run.sh sets them), or exit.
[[maybe_unused]] std::string folder_from_env(const char* var) {
  const char* dir = std::getenv(var);
  if (!dir || !std::filesystem::is_directory(dir)) {
    std::fprintf(stderr, "set %s to a folder (see tests/fuzz/run.sh)\n", var);
    std::exit(2);
  }
  return dir;
}

// A scratch copy of `files` from `src`, made once; the input then goes in beside them.
[[maybe_unused]] std::string scratch_copy(const std::string& src, const std::vector<std::string>& files) {
  const std::string d = scratch("model");
  std::filesystem::create_directories(d);
  for (const auto& f : files)
    std::filesystem::copy_file(src + "/" + f, d + "/" + f, std::filesystem::copy_options::overwrite_existing);
  return d;
}

[[maybe_unused]] void write(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
}

// Reads every byte of a tensor, so that a view past the mapping shows up.
volatile uint64_t g_sink;
[[maybe_unused]] void touch(const rbe::Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  uint64_t s = 0;
  for (size_t i = 0, n = size_t(t.numel()) * rbe::dtype_size(t.dtype()); i < n; ++i) s += p[i];
  g_sink = s;
}

// The model runs one short window: the decoders and kernels behind the
// loader see whatever the file held.
[[maybe_unused]] void run(rbe::LoadedModel& m) {
  rbe::NoGradGuard no_grad;
  const int64_t T = std::min<int64_t>(3, m.config.n_positions);
  const std::vector<int32_t> ids(size_t(T), 0);
  g_sink = uint64_t(m.model->forward(rbe::Tensor::from_vector(ids, {1, T})).to_vector()[0] != 0.f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
#if RBE_FUZZ_TARGET == RBE_FUZZ_SAFETENSORS
    const std::string p = scratch("input.safetensors");
    write(p, data, size);
    const auto f = rbe::safetensors::File::open(p);
    for (const auto& name : f.names()) touch(f.tensor(name));
#elif RBE_FUZZ_TARGET == RBE_FUZZ_GGUF
    const std::string p = scratch("input.gguf");
    write(p, data, size);
    const auto f = rbe::gguf::File::open(p);
    for (const auto& t : f.tensors()) touch(f.tensor(t.name));
#elif RBE_FUZZ_TARGET == RBE_FUZZ_GGUF_MODEL
    // A GPT-2 from GGUF as the programs open it (metadata to config and
    // tokenizer, Q8_0 / Q4_0 matrices packed), then run.
    const std::string p = scratch("input.gguf");
    write(p, data, size);
    rbe::LoadedModel m = rbe::codec::load_any_model(p);
    run(m);
#elif RBE_FUZZ_TARGET == RBE_FUZZ_RBE
    const std::string p = scratch("input.rbe");
    write(p, data, size);
    rbe::LoadedModel m = rbe::codec::load_any_model(p);
    run(m);
#elif RBE_FUZZ_TARGET == RBE_FUZZ_CONFIG
    // A checkpoint folder whose config.json is the input; its weights and
    // tokenizer come from RBE_FUZZ_MODEL (run.sh: the seeds' checkpoint).
    static const std::string dir =
        scratch_copy(folder_from_env("RBE_FUZZ_MODEL"), {"model.safetensors", "tokenizer.json"});
    write(dir + "/config.json", data, size);
    rbe::LoadedModel m = rbe::codec::load_any_model(dir);
    run(m);
#elif RBE_FUZZ_TARGET == RBE_FUZZ_TOKENIZER
    // vocab.json and merges.txt, split at the input's first NUL byte; a
    // tokenizer built from them encodes and decodes a fixed text.
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t cut = in.find('\0');
    if (cut == std::string_view::npos) return 0;
    const rbe::GPT2Tokenizer tok = rbe::GPT2Tokenizer::from_strings(in.substr(0, cut), in.substr(cut + 1));
    const std::string text = "Hello, t\xc3\xa9st <|endoftext|> 12 \xff\xfe!";
    const std::vector<int32_t> ids = tok.encode(text);
    if (tok.decode(ids) != text) __builtin_trap();  // every byte is in the vocabulary, so decoding must give it back
#elif RBE_FUZZ_TARGET == RBE_FUZZ_SHARDED
    // An HF folder whose model.safetensors.index.json is the input; config,
    // shards and tokenizer come from RBE_FUZZ_SHARDED_MODEL (run.sh: the
    // seeds' sharded HF folder).
    static const std::string dir = [] {
      const std::string src = folder_from_env("RBE_FUZZ_SHARDED_MODEL");
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(src))
        if (e.path().filename() != "model.safetensors.index.json") files.push_back(e.path().filename().string());
      return scratch_copy(src, files);
    }();
    write(dir + "/model.safetensors.index.json", data, size);
    rbe::LoadedModel m = rbe::codec::load_any_model(dir);
    run(m);
#elif RBE_FUZZ_TARGET == RBE_FUZZ_ENCODE
    // Any bytes (what rbe-infer --tokenize reads on stdin) through the GPT-2
    // tokenizer of RBE_FUZZ_TOKENIZER_DIR (vocab.json + merges.txt, or
    // encoder.json + vocab.bpe): every id in the vocabulary, and decoding
    // gives the bytes back.
    static const rbe::GPT2Tokenizer tok = [] {
      const auto files = rbe::hf::read_tokenizer_files(folder_from_env("RBE_FUZZ_TOKENIZER_DIR"));
      return rbe::GPT2Tokenizer::from_strings(files.vocab_json, files.merges_txt);
    }();
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::vector<int32_t> ids = tok.encode(text);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    if (tok.decode(ids) != text) __builtin_trap();
#else
#error "RBE_FUZZ_TARGET: 1 safetensors, 2 gguf, 3 rbe, 4 config, 5 gguf_model, 6 tokenizer, 7 sharded, 8 encode"
#endif
  } catch (const std::exception&) {
    // The clear error every bad input must get (its text is checked by the unit tests).
  }
  return 0;
}
