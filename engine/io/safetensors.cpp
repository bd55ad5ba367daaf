#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>


#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "io/tensor_write.h"
#include "tensor/atomic_file.h"

namespace rbe::safetensors {

using nlohmann::json;

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MB, as the reference implementation

// ---- writing ----

void check_store_as(const std::string& path, std::optional<DType> as) {
  if (as && !is_float(*as))
    throw FormatError(path + ": tensors can be stored as F32, F16 or BF16, not " + dtype_name(*as));
}

// The dtype a tensor of dtype d is written in.
DType stored_dtype(DType d, std::optional<DType> as) { return as && is_float(d) ? *as : d; }

void check_writable(const std::string& path, const std::string& name, const Tensor& t) {
  if (!t.defined()) throw FormatError(path + ": tensor '" + name + "' is undefined");
  if (name.empty() || name == "__metadata__") throw FormatError(path + ": invalid tensor name '" + name + "'");
  if (t.device() != Device::CPU) throw FormatError(path + ": tensor '" + name + "' is not on the CPU");
}

}  // namespace

void save(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
          const Metadata& metadata, std::optional<DType> as) {
  check_store_as(path, as);
  // Data laid out by decreasing element size (stable), so every tensor is
  // aligned for its dtype when the data section is 8-byte aligned.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::set<std::string> seen;
  for (auto& [name, t] : tensors) {
    check_writable(path, name, t);
    if (!seen.insert(name).second) throw FormatError(path + ": duplicate tensor name '" + name + "'");
  }
  auto stored = [&](size_t i) { return stored_dtype(tensors[i].second.dtype(), as); };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return dtype_size(stored(a)) > dtype_size(stored(b)); });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const auto& [name, t] = tensors[i];
    uint64_t nbytes = uint64_t(t.numel()) * dtype_size(stored(i));
    header[name] = {{"dtype", dtype_name(stored(i))}, {"shape", t.shape()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // pad so the data section starts 8-byte aligned

  AtomicFileWriter w(path);
  uint64_t n = h.size();
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(n >> (8 * i));  // little-endian
  w.write(len, 8);
  w.write(h);
  for (size_t i : order) io::write_tensor(w, tensors[i].second, stored(i));
  w.commit();
}

// ---- reading ----

namespace {

uint64_t as_u64(const json& v, bool& ok) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return uint64_t(v.get<int64_t>());
  ok = false;
  return 0;
}

}  // namespace

