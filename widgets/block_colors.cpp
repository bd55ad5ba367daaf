#include "block_colors.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace block_colors {

QColor gradeColor(rbe::codec::QualityGrade g) {
  // S+ .. C: greens through yellow to reds, far enough apart to tell apart.
  static const std::array<QColor, rbe::codec::kGradeCount> colors = {
      QColor(0x1a, 0x7f, 0x37), QColor(0x4c, 0xaf, 0x50), QColor(0x9c, 0xcc, 0x65), QColor(0xd4, 0xe1, 0x57),
      QColor(0xff, 0xeb, 0x3b), QColor(0xff, 0xa7, 0x26), QColor(0xf4, 0x51, 0x1e), QColor(0xb7, 0x1c, 0x1c)};
  const int i = std::clamp(int(g), 0, rbe::codec::kGradeCount - 1);
  return colors[size_t(i)];
}

QColor sequentialColor(double t) {
  // Viridis sampled at 9 points, linearly interpolated.
  static const std::array<std::array<int, 3>, 9> stops = {{{68, 1, 84},
                                                          {71, 44, 122},
                                                          {59, 81, 139},
                                                          {44, 113, 142},
                                                          {33, 144, 141},
                                                          {39, 173, 129},
                                                          {92, 200, 99},
                                                          {170, 220, 50},
                                                          {253, 231, 37}}};
  if (!std::isfinite(t)) t = 1.0;
  t = std::clamp(t, 0.0, 1.0) * double(stops.size() - 1);
  const size_t i = std::min(size_t(t), stops.size() - 2);
  const double f = t - double(i);
  auto mix = [&](int c) { return int(std::lround(stops[i][size_t(c)] * (1 - f) + stops[i + 1][size_t(c)] * f)); };
  return QColor(mix(0), mix(1), mix(2));
}

}  // namespace block_colors
