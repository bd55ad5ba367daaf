// Tests for the Tensor class itself: constructors, dtype conversion, views,
// copies, from_storage bounds and error reporting.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "shape_error_test_util.h"
#include "tensor/big_alloc.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

using rbe::DType;
using rbe::Shape;
using rbe::ShapeError;
using rbe::Storage;
using rbe::Tensor;

namespace {

TEST(TensorCore, ShapeHelpers) {
  EXPECT_EQ(rbe::shape_str({2, 3}), "[2, 3]");
  EXPECT_EQ(rbe::shape_str({}), "[]");
  EXPECT_EQ(rbe::shape_numel({}), 1);
  EXPECT_EQ(rbe::shape_numel({2, 0, 3}), 0);
  EXPECT_EQ(rbe::contiguous_strides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(rbe::normalize_dim(-1, 3, "t"), 2);
  EXPECT_SHAPE_ERROR(rbe::normalize_dim(3, 3, "myop"), "myop");
}

TEST(TensorCore, Constructors) {
  Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::F32);
  EXPECT_TRUE(z.is_contiguous());
  for (float v : z.to_vector()) EXPECT_EQ(v, 0.f);
  for (float v : Tensor::ones({4}).to_vector()) EXPECT_EQ(v, 1.f);
  for (float v : Tensor::full({3}, 2.5f).to_vector()) EXPECT_EQ(v, 2.5f);
  EXPECT_EQ(Tensor::full({2}, 7.f, DType::I32).to_int_vector(), (std::vector<int32_t>{7, 7}));
  Tensor s = Tensor::scalar(3.f);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 3.f);
  EXPECT_EQ(Tensor::arange(0, 5).to_vector(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Tensor::arange(1, 0, -0.25).to_vector(), (std::vector<float>{1, 0.75f, 0.5f, 0.25f}));
  EXPECT_EQ(Tensor::arange(0, 3, 1, DType::I32).to_int_vector(), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_SHAPE_ERROR(Tensor::arange(0, 1, 0), "arange");
  Tensor v = Tensor::from_vector(std::vector<float>{1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  EXPECT_EQ(v.at({1, 2}), 6.f);
  EXPECT_EQ(v.at({-1, 0}), 4.f);
  EXPECT_SHAPE_ERROR(v.at({2, 0}), "out of range");
  EXPECT_SHAPE_ERROR(Tensor::from_vector(std::vector<float>{1.f, 2.f}, {3}), "from_vector");
  EXPECT_SHAPE_ERROR(Tensor::zeros({2, -1}), "negative");
  EXPECT_SHAPE_ERROR(v.item(), "item");
  EXPECT_FALSE(Tensor().defined());
}

TEST(TensorCore, EmptyGroupCarvesAlignedDisjointTensorsFromOneBuffer) {
  const std::vector<Shape> shapes = {{3, 5}, {7}, {0, 4}, {2, 2, 2}, {1}};
  for (DType dt : {DType::F32, DType::F16}) {
    std::vector<Tensor> ts = Tensor::empty_group(shapes, dt);
    ASSERT_EQ(ts.size(), shapes.size());
    for (size_t i = 0; i < ts.size(); ++i) {
      EXPECT_EQ(ts[i].shape(), shapes[i]);
      EXPECT_EQ(ts[i].dtype(), dt);
      EXPECT_TRUE(ts[i].is_contiguous());
      EXPECT_EQ(ts[i].storage(), ts[0].storage());  // one buffer
      EXPECT_EQ(reinterpret_cast<uintptr_t>(ts[i].raw_data()) % 64, 0u) << i;
    }
    // Disjoint: fill each with its own value, then every one still holds its own.
    for (size_t i = 0; i < ts.size(); ++i) rbe::ops::fill_(ts[i], float(i + 1));
    for (size_t i = 0; i < ts.size(); ++i)
      for (float v : ts[i].to_vector()) EXPECT_EQ(v, float(i + 1)) << "tensor " << i;
  }
  // The buffer outlives the group's vector while one tensor remains.
  Tensor kept = Tensor::empty_group({{4}, {4}})[1];
  rbe::ops::fill_(kept, 2.f);
  EXPECT_EQ(kept.to_vector(), (std::vector<float>{2, 2, 2, 2}));
  EXPECT_TRUE(Tensor::empty_group({}).empty());
  EXPECT_SHAPE_ERROR(Tensor::empty_group({{2}, {3, -1}}), "negative");
}

TEST(BigAlloc, ReleasedBigBuffersAreReusedAndBounded) {
  using namespace rbe;
  drop_reuse_cache();
  // Below the threshold: freed, not kept.
  void* small = allocate_aligned(kReuseMinBytes - kHugePageBytes);
  release_aligned(small, kReuseMinBytes - kHugePageBytes);
  EXPECT_EQ(reuse_cache_bytes(), 0u);
  // A big size asked for once: freed. Asked for again: kept, and it comes
  // back for the next request of the same padded size (a tensor's, through
  // Storage, too), and not for another size.
  const size_t big = kReuseMinBytes + 1000;  // padded to the next 2 MiB
  const size_t padded = (big + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  release_aligned(allocate_aligned(big), big);
  EXPECT_EQ(reuse_cache_bytes(), 0u);
  void* a = allocate_aligned(big);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % kHugePageBytes, 0u);
  std::memset(a, 7, big);
  release_aligned(a, big);
  EXPECT_EQ(reuse_cache_bytes(), padded);
  for (int i = 0; i < 2; ++i) {
    void* other = allocate_aligned(padded + kHugePageBytes);
    EXPECT_NE(other, a);
    release_aligned(other, padded + kHugePageBytes);
  }
  EXPECT_EQ(reuse_cache_bytes(), 2 * padded + kHugePageBytes);
  void* again = allocate_aligned(padded - 5);
  EXPECT_EQ(again, a);
  EXPECT_EQ(reuse_cache_bytes(), padded + kHugePageBytes);
  release_aligned(again, padded - 5);
  {
    Tensor t = Tensor::empty({int64_t(padded / 4)});
    EXPECT_EQ(t.raw_data(), a);
    EXPECT_EQ(reuse_cache_bytes(), padded + kHugePageBytes);
  }
  EXPECT_EQ(reuse_cache_bytes(), 2 * padded + kHugePageBytes);
  // Bounded: the oldest go first, and a buffer larger than the bound is freed.
  const size_t quarter = kReuseCacheBytes / 4;
  std::vector<void*> blocks;
  for (int i = 0; i < 6; ++i) blocks.push_back(allocate_aligned(quarter));
  for (void* p : blocks) release_aligned(p, quarter);
  EXPECT_EQ(reuse_cache_bytes(), kReuseCacheBytes);
  for (int i = 0; i < 2; ++i) release_aligned(allocate_aligned(kReuseCacheBytes + kHugePageBytes),
                                              kReuseCacheBytes + kHugePageBytes);
  EXPECT_EQ(reuse_cache_bytes(), kReuseCacheBytes);
  drop_reuse_cache();
  EXPECT_EQ(reuse_cache_bytes(), 0u);
}

TEST(TensorCore, RandomIsSeeded) {
  Tensor a = Tensor::randn({1000}, 42), b = Tensor::randn({1000}, 42), c = Tensor::randn({1000}, 43);
  EXPECT_EQ(a.to_vector(), b.to_vector());
  EXPECT_NE(a.to_vector(), c.to_vector());
  double m = 0, m2 = 0;
  for (float x : a.to_vector()) { m += x; m2 += double(x) * x; }
  m /= 1000; m2 /= 1000;
  EXPECT_NEAR(m, 0.0, 0.15);
  EXPECT_NEAR(m2 - m * m, 1.0, 0.15);
  for (float x : Tensor::rand({1000}, 1, -2.f, 3.f).to_vector()) {
    EXPECT_GE(x, -2.f);
    EXPECT_LT(x, 3.f);
  }
}

TEST(TensorCore, DTypeConversions) {
  // Values exactly representable in f16 and bf16 survive a round trip.
  std::vector<float> exact = {0.f, -0.f, 1.f, -2.f, 0.5f, 1024.f, -0.375f, 3.f};
  Tensor x = Tensor::from_vector(exact, {8});
  for (DType dt : {DType::F16, DType::BF16}) {
    Tensor h = x.to(dt);
    EXPECT_EQ(h.dtype(), dt);
    EXPECT_EQ(h.to(DType::F32).to_vector(), exact);
    EXPECT_EQ(h.to_vector(), exact);
  }
  // Rounding: relative error within half an ulp of each format.
  Tensor r = Tensor::randn({256}, 5, 0.f, 100.f);
  auto rv = r.to_vector();
  auto h = r.to(DType::F16).to_vector(), b = r.to(DType::BF16).to_vector();
  for (size_t i = 0; i < rv.size(); ++i) {
    EXPECT_NEAR(h[i], rv[i], std::fabs(rv[i]) * 0x1p-11f + 1e-7f);
    EXPECT_NEAR(b[i], rv[i], std::fabs(rv[i]) * 0x1p-8f + 1e-30f);
  }
  EXPECT_TRUE(std::isinf(Tensor::scalar(1e6f).to(DType::F16).item()));
  EXPECT_TRUE(std::isnan(Tensor::scalar(NAN).to(DType::BF16).item()));
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{1.9f, -2.9f}, {2}).to(DType::I32).to_int_vector(), (std::vector<int32_t>{1, -2}));
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{0.f, 0.5f, -3.f}, {3}).to(DType::Bool).to_vector(), (std::vector<float>{0, 1, 1}));
  EXPECT_TRUE(x.to(DType::F32).is_same(x));  // same dtype: no copy
  EXPECT_EQ(rbe::dtype_from_name("BF16"), DType::BF16);
  EXPECT_EQ(rbe::dtype_size(DType::F16), 2u);
  EXPECT_SHAPE_ERROR(x.data<int32_t>(), "dtype");
}

