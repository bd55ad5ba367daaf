// The regrouped copy (fixed_interleaved.h) standing in for the stored bytes:
// rows and scale groups rebuilt from it byte for byte; every batched kernel
// of this machine reading the copy gives the bits it gives reading the
// stored bytes; and a PackedMatrix that is the only owner of its tensor
// drops the stored bytes once the copy is made (and keeps them when shared),
// every product and decode unchanged; and the copy giving back the source's
// pages as it goes. Skipped without the VNNI kernel.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codec/fixed_interleaved.h"
#include "codec/fixed_internal.h"
#include "codec/fixed_kernels.h"
#include "codec/fixed_kernels_internal.h"
#include "fixed_test_util.h"

using namespace rbe;
using namespace rbe::codec;
using namespace rbe::fixed_test;

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST(CodecFixedStoredRows, RebuildsEveryStoredByte) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  for (const Form& f : kForms)
    for (int64_t rows : {1, 16, 37})
      for (int64_t cols : {64, 192}) {
        const EncodedTensor e = enc(gaussian(rows, cols, uint64_t(rows + cols)), settings(f.codec, f.bpw));
        const fixed::Layout L = fixed::layout_of(e);
        const fixed::InterleavedRows copy(L, e.data);
        const std::string what = L.name() + " " + std::to_string(rows) + "x" + std::to_string(cols);
        std::vector<uint8_t> all(size_t(e.size), 0xA5);
        copy.stored_rows(0, rows, all.data());
        EXPECT_EQ(std::memcmp(all.data(), e.data, size_t(e.size)), 0) << what;
        // A range inside one block, across blocks, and the last rows.
        for (auto [r0, r1] : {std::pair<int64_t, int64_t>{rows / 2, rows / 2 + 1}, {rows / 3, rows}, {0, rows / 2}}) {
          std::vector<uint8_t> part(size_t((r1 - r0) * L.row_bytes()) + 1, 0xA5);
          copy.stored_rows(r0, r1, part.data());
          EXPECT_EQ(std::memcmp(part.data(), e.data + r0 * L.row_bytes(), part.size() - 1), 0) << what << " " << r0;
          EXPECT_EQ(part.back(), 0xA5) << what << ": nothing written past the rows";
        }
        // Some scale groups of a range of rows (a block and a row past it, or the last row).
        const int64_t G = L.groups_per_row(), gb = L.group_bytes();
        for (auto [g0, g1] : {std::pair<int64_t, int64_t>{0, 1}, {G - 1, G}, {1, G}, {0, G}}) {
          if (g0 >= g1) continue;
          const int64_t r0 = rows > 16 ? 0 : rows - 1, r1 = rows > 16 ? 17 : rows;
          std::vector<uint8_t> grp(size_t((r1 - r0) * (g1 - g0) * gb) + 1, 0xA5);
          copy.stored(r0, r1, g0, g1, grp.data());
          for (int64_t r = r0; r < r1; ++r)
            EXPECT_EQ(std::memcmp(grp.data() + (r - r0) * (g1 - g0) * gb, e.data + r * L.row_bytes() + g0 * gb,
                                  size_t((g1 - g0) * gb)),
                      0)
                << what << " row " << r << " groups " << g0 << ".." << g1;
          EXPECT_EQ(grp.back(), 0xA5) << what << ": nothing written past the groups";
        }
      }
}

// Each batched kernel strip by strip from the copy: the bits it gives from
// the stored bytes (the same bytes reach the same arithmetic), at sizes that
// end inside a strip of 16 and of 32 rows.
TEST(CodecFixedStoredRows, EveryBatchedKernelReadsTheCopyAsTheStoredBytes) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  const std::vector<std::string> names = fixed_gemm_kernel_names();
  ASSERT_FALSE(names.empty());
  for (const Form& f : kForms)
    for (int64_t rows : {37, 80}) {
      const int64_t cols = 192;
      const EncodedTensor e = enc(gaussian(rows, cols, uint64_t(rows)), settings(f.codec, f.bpw));
      const fixed::Layout L = fixed::layout_of(e);
      const fixed::InterleavedRows copy(L, e.data);
      const std::vector<float> bias = normal(rows, 5);
      for (const std::string& name : names)
        for (int64_t N : {3, 20}) {
          const std::vector<float> X = normal(N * cols, uint64_t(N));
          std::vector<float> in_place(size_t(N * rows)), from_copy(size_t(N * rows), -1.f);
          fixed::gemm_with(name.c_str(), L, fixed::StoredRows(e.data), N, X.data(), bias.data(), in_place.data());
          fixed::gemm_with(name.c_str(), L, fixed::StoredRows(copy), N, X.data(), bias.data(), from_copy.data());
          EXPECT_TRUE(same_bits(in_place, from_copy)) << name << " " << L.name() << " rows " << rows << " N " << N;
        }
    }
}