File File::open(const std::string& path) {
  File f;
  f.path_ = path;
  auto fail = [&](const std::string& msg) -> FormatError { return FormatError(path + ": " + msg); };

  io::MappedFile map;
  std::string error;
  if (!io::map_file(path, map, error)) throw fail(error);
  const uint64_t file_size = map.size;
  if (file_size < 8)
    throw fail("file too small for a safetensors header (" + std::to_string(file_size) + " bytes)");
  const uint8_t* base = map.data;

  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(base[i]) << (8 * i);
  if (header_len >= kMaxHeader)
    throw fail("header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  if (header_len > file_size - 8)
    throw fail("header length " + std::to_string(header_len) + " is larger than the file (" +
               std::to_string(file_size) + " bytes): file truncated or not safetensors");

  json header;
  try {
    header = json::parse(base + 8, base + 8 + header_len);
  } catch (const json::parse_error& e) {
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw fail("header is not a JSON object");

  f.data_ = base + 8 + header_len;
  f.data_size_ = file_size - 8 - header_len;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw fail("__metadata__ value for '" + m.key() + "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& msg) { return fail("tensor '" + name + "': " + msg); };
    if (!v.is_object()) throw bad("entry is not an object");
    TensorInfo info;
    info.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) throw bad("missing dtype");
    try {
      info.dtype = dtype_from_name(dt->get<std::string>());
    } catch (const std::invalid_argument&) {
      throw bad("unknown dtype '" + dt->get<std::string>() + "'");
    }
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) throw bad("missing shape");
    unsigned __int128 numel = 1;
    for (const json& d : *sh) {
      bool ok = true;
      uint64_t n = as_u64(d, ok);
      if (!ok) throw bad("shape " + sh->dump() + " has an entry that is not a non-negative integer");
      numel *= n;
      if (numel > (unsigned __int128)file_size) numel = (unsigned __int128)file_size + 1;  // clamp: already too big
      info.shape.push_back(int64_t(n));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2) throw bad("data_offsets must be [begin, end]");
    bool ok = true;
    info.begin = as_u64((*off)[0], ok);
    info.end = as_u64((*off)[1], ok);
    if (!ok) throw bad("data_offsets " + off->dump() + " are not non-negative integers");
    if (info.begin > info.end) throw bad("data_offsets " + off->dump() + " have begin > end");
    if (info.end > f.data_size_)
      throw bad("data_offsets " + off->dump() + " reach past the end of the data section (" +
                std::to_string(f.data_size_) + " bytes): file truncated?");
    unsigned __int128 expect = numel * dtype_size(info.dtype);
    if (expect != info.end - info.begin)
      throw bad("size mismatch: shape " + shape_str(info.shape) + " of " + dtype_name(info.dtype) + " needs " +
                (numel > file_size ? std::string("more than the file") : std::to_string(uint64_t(expect))) +
                " bytes but data_offsets give " + std::to_string(info.end - info.begin));
    f.tensors_.push_back(std::move(info));
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < f.tensors_.size(); ++i)
    if (f.tensors_[i].begin < f.tensors_[i - 1].end)
      throw fail("tensors '" + f.tensors_[i - 1].name + "' and '" + f.tensors_[i].name + "' overlap in the data section");
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_[f.tensors_[i].name] = i;
  f.mapping_ = map.mapping;
  return f;
}

double File::element_count() const {
  double n = 0;
  for (const TensorInfo& t : tensors_) n += double(shape_numel(t.shape));
  return n;
}

std::vector<std::string> File::names() const {
  std::vector<std::string> out;
  for (auto& t : tensors_) out.push_back(t.name);
  return out;
}

const TensorInfo& File::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw FormatError(path_ + ": no tensor named '" + name + "'");
  return tensors_[it->second];
}

Tensor File::tensor(const std::string& name) const {
  const TensorInfo& ti = info(name);
  size_t nbytes = size_t(ti.end - ti.begin);
  uint8_t* p = const_cast<uint8_t*>(data_ + ti.begin);
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(ti.dtype) == 0) {
    auto storage = Storage::borrow(p, nbytes, mapping_);
    return Tensor::from_storage(storage, ti.shape, ti.dtype);
  }
  auto storage = Storage::allocate(nbytes);  // misaligned (written by another tool): copy
  std::memcpy(storage->data(), p, nbytes);
  return Tensor::from_storage(storage, ti.shape, ti.dtype);
}

std::map<std::string, Tensor> load(const std::string& path) {
  File f = File::open(path);
  std::map<std::string, Tensor> out;
  for (auto& t : f.tensors()) out.emplace(t.name, f.tensor(t.name));
  return out;
}

// ---- sharded checkpoints ----

ShardedFile ShardedFile::open_single(const std::string& path) {
  ShardedFile s;
  s.path_ = path;
  s.shards_.push_back(File::open(path));
  for (auto& t : s.shards_[0].tensors()) s.shard_of_[t.name] = 0;
  return s;
}

