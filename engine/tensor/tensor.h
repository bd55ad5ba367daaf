#pragma once
// RBETensor: an n-dimensional view (shape, strides, offset) over shared,
// reference-counted storage. Copying a Tensor copies the handle, not the data.
//
// The tensor layer knows nothing about differentiation; it only carries the
// autograd fields (requires_grad, grad, grad_fn) that engine/autodiff fills.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace rbe {

using Shape = std::vector<int64_t>;

// Thrown for shape, dtype and argument errors in tensor operations.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

std::string shape_str(const Shape& s);        // "[2, 3]"
int64_t shape_numel(const Shape& s);           // product of sizes (1 for a scalar)
Shape contiguous_strides(const Shape& s);      // row-major strides in elements
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);  // -1 -> ndim-1; throws ShapeError

// A block of bytes. Owns it (64-byte aligned) or borrows it from an owner
// (for example a memory-mapped file) that it keeps alive.
class Storage {
 public:
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device = Device::CPU);
  static std::shared_ptr<Storage> borrow(void* data, size_t nbytes, std::shared_ptr<void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  Storage() = default;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_ = Device::CPU;
  bool owned_ = false;
  std::shared_ptr<void> owner_;
};

struct TensorImpl;
struct Node;  // a recorded operation in the autodiff graph (engine/autodiff/node.h)

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() == false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- constructors (contiguous, freshly allocated) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32);
  // Contiguous tensors of these shapes carved from one buffer, each starting
  // on a 64-byte boundary. Many tensors read every token (a KV cache's
  // layers, a model's weight matrices) then share 2 MiB pages even when each
  // alone is under 2 MiB (tensor/big_alloc.h): small buffers stay on 4 KiB
  // pages, and a stream over them pays a TLB walk every 4 KiB. The buffer
  // lives until the last of the tensors is gone.
  static std::vector<Tensor> empty_group(const std::vector<Shape>& shapes, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  static Tensor ones(const Shape& shape, DType dtype = DType::F32);
  static Tensor full(const Shape& shape, float value, DType dtype = DType::F32);
  static Tensor scalar(float value);  // 0-d f32 tensor
  // Normal(mean, std) from a seeded generator: same seed, same values, on any machine.
  static Tensor randn(const Shape& shape, uint64_t seed, float mean = 0.f, float std = 1.f);
  // Uniform[lo, hi) from a seeded generator.
  static Tensor rand(const Shape& shape, uint64_t seed, float lo = 0.f, float hi = 1.f);
  // [start, end) in steps of step; 1-d. Throws on step == 0.
  static Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::F32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<int32_t>& values, const Shape& shape);
  // A view of existing storage (no copy). Strides in elements; offset in elements.
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype,
                             const Shape& strides = {}, int64_t offset = 0);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t offset() const;
  int64_t dim() const;
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // Pointer to the first element (offset applied). Checks the dtype.
  template <class T> T* data() const;
  void* raw_data() const;

  // ---- conversion and copies ----
  float item() const;                        // one element, as float
  std::vector<float> to_vector() const;      // all elements in row-major order, as float
  std::vector<int32_t> to_int_vector() const;
  float at(std::initializer_list<int64_t> index) const;  // slow; for tests and debugging
  Tensor contiguous() const;                 // this tensor if already contiguous, else a copy
  Tensor clone() const;                      // always a contiguous copy (no autograd history)
  Tensor to(DType dtype) const;              // converted copy (or this tensor if same dtype)
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;  // view
  std::string to_string(int64_t max_elements = 64) const;

  // ---- autograd fields (meaning defined in engine/autodiff) ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);        // only for leaf tensors
  Tensor grad() const;                       // undefined until a backward pass fills it
  void set_grad(const Tensor& g) const;
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> fn) const;  // also sets requires_grad
  bool is_leaf() const;
  Tensor detach() const;                     // same storage, no grad history

 private:
  void check_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  Device device = Device::CPU;
  // autograd
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

template <> float* Tensor::data<float>() const;
template <> uint16_t* Tensor::data<uint16_t>() const;  // F16 or BF16
template <> int32_t* Tensor::data<int32_t>() const;
template <> uint8_t* Tensor::data<uint8_t>() const;    // Bool

}  // namespace rbe
