#include "codec/settings_spec.h"

#include <cmath>
#include <stdexcept>

#include "codec/rbe_entropy.h"

namespace rbe::codec {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

double to_number(const std::string& key, const std::string& v) {
  size_t used = 0;
  double d = 0;
  try {
    d = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || !std::isfinite(d))
    throw std::invalid_argument(key + ": expected a number, got '" + v + "'");
  return d;
}

}  // namespace

void apply_setting(CodecSettings& s, const std::string& key_in, const std::string& value_in) {
  const std::string key = trim(key_in), v = trim(value_in);
  if (key == "codec") {
    if (v != "rbe" && v != "q8_0" && v != "q4_0" && v != "f16" && v != "f32")
      throw std::invalid_argument("codec: expected rbe, q8_0, q4_0, f16 or f32, got '" + v + "'");
    s.codec = v;
  } else if (key == "storage") {
    if (v == "fixed") s.storage = Storage::Fixed;
    else if (v == "entropy") s.storage = Storage::Entropy;
    else throw std::invalid_argument("storage: expected fixed or entropy, got '" + v + "'");
  } else if (key == "grade") {
    auto g = parse_grade(v);
    if (!g) throw std::invalid_argument("grade: expected one of S+, S, A+, A, B+, B, C+, C, got '" + v + "'");
    s.grade = *g;
    s.bpw.reset();
  } else if (key == "bpw") {
    double b = to_number(key, v);
    if (!(b > 0 && b <= 32)) throw std::invalid_argument("bpw: expected bits per weight in (0, 32], got '" + v + "'");
    s.bpw = b;
    s.grade.reset();
  } else if (key == "block-size" || key == "block_size") {
    double b = to_number(key, v);
    if (b < 1 || b > 4096 || b != std::floor(b))
      throw std::invalid_argument(key + ": expected a whole number in [1, 4096], got '" + v + "'");
    s.block_size = int(b);
  } else if (key == "min-block-size" || key == "min_block_size") {
    double b = to_number(key, v);
    const int m = b >= 0 && b <= 4096 && b == std::floor(b) ? int(b) : -1;
    if (m < 0 || (m != 0 && (m < 8 || (m & (m - 1)) != 0)))
      throw std::invalid_argument(key + ": expected 0 (no splitting) or a power of two >= 8, got '" + v + "'");
    s.min_block_size = m;
  } else if (key == "transform") {
    auto t = parse_transform(v);
    if (!t) throw std::invalid_argument("transform: expected adaptive, dct, haar or cdf97, got '" + v + "'");
    s.transform = *t;
  } else if (key == "seed") {
    size_t used = 0;
    unsigned long long seed = 0;
    try {
      seed = std::stoull(v, &used, 0);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v.size()) throw std::invalid_argument("seed: expected an integer, got '" + v + "'");
    s.seed = seed;
  } else {
    throw std::invalid_argument("unknown setting '" + key +
                                "' (expected codec, storage, grade, bpw, block-size, min-block-size, transform or seed)");
  }
}

CodecSettings parse_settings(const std::string& pairs, const CodecSettings& base) {
  CodecSettings s = base;
  size_t start = 0;
  while (start <= pairs.size()) {
    size_t comma = pairs.find(',', start);
    if (comma == std::string::npos) comma = pairs.size();
    const std::string item = trim(pairs.substr(start, comma - start));
    if (item.empty()) throw std::invalid_argument("empty setting in '" + pairs + "' (expected key:value,key:value)");
    const size_t colon = item.find(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("'" + item + "' is not key:value (for example codec:q8_0 or bpw:3)");
    apply_setting(s, item.substr(0, colon), item.substr(colon + 1));
    start = comma + 1;
  }
  // Checked once all pairs are in: it relates two keys.
  check_min_block_size(s.block_size, s.min_block_size);
  return s;
}

TensorOverride parse_override(const std::string& spec, const CodecSettings& base) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos)
    throw std::invalid_argument("'" + spec + "' is not PATTERN=key:value,... (for example 'h.*.mlp.*=codec:q8_0')");
  TensorOverride o;
  o.pattern = trim(spec.substr(0, eq));
  if (o.pattern.empty()) throw std::invalid_argument("'" + spec + "': empty pattern before '='");
  o.settings = parse_settings(spec.substr(eq + 1), base);
  return o;
}

}  // namespace rbe::codec
