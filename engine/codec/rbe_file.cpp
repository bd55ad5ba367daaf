#include "codec/rbe_file.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "codec/checksum.h"
#include "codec/model_order.h"
#include "codec/rbe_file_layout.h"
#include "io/mapped_file.h"
#include "tensor/atomic_file.h"
#include "tensor/dtype.h"

namespace rbe::codec {

using nlohmann::json;

namespace {

constexpr char kMagic[4] = {'R', 'B', 'E', '\0'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kPreamble = 20;  // magic, u32 version, u32 flags, u64 header length
constexpr uint64_t kAlign = 64;
constexpr uint64_t kMaxHeader = uint64_t(256) << 20;
constexpr uint64_t kBlockRecord = 9;  // u8 grade, f16 rel_rmse, f16 bits per weight, f32 rmse
constexpr uint64_t kBlockCoords = 16; // i32 row0, col0, rows, cols (blocks not on a grid only)
// A fuzzing build (libFuzzer's convention) skips the checksums, so that mutated
// files reach the parsers and decoders behind them (tests/fuzz).
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr bool kVerifyChecksums = false;
#else
constexpr bool kVerifyChecksums = true;
#endif

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

const char* storage_name(Storage s) { return s == Storage::Entropy ? "entropy" : "fixed"; }

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}
template <class T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// ---- block statistics: a compact binary section per encoded tensor ----

// Tile edges when blocks are the row-major grid of br x bc tiles (edge tiles
// clipped) that every codec here produces; then coordinates need not be stored.
bool on_grid(const EncodedTensor& e, int64_t& br, int64_t& bc) {
  if (e.blocks.empty()) return false;
  br = e.blocks[0].rows, bc = e.blocks[0].cols;
  if (br <= 0 || bc <= 0) return false;
  const int64_t nr = (e.rows + br - 1) / br, nc = (e.cols + bc - 1) / bc;
  if (int64_t(e.blocks.size()) != nr * nc) return false;
  for (int64_t k = 0; k < int64_t(e.blocks.size()); ++k) {
    const BlockStats& b = e.blocks[size_t(k)];
    const int64_t r0 = (k / nc) * br, c0 = (k % nc) * bc;
    if (b.row0 != r0 || b.col0 != c0 || b.rows != std::min(br, e.rows - r0) || b.cols != std::min(bc, e.cols - c0))
      return false;
  }
  return true;
}

struct BlockSection {
  std::vector<uint8_t> bytes;
  json desc;  // {"count", "grid": [br, bc]} (grid absent: coordinates stored)
};

BlockSection encode_blocks(const EncodedTensor& e) {
  BlockSection s;
  int64_t br = 0, bc = 0;
  const bool grid = on_grid(e, br, bc);
  s.desc = json{{"count", e.blocks.size()}};
  if (grid) s.desc["grid"] = {br, bc};
  s.bytes.reserve(e.blocks.size() * (kBlockRecord + (grid ? 0 : kBlockCoords)));
  for (const BlockStats& b : e.blocks) {
    if (!grid) {
      put<int32_t>(s.bytes, b.row0);
      put<int32_t>(s.bytes, b.col0);
      put<int32_t>(s.bytes, b.rows);
      put<int32_t>(s.bytes, b.cols);
    }
    const double n = std::max<double>(1.0, double(b.rows) * double(b.cols));
    put<uint8_t>(s.bytes, uint8_t(b.grade));
    put<uint16_t>(s.bytes, f32_to_f16(b.rel_rmse));
    put<uint16_t>(s.bytes, f32_to_f16(float(b.bits / n)));
    put<float>(s.bytes, b.rmse);
  }
  return s;
}

// ---- metadata ----

json num_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json meta_json(const CompressionMetadata& m) {
  return json{{"block_size", m.block_size},         {"weights", m.weights},
              {"bytes", m.bytes},                   {"bits_per_weight", num_or_null(m.bits_per_weight)},
              {"rmse", num_or_null(m.rmse)},        {"rel_rmse", num_or_null(m.rel_rmse)},
              {"snr_db", num_or_null(m.snr_db)},    {"encode_seconds", num_or_null(m.encode_seconds)},
              {"coefficient_count", m.coefficient_count}};
}

// One contiguous run of bytes in the file.
struct Section {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t checksum = 0;
};

json section_json(const Section& s) {
  return json{{"offset", s.offset}, {"length", s.size}, {"checksum", hex64(s.checksum)}};
}

// Everything write_rbe_file needs, laid out.
struct Layout {
  std::string header;  // JSON, padded with spaces to its final length
  uint64_t data_start = 0;
  std::vector<Section> sections;  // in file order
  std::vector<BlockSection> blocks;
  std::vector<Tensor> raw_f32;    // raw tensors as contiguous F32 (kept alive for writing)
};

Layout lay_out(const CompressedModel& cm, bool with_checksums) {
  Layout L;
  const std::vector<TensorEntry> entries = ordered_entries(cm);
  // Per entry: its payload section and, for encoded tensors with blocks, a stats section.
  struct Parts {
    int payload = -1, stats = -1, block = -1;
  };
  std::vector<Parts> parts(entries.size());
  L.blocks.reserve(entries.size());
  L.raw_f32.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const TensorEntry& en = entries[i];
    Section s;
    if (en.encoded) {
      const EncodedTensor& e = *en.encoded;
      if (e.rows <= 0 || e.cols <= 0)
        throw std::runtime_error("tensor " + en.name + ": bad shape [" + std::to_string(e.rows) + ", " +
                                 std::to_string(e.cols) + "]");
      if (e.size < 0 || (e.size > 0 && !e.data)) throw std::runtime_error("tensor " + en.name + ": no payload");
      s.data = e.data;
      s.size = uint64_t(e.size);
    } else {
      if (!en.raw->defined()) throw std::runtime_error("tensor " + en.name + ": undefined raw tensor");
      L.raw_f32.push_back(en.raw->to(DType::F32).contiguous());
      s.data = static_cast<const uint8_t*>(L.raw_f32.back().raw_data());
      s.size = uint64_t(L.raw_f32.back().numel()) * 4;
    }
    parts[i].payload = int(L.sections.size());
    L.sections.push_back(s);
    if (en.encoded && !en.encoded->blocks.empty()) {
      parts[i].block = int(L.blocks.size());
      L.blocks.push_back(encode_blocks(*en.encoded));
      Section b{L.blocks.back().bytes.data(), L.blocks.back().bytes.size()};
      parts[i].stats = int(L.sections.size());
      L.sections.push_back(b);
    }
  }
  if (with_checksums)
    for (Section& s : L.sections) s.checksum = xxh64(s.data, s.size);