// make_packed_fixed given the only reference: the stored bytes go once the
// copy is made (the probe, every product size and the decode then read the
// copy); given a shared tensor, they stay. Both give the same bits.
TEST(CodecFixedStoredRows, PackedMatrixDropsTheStoredBytesItAloneHolds) {
  if (!has_vnni_kernel() || !fixed_matvecs_regrouped()) GTEST_SKIP() << "the matvecs do not run on the copy here";
  const int64_t rows = 70, cols = 256;
  const std::vector<float> bias = normal(rows, 3);
  for (const Form& f : kForms) {
    const Tensor W = gaussian(rows, cols, 17);
    auto held = std::make_shared<const EncodedTensor>(enc(W, settings(f.codec, f.bpw)));
    auto alone = std::make_shared<const EncodedTensor>(enc(W, settings(f.codec, f.bpw)));  // the same bytes
    ASSERT_EQ(std::memcmp(held->data, alone->data, size_t(held->size)), 0);
    const std::weak_ptr<const EncodedTensor> watch_held = held, watch_alone = alone;
    const auto shared_pm = make_packed_fixed(held), sole_pm = make_packed_fixed(std::move(alone));
    const std::string what = fixed::layout_of(*held).name();
    EXPECT_FALSE(watch_alone.expired()) << what << ": nothing is dropped before the first use";

    std::vector<float> a(size_t(rows * cols)), b(size_t(rows * cols));
    sole_pm->decode_rows(0, rows, b.data());  // the first use: makes the copy
    shared_pm->decode_rows(0, rows, a.data());
    EXPECT_TRUE(watch_alone.expired()) << what << ": the sole owner dropped the stored bytes";
    EXPECT_FALSE(watch_held.expired()) << what;
    EXPECT_TRUE(same_bits(a, b)) << what << ": decode of every row";
    EXPECT_TRUE(same_bits(a, decode_all(*held))) << what << ": decode against the tensor's own";
    sole_pm->decode_rows(rows - 3, rows - 1, b.data());
    shared_pm->decode_rows(rows - 3, rows - 1, a.data());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), size_t(2 * cols) * sizeof(float)), 0) << what << ": a lookup";
    EXPECT_EQ(sole_pm->bytes(), held->size) << what << ": the form's size, as stored";
    EXPECT_EQ(sole_pm->storage().size(), shared_pm->storage().size()) << what;

    for (int64_t N : {1, 5, 9, 40}) {  // the matvec, the few-row matvecs, the batched kernel
      const std::vector<float> X = normal(N * cols, uint64_t(N) + 100);
      std::vector<float> want(size_t(N * rows)), got(size_t(N * rows));
      shared_pm->gemm(N, X.data(), bias.data(), want.data());
      sole_pm->gemm(N, X.data(), bias.data(), got.data());
      EXPECT_TRUE(same_bits(want, got)) << what << " N " << N;
    }
  }
}

// With give_back the copy hands back the stored bytes' pages (range by
// range as it regroups them, which this cannot see, then every whole page):
// none of the source's pages is resident afterwards, and it is the same copy.
TEST(CodecFixedStoredRows, GivesBackTheSourcePagesAsItCopies) {
  if (!has_vnni_kernel()) GTEST_SKIP() << "no AVX-512 VNNI kernel on this machine";
  const EncodedTensor e = enc(gaussian(4096, 768, 5), settings("q4_0"));
  const fixed::Layout L = fixed::layout_of(e);
  const size_t page = size_t(sysconf(_SC_PAGESIZE)), n = (size_t(e.size) + page - 1) / page * page;
  void* mem = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* src = static_cast<uint8_t*>(mem);
  std::memcpy(src, e.data, size_t(e.size));  // every page resident
  const fixed::InterleavedRows kept(L, e.data), given(L, src, true);
  ASSERT_EQ(kept.bytes(), given.bytes());
  EXPECT_EQ(std::memcmp(kept.data(), given.data(), size_t(kept.bytes())), 0);
  std::vector<unsigned char> resident(n / page);
  ASSERT_EQ(mincore(mem, n, resident.data()), 0);
  size_t still = 0;
  for (unsigned char r : resident) still += r & 1;
  EXPECT_EQ(still, 0u) << still << " of " << resident.size() << " pages still resident";
  munmap(mem, n);
}
