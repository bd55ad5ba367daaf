#include "tensor/tensor.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tensor/big_alloc.h"
#include "tensor/random.h"

namespace rbe {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim)
    throw ShapeError(std::string(op) + ": dimension " + std::to_string(dim) +
                     " out of range for a " + std::to_string(ndim) + "-d tensor");
  return d;
}

// ---- Storage ----

// Training allocates and frees the same activation-sized buffers every step.
// glibc serves big blocks with fresh mmap()s and hands freed memory straight
// back, so every step page-faults its activations in again (about a quarter
// of a Mini GPT-2 step). Keep big blocks on the heap and keep the heap.
static void tune_allocator_once() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed value on 64-bit
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return true;
  }();
  (void)done;
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  if (device != Device::CPU) throw std::runtime_error("Storage: only CPU storage is available in this build");
  tune_allocator_once();
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = allocate_aligned(nbytes);
  s->nbytes_ = nbytes;
  s->owned_ = true;
  s->device_ = device;
  return s;
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes, std::shared_ptr<void> owner) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = data;
  s->nbytes_ = nbytes;
  s->owner_ = std::move(owner);
  return s;
}

Storage::~Storage() {
  if (owned_) release_aligned(data_, nbytes_);
}

// ---- constructors ----

static void check_sizes(const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) throw ShapeError("tensor: negative size in shape " + shape_str(shape));
}

static std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype) {
  check_sizes(shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(size_t(shape_numel(shape)) * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return impl;
}

Tensor Tensor::empty(const Shape& shape, DType dtype) { return Tensor(make_impl(shape, dtype)); }

std::vector<Tensor> Tensor::empty_group(const std::vector<Shape>& shapes, DType dtype) {
  if (shapes.empty()) return {};
  const size_t esize = dtype_size(dtype), align = 64;
  std::vector<size_t> offsets;  // bytes
  size_t total = 0;
  for (const Shape& s : shapes) {
    check_sizes(s);
    total = (total + align - 1) / align * align;
    offsets.push_back(total);
    total += size_t(shape_numel(s)) * esize;
  }
  std::shared_ptr<Storage> storage = Storage::allocate(total);
  std::vector<Tensor> out;
  for (size_t i = 0; i < shapes.size(); ++i)  // 64 is a multiple of every element size
    out.push_back(from_storage(storage, shapes[i], dtype, {}, int64_t(offsets[i] / esize)));
  return out;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, size_t(t.numel()) * dtype_size(dtype));
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.f, dtype); }

Tensor Tensor::full(const Shape& shape, float value, DType dtype) {
  Tensor t = empty(shape, dtype);
  int64_t n = t.numel();
  switch (dtype) {
    case DType::F32: { float* p = t.data<float>(); for (int64_t i = 0; i < n; ++i) p[i] = value; break; }
    case DType::F16: { uint16_t h = f32_to_f16(value), *p = t.data<uint16_t>(); for (int64_t i = 0; i < n; ++i) p[i] = h; break; }
    case DType::BF16: { uint16_t h = f32_to_bf16(value), *p = t.data<uint16_t>(); for (int64_t i = 0; i < n; ++i) p[i] = h; break; }
    case DType::I32: { int32_t* p = t.data<int32_t>(); for (int64_t i = 0; i < n; ++i) p[i] = int32_t(value); break; }
    case DType::Bool: { uint8_t* p = t.data<uint8_t>(); for (int64_t i = 0; i < n; ++i) p[i] = value != 0.f; break; }
  }
  return t;
}

Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::randn(const Shape& shape, uint64_t seed, float mean, float std) {
  Tensor t = empty(shape);
  Rng rng(seed);
  float* p = t.data<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = mean + std * float(rng.normal());
  return t;
}

Tensor Tensor::rand(const Shape& shape, uint64_t seed, float lo, float hi) {
  Tensor t = empty(shape);
  Rng rng(seed);
  float* p = t.data<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = lo + (hi - lo) * rng.uniformf();
  return t;
}