  // The header holds the offsets, whose digits depend on the header's length:
  // grow a reserved length until the JSON fits, then pad it with spaces.
  uint64_t reserved = 0;
  for (int attempt = 0;; ++attempt) {
    L.data_start = align_up(kPreamble + reserved + 8);
    uint64_t at = L.data_start;
    for (Section& s : L.sections) {
      s.offset = align_up(at);
      at = s.offset + s.size;
    }
    json tensors = json::array();
    for (size_t i = 0; i < entries.size(); ++i) {
      const TensorEntry& en = entries[i];
      json t = section_json(L.sections[size_t(parts[i].payload)]);
      t["name"] = en.name;
      if (en.encoded) {
        const EncodedTensor& e = *en.encoded;
        t["kind"] = "encoded";
        t["codec"] = e.codec;
        t["storage"] = storage_name(e.storage);
        t["rows"] = e.rows;
        t["cols"] = e.cols;
        t["params"] = e.params;
        t["meta"] = meta_json(e.meta);
        if (parts[i].stats >= 0) {
          json b = L.blocks[size_t(parts[i].block)].desc;
          b.update(section_json(L.sections[size_t(parts[i].stats)]));
          t["blocks"] = std::move(b);
        }
      } else {
        t["kind"] = "raw";
        t["dtype"] = "f32";
        t["shape"] = en.raw->shape();
      }
      tensors.push_back(std::move(t));
    }
    json h = {{"format", "rbe"},           {"version", kVersion},      {"config", cm.config.to_json()},
              {"tokenizer", cm.tokenizer}, {"settings", cm.settings}, {"tensors", std::move(tensors)}};
    std::string text = h.dump();
    if (text.size() <= reserved) {
      text.resize(reserved, ' ');
      L.header = std::move(text);
      return L;
    }
    if (attempt > 8) throw std::logic_error("rbe file: header layout does not converge");
    reserved = text.size() + 64;
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw std::runtime_error(path + ": " + msg);
}

// ---- reading: typed access to header fields with messages naming the field ----

struct Reader {
  std::string path;
  uint64_t file_size = 0;
  uint64_t data_start = 0;
  uint64_t prev_end = 0;
  const uint8_t* base = nullptr;

