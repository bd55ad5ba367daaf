#pragma once
// The RBE generator records: 128-bit (and 64-bit CORDIC) encodings of a point
// (r, θ) in a Poincaré ball plus a basis function, which generate every weight
// of a block as a function of its position. Bit layouts and the generator
// formula: docs/format.md, "Generator records".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rbe::codec {

constexpr int kBasisCount = 16;

// A record unpacked to floats, plus the block amplitude stored beside it.
struct DecodedParams {
  float r = 0.f;          // radius in the unit ball, [0, 1)
  float theta = 0.f;      // phase in radians, [0, 2π)
  int basis = 0;          // basis function id, 0..15
  int d_theta = 0;        // derivative order in θ, 0..3
  int d_r = 0;            // derivative in r, 0..1
  int rotation = 0;       // direction code: φ = rotation · π/8, 0..15
  int curvature_log2 = 0; // c = 2^curvature_log2, -4..3
  float amplitude = 1.f;  // block amplitude (stored as f16 by the block codec)
  float curvature() const;
  bool operator==(const DecodedParams&) const = default;
};

// Bitfield view of Seed 0 with checked setters (throw std::out_of_range).
//   [63:44] r Q0.20   [43:20] θ/2π Q0.24   [19:16] basis   [15:14] d_theta
//   [13] d_r   [12:9] rotation   [8:6] log2 c (3-bit two's complement)   [5:0] 0
class PoincarePackedBit128 {
 public:
  PoincarePackedBit128() = default;
  explicit PoincarePackedBit128(uint64_t hi) : hi_(hi) {}
  uint64_t bits() const { return hi_; }

  uint32_t r_code() const { return uint32_t(hi_ >> 44) & 0xFFFFF; }
  uint32_t theta_code() const { return uint32_t(hi_ >> 20) & 0xFFFFFF; }
  int basis() const { return int(hi_ >> 16) & 0xF; }
  int d_theta() const { return int(hi_ >> 14) & 0x3; }
  int d_r() const { return int(hi_ >> 13) & 0x1; }
  int rotation() const { return int(hi_ >> 9) & 0xF; }
  int curvature_log2() const;  // sign-extended, -4..3
  int reserved() const { return int(hi_ & 0x3F); }
  float r() const { return float(r_code()) * 0x1p-20f; }
  float theta() const;  // radians

  void set_r_code(uint32_t v);
  void set_theta_code(uint32_t v);
  void set_basis(int v);
  void set_d_theta(int v);
  void set_d_r(int v);
  void set_rotation(int v);
  void set_curvature_log2(int v);
  void set_r(float r);          // rounds to Q0.20; r must be in [0, 1)
  void set_theta(float theta);  // any angle, wrapped to [0, 2π) then Q0.24

 private:
  void set_field(int shift, int width, uint64_t v, const char* name, int64_t max);
  uint64_t hi_ = 0;
};

// The full record. hi = Seed 0 (what inference reads); lo = Seed 1: r and θ
// (radians) as two f32 (r in the low 32 bits), the continuous values that
// training updates and requantize() writes back into hi.
struct Packed128 {
  uint64_t hi = 0, lo = 0;
  static Packed128 from_params(const DecodedParams& p);  // amplitude not stored
  DecodedParams params() const;                           // from hi (amplitude 1)
  std::pair<float, float> continuous() const;             // (r, θ) from lo
  void set_continuous(float r, float theta);              // lo only
  void requantize();                                      // lo -> hi (r clamped to [0, 1))
  bool operator==(const Packed128&) const = default;
};

// Seed 0 alone, the CORDIC variant: the 64 bits are rotation directions.
//   [63:62] quadrant q, [61:32] 30 circular CORDIC directions (bit 1 = +),
//   [31:0] 32 hyperbolic CORDIC directions (iterations 1,2,3,4,4,5,..,13,13,..,30).
// θ = angle of the vector (1, 0) rotated by q·π/2 + π/4 then by ±atan 2^-i,
// i = 0..29; r = |y / x| after the hyperbolic rotations ±artanh 2^-i of (1, 0),
// i.e. r = |tanh z|, z = Σ ±artanh 2^-i. Basis 1 (plane wave), other fields 0.
struct Packed64 {
  uint64_t bits = 0;
  static Packed64 from_params(float r, float theta);  // greedy direction choice
  DecodedParams params() const;                        // runs the CORDIC iterations
};

// Prints/parses the fields of a Seed 0 word, e.g.
// "r=0x80000|theta=0x400000|basis=1|dtheta=0|dr=0|rot=4|logc=-1|res=0".
struct BitPattern {
  static std::string format(uint64_t hi);
  static std::optional<uint64_t> parse(const std::string& s);  // nullopt on any malformed field
};

// One block of the entropy form as the encoder sees it.
struct HybridEncodedBlock {
  bool has_record = false;
  Packed128 record;                 // generator record (hi stored)
  float amplitude = 0.f;            // least-squares amplitude (f16-rounded)
  std::vector<float> coefficients;  // basis coefficients (the amplitude; kept general)
  uint8_t transform = 0;            // Transform of the residual
  float step = 0.f;                 // quantizer step Δ
  std::vector<uint8_t> residual;    // the residual's coded bytes
  uint8_t grade = 0;                // QualityGrade met
  float rmse = 0.f, rel_rmse = 0.f, bits = 0.f;
};

// Writes a·g(u, v) for every weight of a rows × cols block, row-major, where
// g is the record's basis function at the weight's normalised position
// u = 2(j + ½)/cols - 1 (columns), v = 2(i + ½)/rows - 1 (rows). See
// docs/format.md for g. out[rows * cols] is overwritten.
void generate_block(const DecodedParams& p, int rows, int cols, float* out);

// Hyperbolic distance of the record's point from the origin in the ball of
// curvature c (radius 1/sqrt(c)): d = (2/sqrt(c)) artanh(r).
double hyperbolic_distance(float r, int curvature_log2);

}  // namespace rbe::codec
