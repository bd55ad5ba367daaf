#pragma once
// Quantizers for transform coefficients, both rate-distortion optimised
// (minimise squared error + λ · bits under a RateModel):
//   TCQ  8-state Ungerboeck trellis-coded quantization over the union codebook
//        {kΔ}, subsets D_j = {k : k mod 4 = j}. In state s the allowed points are
//        the union A_{s&1} (even or odd k); the subset taken picks the next
//        state. The coded symbol is m = (k - (s&1)) / 2 with context s&1, so the
//        decoder follows the trellis from state 0. With entropy-coded symbols
//        this is ECTCQ (Fischer & Wang; Marcellin & Fischer).
//   SQ   scalar uniform quantization with RD-optimised rounding (ECSQ), one
//        context; reconstruction mΔ.
// Each call quantizes one independent sequence (a block), starting in state 0.
#include <cstdint>
#include <vector>

#include "codec/entropy.h"

namespace rbe::codec {

// Bits per symbol for the RD search, per context; symbols outside the table
// cost escape_bits plus 2 bits per doubling beyond it.
struct RateModel {
  int32_t lo[2] = {0, 0};
  std::vector<float> bits[2];
  float escape_bits = 24.f;
  float cost(int ctx, int32_t m) const {
    const auto& b = bits[ctx];
    const int64_t i = int64_t(m) - lo[ctx];
    if (i >= 0 && i < int64_t(b.size())) return b[size_t(i)];
    return escape_bits;
  }
  // A prior before any statistics: coefficients ~ N(0, (sigma_over_step Δ)^2).
  static RateModel gaussian(double sigma_over_step, bool tcq);
  // From symbol counts (ctx, lo, counts) with a small pseudo-count so unseen neighbours stay finite.
  static RateModel from_counts(const std::vector<uint64_t> counts[2], const int32_t lo[2], int contexts);
};

// Trellis tables: next state and subset for (state, branch).
int tcq_next_state(int state, int branch);
int tcq_subset(int state, int branch);

// Quantizes x[0, n) with step Δ; writes sym[i] and ctx[i] (its context); returns the squared error.
// With AVX2 the four subsets and eight states go in vector lanes (with
// AVX-512 two coefficients' subsets in one register); the result is bit for
// bit tcq_quantize_scalar's (the plain loop, kept as the reference).
double tcq_quantize(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                    uint8_t* ctx);
double tcq_quantize_scalar(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                           uint8_t* ctx);
// The searches by name ("avx512", "avx2", "scalar"), nullptr where this CPU
// or build has none; tcq_quantize uses the first of them there is. For tests.
using TcqFn = double (*)(const float*, int64_t, float, float, const RateModel&, int32_t*, uint8_t*);
TcqFn tcq_kernel(const char* name);
double sq_quantize(const float* x, int64_t n, float step, float lambda, const RateModel& rm, int32_t* sym,
                   uint8_t* ctx);

// Follows the trellis while decoding: context of the next symbol, then its value.
class TcqTracker {
 public:
  int context() const { return state_ & 1; }
  // Value kΔ of symbol m; advances the state (inline: a block's decode is a
  // chain of these). Branch 0 of state s is its first subset (tcq_subset(s, 0)).
  float next(int32_t m, float step) {
    static constexpr int kFirstSubset[8] = {0, 1, 2, 3, 2, 3, 0, 1};
    const int64_t k = 2 * int64_t(m) + (state_ & 1);
    state_ = (2 * state_ + int((k & 3) != kFirstSubset[state_])) & 7;
    return float(double(k) * step);
  }

 private:
  int state_ = 0;
};

// Full reconstructions (encoder side and tests).
void tcq_dequantize(const int32_t* sym, int64_t n, float step, float* out);
void sq_dequantize(const int32_t* sym, int64_t n, float step, float* out);

}  // namespace rbe::codec
