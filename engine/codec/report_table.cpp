#include "codec/report_table.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace rbe::codec {

using nlohmann::json;

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string num(const json& j, const char* f, const char* none = "-") {
  return j.is_number() ? fmt(f, j.get<double>()) : std::string(none);
}

std::string shape(const json& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i].get<int64_t>());
  return out;
}

// "S+:12 A:3" (grades with no blocks left out)
std::string grades(const json& h) {
  std::string out;
  for (auto& [g, n] : h.items())
    if (n.get<int64_t>() > 0) out += (out.empty() ? "" : " ") + g + ":" + std::to_string(n.get<int64_t>());
  return out.empty() ? "-" : out;
}

std::string bytes(double b) {
  if (b >= 1e9) return fmt("%.2f GB", b / 1e9);
  if (b >= 1e6) return fmt("%.2f MB", b / 1e6);
  if (b >= 1e3) return fmt("%.1f kB", b / 1e3);
  return fmt("%.0f B", b);
}

}  // namespace

std::string report_table(const json& r) {
  const std::vector<std::string> head = {"tensor", "shape", "codec", "bits/w", "rel.RMSE", "SNR dB", "grades", "bytes"};
  std::vector<std::vector<std::string>> rows;
  for (const json& t : r.at("tensors")) {
    std::string codec = t.at("codec").get<std::string>();
    if (codec == "rbe") codec += "-" + t.at("storage").get<std::string>();
    if (t.at("storage") == "raw") codec = "raw f32";
    rows.push_back({t.at("name").get<std::string>(), shape(t.at("shape")), codec, num(t.at("bits_per_weight"), "%.3f"),
                    num(t.at("rel_rmse"), "%.4f"), num(t.at("snr_db"), "%.2f"), grades(t.at("grade_histogram")),
                    bytes(t.at("bytes").get<double>())});
  }
  std::vector<size_t> w(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    w[c] = head[c].size();
    for (auto& row : rows) w[c] = std::max(w[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cells.size(); ++c) {
      const bool left = c == 0 || c == 2 || c == 6;
      const std::string pad(w[c] - cells[c].size(), ' ');
      s += (c ? "  " : "") + (left ? cells[c] + (c + 1 < cells.size() ? pad : "") : pad + cells[c]);
    }
    return s + "\n";
  };
  std::string out = line(head);
  for (auto& row : rows) out += line(row);
  const json& tot = r.at("totals");
  const json& enc = tot.at("encoded");
  out += "total: " + std::to_string(tot.at("weights").get<int64_t>()) + " weights, " +
         bytes(tot.at("bytes").get<double>()) + " (file, everything counted), " +
         num(tot.at("bits_per_weight"), "%.3f") + " bits/weight; encoded matrices: " +
         std::to_string(enc.at("weights").get<int64_t>()) + " weights at " + num(enc.at("bits_per_weight"), "%.3f") +
         " bits/weight, rel.RMSE " + num(enc.at("rel_rmse"), "%.4f") + ", SNR " + num(enc.at("snr_db"), "%.2f") +
         " dB\n";
  return out;
}

}  // namespace rbe::codec
