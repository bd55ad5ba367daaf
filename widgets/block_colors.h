#pragma once
// The data colour maps of the compression views: one distinct colour per
// quality grade (best = green, worst = red) and a sequential map for errors.
// These are data colours, deliberately the same in light and dark themes.
#include <QColor>

#include "codec/codec.h"

namespace block_colors {

QColor gradeColor(rbe::codec::QualityGrade g);
// t in [0, 1] (clamped) on a viridis-like sequential map: dark blue -> yellow.
QColor sequentialColor(double t);

}  // namespace block_colors