ShardedFile ShardedFile::open_index(const std::string& index_path) {
  auto fail = [&](const std::string& msg) { return FormatError(index_path + ": " + msg); };
  std::string text;
  try {
    text = read_file(index_path);
  } catch (const IoError& e) {
    throw FormatError(e.what());
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw fail(std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) throw fail("expected a JSON object");
  auto wm = j.find("weight_map");
  if (wm == j.end()) throw fail("missing key 'weight_map'");
  if (!wm->is_object()) throw fail("'weight_map' must be an object {tensor name: shard file}");
  if (wm->empty()) throw fail("'weight_map' is empty");

  ShardedFile s;
  s.path_ = index_path;
  const std::string dir = std::filesystem::path(index_path).parent_path().string();
  std::map<std::string, size_t> shard_index;  // shard file name -> position in shards_
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    const std::string& name = it.key();
    if (!it.value().is_string()) throw fail("weight_map entry for '" + name + "' is not a file name");
    const std::string file = it.value().get<std::string>();
    // Plain names only: an index must not reach outside its folder.
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
        file.find('\\') != std::string::npos)
      throw fail("weight_map entry for '" + name + "' names '" + file + "', which is not a plain file name");
    auto [pos, fresh] = shard_index.emplace(file, s.shards_.size());
    if (fresh) s.shards_.push_back(File::open((std::filesystem::path(dir) / file).string()));
    const File& shard = s.shards_[pos->second];
    if (!shard.contains(name))
      throw fail("tensor '" + name + "' is mapped to " + shard.path() + ", which does not contain it");
    s.shard_of_[name] = pos->second;
  }
  for (size_t i = 0; i < s.shards_.size(); ++i)
    for (auto& t : s.shards_[i].tensors()) {
      auto it = s.shard_of_.find(t.name);
      if (it == s.shard_of_.end())
        throw fail("tensor '" + t.name + "' in " + s.shards_[i].path() + " is not listed in weight_map");
      if (it->second != i)
        throw fail("tensor '" + t.name + "' appears in both " + s.shards_[i].path() + " and " +
                   s.shards_[it->second].path());
    }
  return s;
}

double ShardedFile::element_count() const {
  double n = 0;
  for (const File& f : shards_) n += f.element_count();
  return n;
}

std::vector<std::string> ShardedFile::names() const {
  std::vector<std::string> out;
  for (auto& [name, i] : shard_of_) out.push_back(name);
  return out;
}

const File& ShardedFile::shard(const std::string& name) const {
  auto it = shard_of_.find(name);
  if (it == shard_of_.end()) throw FormatError(path_ + ": no tensor named '" + name + "'");
  return shards_[it->second];
}

const TensorInfo& ShardedFile::info(const std::string& name) const { return shard(name).info(name); }
const std::string& ShardedFile::file_of(const std::string& name) const { return shard(name).path(); }
Tensor ShardedFile::tensor(const std::string& name) const { return shard(name).tensor(name); }

void File::release(const std::string& name) const {
  const TensorInfo& ti = info(name);
  io::release_pages(data_ + ti.begin, ti.end - ti.begin);
}

std::string save_sharded(const std::string& dir, const std::string& stem,
                         const std::vector<std::pair<std::string, Tensor>>& tensors, uint64_t max_shard_bytes,
                         const Metadata& metadata, std::optional<DType> as) {
  if (tensors.empty()) throw FormatError(dir + ": no tensors to write");
  if (max_shard_bytes == 0) throw FormatError(dir + ": max_shard_bytes must be positive");
  check_store_as(dir, as);
  // Greedy packing in the given order.
  std::vector<std::vector<size_t>> groups(1);
  uint64_t in_group = 0, total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i].second;
    if (!t.defined()) throw FormatError(dir + ": tensor '" + tensors[i].first + "' is undefined");
    uint64_t nbytes = uint64_t(t.numel()) * dtype_size(stored_dtype(t.dtype(), as));
    if (!groups.back().empty() && in_group + nbytes > max_shard_bytes) {
      groups.emplace_back();
      in_group = 0;
    }
    groups.back().push_back(i);
    in_group += nbytes;
    total += nbytes;
  }
  char buf[64];
  json weight_map = json::object();
  for (size_t g = 0; g < groups.size(); ++g) {
    std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", g + 1, groups.size());
    const std::string file = stem + buf;
    std::vector<std::pair<std::string, Tensor>> part;
    for (size_t i : groups[g]) {
      part.push_back(tensors[i]);
      weight_map[tensors[i].first] = file;
    }
    save((std::filesystem::path(dir) / file).string(), part, metadata, as);
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const std::string index_path = (std::filesystem::path(dir) / (stem + ".safetensors.index.json")).string();
  write_file_atomic(index_path, index.dump(2) + "\n");
  return index_path;
}

}  // namespace rbe::safetensors
