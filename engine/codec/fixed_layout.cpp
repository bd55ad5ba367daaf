// Layout constructors, the int8 Lloyd-Max codebooks, and the scalar row decoder.
#include "codec/fixed_layout.h"

#include <stdexcept>

namespace rbe::codec::fixed {

std::array<int8_t, 16> lloyd_max_levels(int bits) {
  // Lloyd-Max reconstruction points of N(0,1) (computed by Lloyd iteration on
  // the density to 1e-4): b=2 +-0.4528 +-1.5104; b=3 +-0.2451 +-0.7560 +-1.3439
  // +-2.1519; b=4 +-0.1284 +-0.3880 +-0.6568 +-0.9423 +-1.2562 +-1.6180 +-2.0690
  // +-2.7326; times 127 / outermost, rounded. Fixed here so that files decode
  // identically everywhere.
  switch (bits) {
    case 2: return {-127, -38, 38, 127};
    case 3: return {-127, -79, -45, -14, 14, 45, 79, 127};
    case 4: return {-127, -96, -75, -58, -44, -31, -18, -6, 6, 18, 31, 44, 58, 75, 96, 127};
    default: throw std::invalid_argument("rbe fixed: bits per code must be 2, 3 or 4, got " + std::to_string(bits));
  }
}

static void check_shape(const char* form, int64_t rows, int64_t cols, int group) {
  if (rows <= 0 || cols <= 0)
    throw std::invalid_argument(std::string(form) + ": empty matrix [" + std::to_string(rows) + ", " +
                                std::to_string(cols) + "]");
  if (cols % group != 0)
    throw std::invalid_argument(std::string(form) + ": the row length " + std::to_string(cols) +
                                " is not a multiple of the group size " + std::to_string(group));
}

Layout q8_0_layout(int64_t rows, int64_t cols) {
  check_shape("q8_0", rows, cols, kSub);
  Layout L;
  L.kind = Kind::Q8_0, L.bits = 8, L.group = kSub, L.rows = rows, L.cols = cols;
  return L;
}

Layout q4_0_layout(int64_t rows, int64_t cols) {
  check_shape("q4_0", rows, cols, kSub);
  Layout L;
  L.kind = Kind::Q4_0, L.bits = 4, L.group = kSub, L.rows = rows, L.cols = cols;
  for (int c = 0; c < 16; ++c) L.levels[size_t(c)] = int8_t(c - 8);
  return L;
}

Layout rbe_layout(int64_t rows, int64_t cols, int bits, int group) {
  if (group != 32 && group != 64)
    throw std::invalid_argument("rbe fixed: group size must be 32 or 64, got " + std::to_string(group));
  check_shape("rbe fixed", rows, cols, group);
  Layout L;
  L.kind = Kind::Rbe, L.bits = bits, L.group = group, L.rows = rows, L.cols = cols;
  L.levels = lloyd_max_levels(bits);
  return L;
}

std::string Layout::name() const {
  switch (kind) {
    case Kind::Q8_0: return "q8_0";
    case Kind::Q4_0: return "q4_0";
    default: return "rbe-f" + std::to_string(bits) + "g" + std::to_string(group);
  }
}

void decode_groups_scalar(const Layout& L, const uint8_t* data, int64_t r, int64_t g0, int64_t g1, float* out) {
  const uint8_t* g = data + r * L.row_bytes() + g0 * L.group_bytes();
  const int S = L.subs_per_group(), sb = L.sub_bytes();
  for (int64_t gi = 0; gi < g1 - g0; ++gi, g += L.group_bytes()) {
    const float d = group_scale(g);
    for (int s = 0; s < S; ++s) {
      const uint8_t* p = g + 2 + s * sb;
      float* o = out + gi * L.group + s * kSub;
      for (int i = 0; i < kSub; ++i) o[i] = d * float(level_of(L, sub_code(p, L.bits, i)));
    }
  }
}

}  // namespace rbe::codec::fixed