// The bulk f16 conversions (8 at a time with F16C, what Tensor::to uses for
// contiguous tensors) give the scalar ones' bits: every f16 value, and f32
// values at and next to every f16 rounding boundary (ties, subnormals,
// overflow to inf), NaNs with payloads, and random bit patterns.
TEST(TensorCore, BulkF16ConversionsMatchTheScalarOnes) {
  std::vector<uint16_t> halves(65536);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = uint16_t(i);
  std::vector<float> wide(halves.size());
  rbe::f16_to_f32_n(halves.data(), wide.data(), int64_t(halves.size()));
  for (size_t i = 0; i < halves.size(); ++i) {
    const float want = rbe::f16_to_f32(halves[i]);
    ASSERT_EQ(std::memcmp(&wide[i], &want, 4), 0) << "f16 bits " << i;
  }
  std::vector<uint32_t> bits;
  for (uint32_t h = 0; h < 65536; ++h) {  // each f16's f32 value, and the f32s around halfway to the next
    float f = rbe::f16_to_f32(uint16_t(h));
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (uint32_t d : {0u, 1u, 0xfffu, 0x1000u, 0x1001u, 0x1fffu}) bits.push_back(u + d);
  }
  for (uint32_t u : {0x7fc00001u, 0xffc12345u, 0x7f800001u, 0x477ff000u, 0x477fefffu, 0x33000000u, 0x33000001u})
    bits.push_back(u);  // NaNs with payloads, the overflow and underflow edges
  uint64_t state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    bits.push_back(uint32_t(state >> 32));
  }
  std::vector<float> f(bits.size());
  std::memcpy(f.data(), bits.data(), 4 * bits.size());
  std::vector<uint16_t> h(f.size());
  rbe::f32_to_f16_n(f.data(), h.data(), int64_t(f.size()));
  for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(h[i], rbe::f32_to_f16(f[i])) << "f32 bits " << std::hex << bits[i];
  // Tensor::to takes the bulk path for contiguous tensors, the element loop otherwise.
  Tensor t = Tensor::from_vector(std::vector<float>(f.begin(), f.begin() + 4096), {64, 64});
  std::vector<float> via_bulk = t.to(DType::F16).to(DType::F32).to_vector();
  std::vector<float> via_loop = rbe::ops::transpose(rbe::ops::transpose(t, 0, 1).to(DType::F16), 0, 1).to_vector();
  ASSERT_EQ(via_bulk.size(), via_loop.size());
  EXPECT_EQ(std::memcmp(via_bulk.data(), via_loop.data(), 4 * via_bulk.size()), 0);
}

