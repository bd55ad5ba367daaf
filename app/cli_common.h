#pragma once
// Shared pieces of the rbe-* command-line tools: error handling with the
// exit-code convention, thread limits, and a progress bar.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <tbb/global_control.h>

namespace rbe {
class GPT2Model;
}

namespace rbe::cli {

// Exit codes: 0 success, 1 runtime error, 2 bad command line.
constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2;

// Parses argv; on --help prints the help and returns 0, on a parse error
// prints one line "<prog>: error: <message>" (plus a hint) to stderr and
// returns 2; returns -1 when the program should go on.
int parse(CLI::App& app, int argc, char** argv);

// Number validators with readable messages ("--steps: expected a number >= 0, got 'x'").
CLI::Validator non_negative();
CLI::Validator positive();

// A float as the shortest decimal that reads back to it, as a double for JSON
// (so logs show 0.001, not 0.0010000000474974513).
double json_float(float v);

// Runs body, turning an exception into "<prog>: error: <message>" on stderr
// and exit code 1.
int run_main(const char* prog, const std::function<int()>& body);

// Limits TBB to n threads for the lifetime of the returned object (n <= 0: all cores).
std::unique_ptr<tbb::global_control> limit_threads(int n);

// --kv-cache: "auto" (the storage that goes with the model's matrices,
// GPT2Model::kv_cache_dtype_for_matrices), "f16" or "f32".
void set_kv_cache(GPT2Model& model, const std::string& choice);

// Reads a whole file; throws with a clear message if it is missing or empty.
std::string read_text_file(const std::string& path);

bool stderr_is_tty();

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

// A progress line on stderr: "step 12/100 [=====>    ] loss 2.3456 | 1234 tok/s | ETA 1m05s".
// On a terminal it is redrawn in place with \r (at most 10 times a second);
// otherwise a plain line is printed every 5% of the run or 10 s, whichever
// comes first, and at the last step and for forced lines.
class ProgressBar {
 public:
  // label: what is counted ("step", "tokens").
  ProgressBar(int64_t total, int64_t start = 0, std::string label = "step");
  // fields: text after "<label> N/total". force: always print (and keep) a line.
  void update(int64_t step, const std::string& fields, bool force = false);
  void finish();  // ends the \r line

 private:
  int64_t total_, start_;
  std::string label_;
  int64_t every_;
  bool tty_;
  bool open_line_ = false;
  std::chrono::steady_clock::time_point t0_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace rbe::cli
