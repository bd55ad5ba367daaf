#pragma once
// Error measures between a reference and its reconstruction, accumulated in
// double so that large tensors do not lose precision.
#include <cstdint>

namespace rbe::codec {

double sum_sq(const float* a, int64_t n);                         // sum a^2
double sum_sq_diff(const float* a, const float* b, int64_t n);    // sum (a - b)^2
double rmse(const float* ref, const float* got, int64_t n);       // sqrt(mean (ref - got)^2)
double rel_rmse(const float* ref, const float* got, int64_t n);   // rmse / rms(ref) (0 when both are 0)
double snr_db(const float* ref, const float* got, int64_t n);     // 10 log10(sum ref^2 / sum err^2)

}  // namespace rbe::codec