Tensor Tensor::arange(double start, double end, double step, DType dtype) {
  if (step == 0) throw ShapeError("arange: step must not be zero");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? int64_t(count) : 0;
  Tensor t = empty({n}, DType::F32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < n; ++i) p[i] = float(start + double(i) * step);
  return dtype == DType::F32 ? t : t.to(dtype);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  if (int64_t(values.size()) != shape_numel(shape))
    throw ShapeError("from_vector: " + std::to_string(values.size()) + " values do not fill shape " + shape_str(shape));
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_vector(const std::vector<int32_t>& values, const Shape& shape) {
  if (int64_t(values.size()) != shape_numel(shape))
    throw ShapeError("from_vector: " + std::to_string(values.size()) + " values do not fill shape " + shape_str(shape));
  Tensor t = empty(shape, DType::I32);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype,
                            const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = strides.empty() && !shape.empty() ? contiguous_strides(shape) : strides;
  if (impl->strides.size() != shape.size()) throw ShapeError("from_storage: strides and shape differ in rank");
  impl->offset = offset;
  impl->dtype = dtype;
  // The furthest element reachable must lie inside the storage.
  int64_t last = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) throw ShapeError("from_storage: negative size in " + shape_str(shape));
    if (shape[i] == 0) { last = offset - 1; break; }
    last += (shape[i] - 1) * impl->strides[i];
  }
  if (offset < 0 || (last >= offset && size_t(last + 1) * dtype_size(dtype) > storage->nbytes()))
    throw ShapeError("from_storage: view " + shape_str(shape) + " does not fit in " +
                     std::to_string(storage->nbytes()) + " bytes of storage");
  impl->device = storage->device();
  impl->storage = std::move(storage);
  return Tensor(std::move(impl));
}

// ---- metadata ----

void Tensor::check_defined(const char* what) const {
  if (!impl_) throw std::logic_error(std::string(what) + ": tensor is undefined");
}
const Shape& Tensor::shape() const { check_defined("shape"); return impl_->shape; }
const Shape& Tensor::strides() const { check_defined("strides"); return impl_->strides; }
int64_t Tensor::offset() const { check_defined("offset"); return impl_->offset; }
int64_t Tensor::dim() const { return int64_t(shape().size()); }
int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { check_defined("dtype"); return impl_->dtype; }
Device Tensor::device() const { check_defined("device"); return impl_->device; }
const std::shared_ptr<Storage>& Tensor::storage() const { check_defined("storage"); return impl_->storage; }

bool Tensor::is_contiguous() const {
  const Shape& s = shape();
  int64_t expected = 1;
  for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
    if (s[i] != 1 && impl_->strides[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  check_defined("data");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * int64_t(dtype_size(impl_->dtype));
}

static void expect_dtype(const Tensor& t, bool ok, const char* want) {
  if (!ok) throw ShapeError(std::string("data<") + want + ">: tensor has dtype " + dtype_name(t.dtype()));
}
template <> float* Tensor::data<float>() const { expect_dtype(*this, dtype() == DType::F32, "float"); return static_cast<float*>(raw_data()); }
template <> uint16_t* Tensor::data<uint16_t>() const { expect_dtype(*this, dtype() == DType::F16 || dtype() == DType::BF16, "uint16_t"); return static_cast<uint16_t*>(raw_data()); }
template <> int32_t* Tensor::data<int32_t>() const { expect_dtype(*this, dtype() == DType::I32, "int32_t"); return static_cast<int32_t*>(raw_data()); }
template <> uint8_t* Tensor::data<uint8_t>() const { expect_dtype(*this, dtype() == DType::Bool, "uint8_t"); return static_cast<uint8_t*>(raw_data()); }

// ---- element access and copies ----

static float load_as_float(const void* base, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return static_cast<const float*>(base)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::I32: return float(static_cast<const int32_t*>(base)[i]);
    case DType::Bool: return float(static_cast<const uint8_t*>(base)[i]);
  }
  return 0.f;
}

static void store_from_float(void* base, DType dt, int64_t i, float v) {
  switch (dt) {
    case DType::F32: static_cast<float*>(base)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(base)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(v); break;
    case DType::I32: static_cast<int32_t*>(base)[i] = int32_t(v); break;
    case DType::Bool: static_cast<uint8_t*>(base)[i] = v != 0.f; break;
  }
}

// Calls f(linear_index, storage_offset) for every element in row-major order.
template <class F>
static void for_each_offset(const Tensor& t, F&& f) {
  const Shape& shape = t.shape();
  const Shape& strides = t.strides();
  int64_t n = t.numel();
  if (n == 0) return;
  int64_t nd = int64_t(shape.size());
  std::vector<int64_t> idx(nd, 0);
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, off);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) { off += strides[d]; break; }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