  [[noreturn]] void bad(const std::string& ctx, const std::string& msg) const { fail(path, ctx + ": " + msg); }

  const json& field(const json& o, const char* key, const std::string& ctx) const {
    if (!o.is_object()) bad(ctx, "expected a JSON object");
    auto it = o.find(key);
    if (it == o.end()) bad(ctx, std::string("missing '") + key + "'");
    return *it;
  }
  int64_t integer(const json& o, const char* key, const std::string& ctx, int64_t lo, int64_t hi) const {
    const json& v = field(o, key, ctx);
    if (!v.is_number_integer()) bad(ctx, std::string("'") + key + "' is not an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      bad(ctx, std::string("'") + key + "' is out of range");
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi)
      bad(ctx, std::string("'") + key + "' = " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]");
    return x;
  }
  std::string string(const json& o, const char* key, const std::string& ctx) const {
    const json& v = field(o, key, ctx);
    if (!v.is_string()) bad(ctx, std::string("'") + key + "' is not a string");
    return v.get<std::string>();
  }
  double number(const json& o, const char* key, const std::string& ctx) const {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return std::numeric_limits<double>::infinity();
    if (!it->is_number()) bad(ctx, std::string("'") + key + "' is not a number");
    return it->get<double>();
  }

  // A section's bounds, order and checksum; returns its start.
  const uint8_t* section(const json& o, const std::string& ctx, uint64_t& length) {
    const uint64_t offset = uint64_t(integer(o, "offset", ctx, 0, std::numeric_limits<int64_t>::max()));
    length = uint64_t(integer(o, "length", ctx, 0, std::numeric_limits<int64_t>::max()));
    const std::string sum = string(o, "checksum", ctx);
    if (offset % kAlign != 0) bad(ctx, "offset " + std::to_string(offset) + " is not 64-byte aligned");
    if (offset < data_start)
      bad(ctx, "offset " + std::to_string(offset) + " points into the header (payloads start at " +
                   std::to_string(data_start) + ")");
    if (length > file_size || offset > file_size - length)
      bad(ctx, "offset " + std::to_string(offset) + " + length " + std::to_string(length) +
                   " lies outside the file (" + std::to_string(file_size) + " bytes; truncated?)");
    if (offset < prev_end)
      bad(ctx, "offset " + std::to_string(offset) + " overlaps the previous section (which ends at " +
                   std::to_string(prev_end) + ")");
    prev_end = offset + length;
    const uint8_t* p = base + offset;
    if (kVerifyChecksums && hex64(xxh64(p, length)) != sum) bad(ctx, "checksum mismatch (the data is corrupt)");
    return p;
  }
};

CompressionMetadata read_meta(const Reader& r, const json& j, const std::string& ctx) {
  CompressionMetadata m;
  const int64_t big = std::numeric_limits<int64_t>::max();
  m.block_size = int(r.integer(j, "block_size", ctx, 0, 1 << 30));
  m.weights = r.integer(j, "weights", ctx, 0, big);
  m.bytes = r.integer(j, "bytes", ctx, 0, big);
  m.bits_per_weight = r.number(j, "bits_per_weight", ctx);
  m.rmse = r.number(j, "rmse", ctx);
  m.rel_rmse = r.number(j, "rel_rmse", ctx);
  m.snr_db = r.number(j, "snr_db", ctx);
  m.encode_seconds = r.number(j, "encode_seconds", ctx);
  m.coefficient_count = r.integer(j, "coefficient_count", ctx, 0, big);
  return m;
}

void read_blocks(Reader& r, const json& j, const std::string& ctx, EncodedTensor& e) {
  uint64_t length = 0;
  const uint8_t* p = r.section(j, ctx, length);
  const int64_t count = r.integer(j, "count", ctx, 0, int64_t(1) << 40);
  int64_t br = 0, bc = 0;
  const bool grid = j.contains("grid");
  if (grid) {
    const json& g = j.at("grid");
    if (!g.is_array() || g.size() != 2 || !g[0].is_number_integer() || !g[1].is_number_integer() ||
        g[0].get<int64_t>() <= 0 || g[1].get<int64_t>() <= 0)
      r.bad(ctx, "'grid' is not two positive integers");
    br = g[0].get<int64_t>(), bc = g[1].get<int64_t>();
    const int64_t nc = (e.cols + bc - 1) / bc;
    if (count != ((e.rows + br - 1) / br) * nc)
      r.bad(ctx, "block count " + std::to_string(count) + " does not match the grid of " + std::to_string(br) + " x " +
                     std::to_string(bc) + " blocks");
  }
  const uint64_t rec = kBlockRecord + (grid ? 0 : kBlockCoords);
  if (length != uint64_t(count) * rec)
    r.bad(ctx, "length " + std::to_string(length) + " does not hold " + std::to_string(count) + " block records");
  e.blocks.resize(size_t(count));
  const int64_t nc = grid ? (e.cols + bc - 1) / bc : 1;
  for (int64_t k = 0; k < count; ++k, p += rec) {
    BlockStats& b = e.blocks[size_t(k)];
    const uint8_t* q = p;
    if (grid) {
      b.row0 = int32_t((k / nc) * br), b.col0 = int32_t((k % nc) * bc);
      b.rows = int32_t(std::min(br, e.rows - b.row0)), b.cols = int32_t(std::min(bc, e.cols - b.col0));
    } else {
      b.row0 = get<int32_t>(q), b.col0 = get<int32_t>(q + 4), b.rows = get<int32_t>(q + 8), b.cols = get<int32_t>(q + 12);
      q += kBlockCoords;
      if (b.row0 < 0 || b.col0 < 0 || b.rows < 0 || b.cols < 0 || b.row0 + int64_t(b.rows) > e.rows ||
          b.col0 + int64_t(b.cols) > e.cols)
        r.bad(ctx, "block " + std::to_string(k) + " lies outside the matrix");
    }
    if (q[0] >= kGradeCount) r.bad(ctx, "block " + std::to_string(k) + " has an unknown grade " + std::to_string(q[0]));
    b.grade = QualityGrade(q[0]);
    b.rel_rmse = f16_to_f32(get<uint16_t>(q + 1));
    b.bits = f16_to_f32(get<uint16_t>(q + 3)) * float(b.rows) * float(b.cols);
    b.rmse = get<float>(q + 5);
  }
}

bool known_codec(const std::string& c) { return c == "rbe" || c == "q8_0" || c == "q4_0" || c == "f16" || c == "f32"; }

}  // namespace

RbeFileSizes rbe_file_sizes(const CompressedModel& cm) {
  Layout L = lay_out(cm, false);
  RbeFileSizes s;
  s.header_bytes = L.data_start;
  s.file_bytes = L.data_start;
  for (size_t i = 0; i < L.sections.size(); ++i) {
    const Section& sec = L.sections[i];
    s.padding_bytes += sec.offset - s.file_bytes;
    s.file_bytes = sec.offset + sec.size;
  }
  for (const BlockSection& b : L.blocks) s.block_stats_bytes += b.bytes.size();
  uint64_t all = 0;
  for (const Section& sec : L.sections) all += sec.size;
  s.payload_bytes = all - s.block_stats_bytes;
  return s;
}

void write_rbe_file(const std::string& path, const CompressedModel& cm) {
  Layout L = lay_out(cm, true);
  AtomicFileWriter w(path);
  std::vector<uint8_t> pre;
  pre.insert(pre.end(), kMagic, kMagic + 4);
  put<uint32_t>(pre, kVersion);
  put<uint32_t>(pre, 0);  // flags: none defined in version 1
  put<uint64_t>(pre, L.header.size());
  w.write(pre.data(), pre.size());
  w.write(L.header);
  const uint64_t hsum = xxh64(L.header.data(), L.header.size());
  w.write(&hsum, 8);
  uint64_t at = kPreamble + L.header.size() + 8;
  static const uint8_t zeros[kAlign] = {};
  for (const Section& s : L.sections) {
    if (s.offset < at) throw std::logic_error("rbe file: sections out of order");
    while (at < s.offset) {
      const uint64_t n = std::min<uint64_t>(kAlign, s.offset - at);
      w.write(zeros, n);
      at += n;
    }
    if (s.size) w.write(s.data, s.size);
    at += s.size;
  }
  w.commit();
}

bool looks_like_rbe_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char m[4];
  return f && f.read(m, 4) && std::memcmp(m, kMagic, 4) == 0;
}