TEST(TensorCore, ViewsShareStorage) {
  Tensor x = Tensor::arange(0, 6).as_strided({2, 3}, {3, 1}, 0);
  Tensor t = x.as_strided({3, 2}, {1, 3}, 0);  // the transpose
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(t.storage(), x.storage());
  // Writing through the base shows in the view.
  x.data<float>()[1] = 10.f;
  EXPECT_EQ(t.at({1, 0}), 10.f);
  // Size-1 dims may have any stride and still count as contiguous.
  EXPECT_TRUE(x.as_strided({1, 3}, {99, 1}, 0).is_contiguous());
  // Offset views.
  Tensor row1 = x.as_strided({3}, {1}, 3);
  EXPECT_EQ(row1.to_vector(), (std::vector<float>{3, 4, 5}));
  EXPECT_EQ(row1.offset(), 3);
  EXPECT_EQ(row1.data<float>()[0], 3.f);
}

TEST(TensorCore, CloneAndContiguous) {
  Tensor x = Tensor::arange(0, 6).as_strided({2, 3}, {3, 1}, 0);
  Tensor c = x.clone();
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(c.to_vector(), x.to_vector());
  EXPECT_TRUE(x.contiguous().is_same(x));
  Tensor t = x.as_strided({3, 2}, {1, 3}, 0);
  Tensor tc = t.contiguous();
  EXPECT_TRUE(tc.is_contiguous());
  EXPECT_FALSE(tc.is_same(t));
  EXPECT_EQ(tc.to_vector(), t.to_vector());
  EXPECT_EQ(tc.strides(), (Shape{2, 1}));
  // Clone of an F16 view keeps the dtype.
  Tensor h = t.to(DType::F16).as_strided({2, 3}, {1, 2}, 0);
  EXPECT_EQ(h.clone().dtype(), DType::F16);
  EXPECT_EQ(h.clone().to_vector(), h.to_vector());
}

