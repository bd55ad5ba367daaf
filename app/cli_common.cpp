#include "cli_common.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include <tbb/global_control.h>
#include <unistd.h>

#include "models/gpt2.h"

namespace rbe::cli {

int parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // prints the help, returns 0
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n') c = ' ';
    std::cerr << app.get_name() << ": error: " << msg << " (run with --help for usage)\n";
    return kExitUsage;
  }
  return -1;
}

static CLI::Validator number_check(const char* name, bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& s) -> std::string {
        const char* want = allow_zero ? "a number >= 0" : "a number > 0";
        double v = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || ptr != s.data() + s.size() || !(allow_zero ? v >= 0 : v > 0))
          return std::string("expected ") + want + ", got '" + s + "'";
        return {};
      },
      name);
}

CLI::Validator non_negative() { return number_check(">= 0", true); }
CLI::Validator positive() { return number_check("> 0", false); }

double json_float(float v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::strtod(std::string(buf, end).c_str(), nullptr) : double(v);
}

int run_main(const char* prog, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cout.flush();
    if (stderr_is_tty()) std::cerr << "\n";  // past a progress line
    std::cerr << prog << ": error: " << e.what() << "\n";
    return kExitError;
  }
}

std::unique_ptr<tbb::global_control> limit_threads(int n) {
  if (n <= 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, size_t(n));
}

void set_kv_cache(GPT2Model& model, const std::string& choice) {
  model.set_kv_cache_dtype(choice == "auto"  ? model.kv_cache_dtype_for_matrices()
                           : choice == "f16" ? DType::F16
                                             : DType::F32);
}

std::string read_text_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw std::runtime_error(path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.empty()) throw std::runtime_error(path + ": file is empty");
  return text;
}

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

ProgressBar::ProgressBar(int64_t total, int64_t start, std::string label)
    : total_(total), start_(start), label_(std::move(label)), tty_(stderr_is_tty()),
      t0_(std::chrono::steady_clock::now()) {
  every_ = std::max<int64_t>(1, (total - start) / 20);
}

void ProgressBar::update(int64_t step, const std::string& fields, bool force) {
  auto now = std::chrono::steady_clock::now();
  const bool last = step >= total_;
  if (tty_) {
    // Redraw at most ~10 times a second unless something must be seen.
    if (!force && !last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  } else if (!force && !last && (step - start_) % every_ != 0 && now - last_draw_ < std::chrono::seconds(10)) {
    return;  // plain lines: every 5% of the run, and at least every 10 s
  }
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - t0_).count();
  int64_t done = step - start_, left = total_ - step;
  double eta = done > 0 ? elapsed / double(done) * double(left) : -1;

  std::ostringstream line;
  line << label_ << " " << step << "/" << total_ << " ";
  if (tty_) {
    constexpr int kWidth = 24;
    int filled = total_ > 0 ? int(kWidth * step / total_) : kWidth;
    line << "[" << std::string(filled, '=') << (filled < kWidth ? ">" : "")
         << std::string(std::max(0, kWidth - filled - 1), ' ') << "] ";
  }
  line << fields << " | ETA " << (done > 0 ? format_duration(eta) : "?");
  if (tty_) {
    std::cerr << "\r" << line.str() << "\033[K";
    open_line_ = true;
    if (force) {  // keep forced lines (evaluations) in the scrollback
      std::cerr << "\n";
      open_line_ = false;
    }
  } else {
    std::cerr << line.str() << "\n";
  }
  std::cerr.flush();
}

void ProgressBar::finish() {
  if (open_line_) std::cerr << "\n";
  open_line_ = false;
}

}  // namespace rbe::cli