CompressedModel read_rbe_file(const std::string& path) {
  io::MappedFile mf;
  std::string err;
  if (!io::map_file(path, mf, err)) fail(path, err);
  const uint64_t size = mf.size;
  if (size < 4 || std::memcmp(mf.data, kMagic, 4) != 0) {
    if (size < 4) fail(path, "truncated: " + std::to_string(size) + " bytes is too short for a .rbe file");
    fail(path, "not a .rbe file (bad magic; expected \"RBE\\0\")");
  }
  if (size < kPreamble)
    fail(path, "truncated: " + std::to_string(size) + " bytes, shorter than the 20-byte preamble");
  const uint32_t version = get<uint32_t>(mf.data + 4), flags = get<uint32_t>(mf.data + 8);
  const uint64_t hlen = get<uint64_t>(mf.data + 12);
  if (version != kVersion)
    fail(path, "unsupported .rbe version " + std::to_string(version) + " (this build reads version " +
                   std::to_string(kVersion) + ")");
  if (flags != 0) fail(path, "unknown flags " + hex64(flags) + " (version 1 defines none)");
  if (hlen > kMaxHeader) fail(path, "header length " + std::to_string(hlen) + " exceeds the 256 MB limit");
  if (kPreamble + hlen + 8 > size)
    fail(path, "truncated: header length " + std::to_string(hlen) + " exceeds the file size (" + std::to_string(size) +
                   " bytes)");
  const char* htext = reinterpret_cast<const char*>(mf.data + kPreamble);
  if (kVerifyChecksums && xxh64(htext, hlen) != get<uint64_t>(mf.data + kPreamble + hlen))
    fail(path, "header checksum mismatch (the header is corrupt)");
  json h;
  try {
    h = json::parse(htext, htext + hlen);
  } catch (const json::exception& e) {
    fail(path, std::string("bad header JSON: ") + e.what());
  }

  Reader r{path, size, align_up(kPreamble + hlen + 8), 0, mf.data};
  r.prev_end = r.data_start;
  const std::string hctx = "header";
  if (r.string(h, "format", hctx) != "rbe") r.bad(hctx, "'format' is not \"rbe\"");
  if (r.integer(h, "version", hctx, 0, 1 << 30) != kVersion) r.bad(hctx, "'version' differs from the preamble's");

  CompressedModel cm;
  try {
    cm.config = ModelConfig::from_json(r.field(h, "config", hctx));
    cm.config.validate();
  } catch (const ConfigError& e) {
    fail(path, std::string("config: ") + e.what());
  }
  cm.tokenizer = r.field(h, "tokenizer", hctx);
  if (!cm.tokenizer.is_null() && !cm.tokenizer.is_object()) r.bad("tokenizer", "expected an object or null");
  cm.settings = h.contains("settings") ? h.at("settings") : json();

  const json& tensors = r.field(h, "tensors", hctx);
  if (!tensors.is_array()) r.bad(hctx, "'tensors' is not an array");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const json& t = tensors[i];
    const std::string name = r.string(t, "name", "tensor " + std::to_string(i));
    const std::string ctx = "tensor '" + name + "'";
    const std::string kind = r.string(t, "kind", ctx);
    uint64_t length = 0;
    if (kind == "encoded") {
      auto e = std::make_shared<EncodedTensor>();
      e->codec = r.string(t, "codec", ctx);
      if (!known_codec(e->codec)) r.bad(ctx, "unknown codec '" + e->codec + "'");
      const std::string storage = r.string(t, "storage", ctx);
      if (storage != "fixed" && storage != "entropy") r.bad(ctx, "unknown storage '" + storage + "'");
      e->storage = storage == "entropy" ? Storage::Entropy : Storage::Fixed;
      e->rows = r.integer(t, "rows", ctx, 1, int64_t(1) << 31);
      e->cols = r.integer(t, "cols", ctx, 1, int64_t(1) << 31);
      e->params = t.contains("params") ? t.at("params") : json::object();
      e->meta = read_meta(r, r.field(t, "meta", ctx), ctx + " meta");
      e->data = r.section(t, ctx, length);
      e->size = int64_t(length);
      e->keepalive = mf.mapping;
      if (t.contains("blocks")) read_blocks(r, t.at("blocks"), ctx + " blocks", *e);
      cm.encoded.emplace_back(name, std::move(e));
    } else if (kind == "raw") {
      if (r.string(t, "dtype", ctx) != "f32") r.bad(ctx, "raw tensors are stored as f32");
      const json& sj = r.field(t, "shape", ctx);
      if (!sj.is_array() || sj.size() > 8) r.bad(ctx, "'shape' is not an array of at most 8 sizes");
      Shape shape;
      uint64_t numel = 1;
      for (const json& d : sj) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t(1) << 40))
          r.bad(ctx, "'shape' has a bad size " + d.dump());
        shape.push_back(d.get<int64_t>());
        numel *= uint64_t(shape.back());
        if (numel > (uint64_t(1) << 40)) r.bad(ctx, "'shape' is too large");
      }
      const uint8_t* p = r.section(t, ctx, length);
      if (length != numel * 4)
        r.bad(ctx, "length " + std::to_string(length) + " does not match shape " + shape_str(shape) + " of f32");
      auto storage = rbe::Storage::borrow(const_cast<uint8_t*>(p), length, mf.mapping);
      cm.raw.emplace_back(name, Tensor::from_storage(storage, shape, DType::F32));
    } else {
      r.bad(ctx, "unknown kind '" + kind + "' (expected \"encoded\" or \"raw\")");
    }
  }

  // The configuration must agree with the tensors before anything is built from it.
  const int64_t count = int64_t(cm.encoded.size() + cm.raw.size());
  if (cm.config.n_layer > count / 12 + 1)
    fail(path, "config: n_layer " + std::to_string(cm.config.n_layer) + " needs more tensors than the file's " +
                   std::to_string(count));
  auto shape_of = [&](const std::string& name) -> Shape {
    for (auto& [n, e] : cm.encoded)
      if (n == name) return {e->rows, e->cols};
    for (auto& [n, t] : cm.raw)
      if (n == name) return t.shape();
    return {};
  };
  const ModelConfig& c = cm.config;
  for (auto& [name, want] : std::vector<std::pair<std::string, Shape>>{
           {"wte.weight", {c.vocab_size, c.n_embd}}, {"wpe.weight", {c.n_positions, c.n_embd}}, {"ln_f.weight", {c.n_embd}}})
    if (Shape got = shape_of(name); !got.empty() && got != want)
      fail(path, "tensor '" + name + "' is " + shape_str(got) + " but config implies " + shape_str(want));

  // The tensor set must be exactly the model's parameters.
  std::vector<std::string> expected = parameter_names(cm.config);
  std::vector<std::string> have;
  for (auto& [n, e] : cm.encoded) have.push_back(n);
  for (auto& [n, t] : cm.raw) have.push_back(n);
  std::sort(have.begin(), have.end());
  if (auto d = std::adjacent_find(have.begin(), have.end()); d != have.end()) fail(path, "tensor '" + *d + "' appears twice");
  std::vector<std::string> sorted = expected;
  std::sort(sorted.begin(), sorted.end());
  for (const std::string& n : sorted)
    if (!std::binary_search(have.begin(), have.end(), n)) fail(path, "missing tensor '" + n + "'");
  for (const std::string& n : have)
    if (!std::binary_search(sorted.begin(), sorted.end(), n)) fail(path, "unexpected tensor '" + n + "'");
  return cm;
}

}  // namespace rbe::codec