float Tensor::item() const {
  if (numel() != 1) throw ShapeError("item: tensor of shape " + shape_str(shape()) + " has " + std::to_string(numel()) + " elements, not 1");
  return load_as_float(raw_data(), dtype(), 0);
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  const void* base = raw_data();
  DType dt = dtype();
  for_each_offset(*this, [&](int64_t i, int64_t off) { out[size_t(i)] = load_as_float(base, dt, off); });
  return out;
}

std::vector<int32_t> Tensor::to_int_vector() const {
  std::vector<int32_t> out(static_cast<size_t>(numel()));
  const void* base = raw_data();
  DType dt = dtype();
  for_each_offset(*this, [&](int64_t i, int64_t off) {
    out[size_t(i)] = dt == DType::I32 ? static_cast<const int32_t*>(base)[off] : int32_t(load_as_float(base, dt, off));
  });
  return out;
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  if (int64_t(index.size()) != dim()) throw ShapeError("at: " + std::to_string(index.size()) + " indices for a " + std::to_string(dim()) + "-d tensor");
  int64_t off = 0, d = 0;
  for (int64_t i : index) {
    int64_t n = impl_->shape[d];
    int64_t j = i < 0 ? i + n : i;
    if (j < 0 || j >= n) throw ShapeError("at: index " + std::to_string(i) + " out of range for size " + std::to_string(n));
    off += j * impl_->strides[d++];
  }
  return load_as_float(raw_data(), dtype(), off);
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  size_t es = dtype_size(dtype());
  if (is_contiguous()) {
    std::memcpy(out.raw_data(), raw_data(), size_t(numel()) * es);
    return out;
  }
  const char* src = static_cast<const char*>(raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  if (es == 4) {
    for_each_offset(*this, [&](int64_t i, int64_t off) { reinterpret_cast<uint32_t*>(dst)[i] = reinterpret_cast<const uint32_t*>(src)[off]; });
  } else {
    for_each_offset(*this, [&](int64_t i, int64_t off) { std::memcpy(dst + i * es, src + off * int64_t(es), es); });
  }
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target);
  if (is_contiguous() && convert_bulk(raw_data(), dtype(), out.raw_data(), target, numel())) return out;
  const void* src = raw_data();
  void* dst = out.raw_data();
  DType dt = dtype();
  for_each_offset(*this, [&](int64_t i, int64_t off) { store_from_float(dst, target, i, load_as_float(src, dt, off)); });
  return out;
}

Tensor Tensor::as_strided(const Shape& new_shape, const Shape& new_strides, int64_t new_offset) const {
  Tensor t = from_storage(storage(), new_shape, dtype(), new_strides, new_offset);
  return t;
}

std::string Tensor::to_string(int64_t max_elements) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype()) << ", [";
  auto v = to_vector();
  for (int64_t i = 0; i < int64_t(v.size()) && i < max_elements; ++i) os << (i ? ", " : "") << v[size_t(i)];
  if (int64_t(v.size()) > max_elements) os << ", ...";
  os << "])";
  return os.str();
}

// ---- autograd fields ----

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  check_defined("set_requires_grad");
  if (impl_->grad_fn && !on) throw std::logic_error("set_requires_grad(false) on a non-leaf tensor; use detach()");
  if (on && dtype() != DType::F32) throw ShapeError("set_requires_grad: only F32 tensors can require gradients");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { check_defined("grad"); return impl_->grad; }
void Tensor::set_grad(const Tensor& g) const { check_defined("set_grad"); impl_->grad = g; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { check_defined("grad_fn"); return impl_->grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> fn) const {
  check_defined("set_grad_fn");
  impl_->grad_fn = std::move(fn);
  impl_->requires_grad = impl_->grad_fn != nullptr;
}
bool Tensor::is_leaf() const { return !impl_ || !impl_->grad_fn; }

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  impl->device = impl_->device;
  return Tensor(std::move(impl));
}

}  // namespace rbe