TEST(TensorCore, FromStorageBounds) {
  auto st = Storage::allocate(6 * sizeof(float));
  Tensor a = Tensor::from_storage(st, {2, 3}, DType::F32);
  EXPECT_TRUE(a.is_contiguous());
  Tensor b = Tensor::from_storage(st, {3}, DType::F32, {2}, 1);  // elements 1, 3, 5
  EXPECT_EQ(b.numel(), 3);
  EXPECT_SHAPE_ERROR(Tensor::from_storage(st, {2, 4}, DType::F32), "does not fit");
  EXPECT_SHAPE_ERROR(Tensor::from_storage(st, {3}, DType::F32, {2}, 2), "does not fit");
  EXPECT_SHAPE_ERROR(Tensor::from_storage(st, {2, 3}, DType::F32, {3}), "rank");
  EXPECT_SHAPE_ERROR(Tensor::from_storage(st, {2}, DType::F32, {1}, -1), "does not fit");
  // Empty views fit anywhere; F16 views use 2-byte elements.
  EXPECT_EQ(Tensor::from_storage(st, {0, 5}, DType::F32).numel(), 0);
  EXPECT_EQ(Tensor::from_storage(st, {12}, DType::F16).numel(), 12);
  // Borrowed storage keeps its owner alive.
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3});
  auto bs = Storage::borrow(owner->data(), 3 * sizeof(float), owner);
  std::weak_ptr<std::vector<float>> weak = owner;
  owner.reset();
  Tensor v = Tensor::from_storage(bs, {3}, DType::F32);
  bs.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(v.to_vector(), (std::vector<float>{1, 2, 3}));
}

TEST(TensorCore, DetachAndGradFields) {
  Tensor x = Tensor::ones({2});
  EXPECT_FALSE(x.requires_grad());
  x.set_requires_grad(true);
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), x.storage());
  EXPECT_THROW(Tensor::ones({2}, DType::I32).set_requires_grad(true), ShapeError);
  EXPECT_NE(x.to_string().find("[2]"), std::string::npos);
}

}  // namespace
