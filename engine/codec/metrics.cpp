#include "codec/metrics.h"

#include <cmath>
#include <limits>

namespace rbe::codec {

double sum_sq(const float* a, int64_t n) {
  double acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) acc[j] += double(a[i + j]) * double(a[i + j]);
  for (; i < n; ++i) acc[0] += double(a[i]) * double(a[i]);
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

double sum_sq_diff(const float* a, const float* b, int64_t n) {
  double acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) {
      const double d = double(a[i + j]) - double(b[i + j]);
      acc[j] += d * d;
    }
  for (; i < n; ++i) {
    const double d = double(a[i]) - double(b[i]);
    acc[0] += d * d;
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

double rmse(const float* ref, const float* got, int64_t n) {
  return n > 0 ? std::sqrt(sum_sq_diff(ref, got, n) / double(n)) : 0.0;
}

double rel_rmse(const float* ref, const float* got, int64_t n) {
  const double e = sum_sq_diff(ref, got, n), s = sum_sq(ref, n);
  if (s == 0) return e == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(e / s);
}

double snr_db(const float* ref, const float* got, int64_t n) {
  const double e = sum_sq_diff(ref, got, n), s = sum_sq(ref, n);
  if (e == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(s / e);
}

}  // namespace rbe::codec
