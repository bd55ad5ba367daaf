// rbe-rd: rate-distortion of the codecs on an i.i.d. N(0, 1) matrix, against
// the Shannon bound D(R) = 2^-2R (SNR = 6.02 R dB), with the contribution of
// each part of the RBE entropy form measured in the same run.
//
//   rbe-rd --rows 1024 --cols 1024 --seed 1 --bpw 2,3,4,8 [--block-size 64] [--min-block-size 16] [--json FILE]
//
// Every rate is measured on the real payload (everything counted), every SNR
// on the real decode.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.h"
#include "codec/codec.h"
#include "codec/rbe_entropy.h"
#include "tensor/atomic_file.h"

using namespace rbe;
using namespace rbe::codec;

namespace {

struct Point {
  double bpw = 0, snr = 0, seconds = 0;
  bool ok = false;
  std::string error;
};

Point measure(const std::function<EncodedTensor()>& f) {
  Point p;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const EncodedTensor e = f();
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    p.bpw = e.meta.bits_per_weight, p.snr = e.meta.snr_db, p.ok = true;
  } catch (const std::exception& ex) {
    p.error = ex.what();
  }
  return p;
}

nlohmann::json to_json(const Point& p) {
  if (!p.ok) return {{"error", p.error}};
  return {{"bpw", p.bpw}, {"snr_db", p.snr}, {"gap_db", 6.0206 * p.bpw - p.snr}, {"seconds", p.seconds}};
}

std::string cell(const Point& p) {
  char buf[64];
  if (!p.ok) return "n/a";
  std::snprintf(buf, sizeof buf, "%6.2f (%4.2f)", p.snr, 6.0206 * p.bpw - p.snr);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rbe-rd: rate-distortion of the codecs on a Gaussian matrix, against the Shannon bound"};
  int64_t rows = 1024, cols = 1024;
  uint64_t seed = 1;
  std::vector<double> bpws = {2, 3, 4, 8};
  int block = 64, min_block = 0, threads = 0;
  std::string json_path;
  app.add_option("--rows", rows, "matrix rows")->check(CLI::Range(int64_t(1), int64_t(1) << 16));
  app.add_option("--cols", cols, "matrix columns")->check(CLI::Range(int64_t(1), int64_t(1) << 16));
  app.add_option("--seed", seed, "random seed of the matrix");
  app.add_option("--bpw", bpws, "bits per weight budgets, comma separated")->delimiter(',')->check(cli::positive());
  app.add_option("--block-size", block, "entropy-form block edge")->check(CLI::Range(4, 256));
  app.add_option("--min-block-size", min_block, "entropy-form quadtree: smallest block edge (0: no splitting)")
      ->check(CLI::Range(0, 256));
  app.add_option("--threads", threads, "threads (0: all cores)")->check(cli::non_negative());
  app.add_option("--json", json_path, "also write the results as JSON to FILE");
  if (int rc = cli::parse(app, argc, argv); rc >= 0) return rc;
  try {
    check_min_block_size(block, min_block);
  } catch (const std::invalid_argument& e) {
    std::cerr << "rbe-rd: error: " << e.what() << "\n";
    return cli::kExitUsage;
  }

  return cli::run_main("rbe-rd", [&] {
    auto limit = cli::limit_threads(threads);
    const Tensor W = Tensor::randn({rows, cols}, seed);
    CodecSettings base;
    base.codec = "rbe";
    base.storage = codec::Storage::Entropy;
    base.block_size = block;
    base.min_block_size = min_block;
    auto rbe = [&](double bpw, bool rotate, RbeEntropyOptions::Generator gen, bool tcq) {
      return measure([&] {
        CodecSettings s = base;
        s.bpw = bpw;
        RbeEntropyOptions o;
        o.rotate = rotate, o.generator = gen, o.tcq = tcq;
        return encode_rbe_entropy(W, s, {}, {}, o);
      });
    };
    using G = RbeEntropyOptions::Generator;
    nlohmann::json out = {{"rows", rows}, {"cols", cols}, {"seed", seed}, {"block_size", block}, {"min_block_size", min_block}, {"points", nlohmann::json::array()}};
    const std::string split = min_block > 0 && min_block < block ? ", split down to " + std::to_string(min_block) : "";
    std::printf("rbe-rd: %lld x %lld i.i.d. N(0,1), seed %llu, block %d%s. SNR dB (gap to 6.02*R at the measured R)\n",
                (long long)rows, (long long)cols, (unsigned long long)seed, block, split.c_str());
    std::printf("%-6s %-8s %-7s %-15s %-15s %-15s %-15s %-15s %s\n", "bpw", "bound", "R rbe", "rbe", "rbe-gen", "rbe-rot",
                "rbe+forced-gen", "ecsq", "enc s");
    for (double bpw : bpws) {
      const Point full = rbe(bpw, true, G::Auto, true);
      const Point nogen = rbe(bpw, true, G::Off, true);
      const Point norot = rbe(bpw, false, G::Auto, true);
      const Point forced = rbe(bpw, true, G::Force, true);
      const Point ecsq = rbe(bpw, false, G::Off, false);
      std::printf("%-6.2f %-8.2f %-7.3f %-15s %-15s %-15s %-15s %-15s %.2f\n", bpw, 6.0206 * bpw, full.ok ? full.bpw : 0.0,
                  cell(full).c_str(), cell(nogen).c_str(), cell(norot).c_str(), cell(forced).c_str(), cell(ecsq).c_str(),
                  full.seconds);
      out["points"].push_back({{"target_bpw", bpw},
                               {"bound_db", 6.0206 * bpw},
                               {"rbe", to_json(full)},
                               {"rbe_no_generator", to_json(nogen)},
                               {"rbe_no_rotation", to_json(norot)},
                               {"rbe_forced_generator", to_json(forced)},
                               {"ecsq", to_json(ecsq)}});
    }
    std::printf("baselines (fixed rate):\n");
    for (const char* c : {"q4_0", "q8_0"}) {
      const Point p = measure([&] {
        CodecSettings s;
        s.codec = c;
        return encode(W, s);
      });
      if (p.ok)
        std::printf("%-6s R %-6.3f SNR %6.2f dB (gap %4.2f), bound %6.2f dB\n", c, p.bpw, p.snr, 6.0206 * p.bpw - p.snr,
                    6.0206 * p.bpw);
      else
        std::printf("%-6s n/a (%s)\n", c, p.error.c_str());
      out["baselines"][c] = to_json(p);
    }
    if (!json_path.empty()) {
      AtomicFileWriter w(json_path);
      w.write(out.dump(2) + "\n");
      w.commit();
    }
    return cli::kExitOk;
  });
}
