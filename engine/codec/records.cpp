#include "codec/records.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace rbe::codec {

namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kPi = 3.14159265358979323846264338327950;

double wrap_angle(double a) {
  a = std::fmod(a, kTwoPi);
  return a < 0 ? a + kTwoPi : a;
}

// The basis functions g_b(θ, ω) at one position; s runs along direction φ,
// p across it (see docs/format.md).
double basis_value(int b, double theta, double omega, double u, double v, double s, double p) {
  const double t = omega * s + theta;
  const double tau = omega * s + (theta - kPi);
  switch (b) {
    case 0: return 1.0;
    case 1: return std::cos(t);
    case 2: return std::sin(t);
    case 3: return std::exp(-0.5 * tau * tau);
    case 4: return std::tanh(tau);
    case 5: return std::cos(t) * std::exp(-0.125 * omega * omega * (u * u + v * v));
    case 6: return s;
    case 7: return s * s - 1.0 / 3.0;
    case 8: return std::cos(omega * u + theta) * std::cos(omega * v);
    case 9: return std::cos(t) >= 0 ? 1.0 : -1.0;
    case 10: { const double f = t / kTwoPi; return 2.0 * (f - std::floor(f)) - 1.0; }
    case 11: { const double c = std::cosh(tau); return 1.0 / (c * c); }
    case 12: return s * std::cos(t);
    case 13: return std::fabs(std::cos(t)) - 2.0 / kPi;
    case 14: return std::cos(2.0 * t);
    default: return std::cos(t) * std::cos(omega * p);  // 15
  }
}

// n-th derivative in θ by central differences (step 2^-6), exact for n = 0.
double basis_dtheta(int b, int n, double theta, double omega, double u, double v, double s, double p) {
  const double h = 0x1p-6;
  switch (n) {
    case 0: return basis_value(b, theta, omega, u, v, s, p);
    case 1:
      return (basis_value(b, theta + h, omega, u, v, s, p) - basis_value(b, theta - h, omega, u, v, s, p)) / (2 * h);
    case 2:
      return (basis_value(b, theta + h, omega, u, v, s, p) - 2 * basis_value(b, theta, omega, u, v, s, p) +
              basis_value(b, theta - h, omega, u, v, s, p)) / (h * h);
    default:
      return (basis_value(b, theta + 2 * h, omega, u, v, s, p) - 2 * basis_value(b, theta + h, omega, u, v, s, p) +
              2 * basis_value(b, theta - h, omega, u, v, s, p) - basis_value(b, theta - 2 * h, omega, u, v, s, p)) /
             (2 * h * h * h);
  }
}

}  // namespace

float DecodedParams::curvature() const { return std::ldexp(1.f, curvature_log2); }

double hyperbolic_distance(float r, int curvature_log2) {
  const double sc = std::sqrt(std::ldexp(1.0, curvature_log2));
  const double rr = std::min<double>(std::max<double>(r, 0.0), 1.0 - 0x1p-24);
  return 2.0 / sc * std::atanh(rr);
}

// ---------------------------------------------------------------- bitfields

void PoincarePackedBit128::set_field(int shift, int width, uint64_t v, const char* name, int64_t max) {
  if (int64_t(v) < 0 || int64_t(v) > max)
    throw std::out_of_range(std::string("PoincarePackedBit128: ") + name + " out of range: " + std::to_string(v));
  const uint64_t mask = ((uint64_t(1) << width) - 1) << shift;
  hi_ = (hi_ & ~mask) | (v << shift);
}
void PoincarePackedBit128::set_r_code(uint32_t v) { set_field(44, 20, v, "r code", 0xFFFFF); }
void PoincarePackedBit128::set_theta_code(uint32_t v) { set_field(20, 24, v, "theta code", 0xFFFFFF); }
void PoincarePackedBit128::set_basis(int v) { set_field(16, 4, uint64_t(int64_t(v)), "basis", 15); }
void PoincarePackedBit128::set_d_theta(int v) { set_field(14, 2, uint64_t(int64_t(v)), "d_theta", 3); }
void PoincarePackedBit128::set_d_r(int v) { set_field(13, 1, uint64_t(int64_t(v)), "d_r", 1); }
void PoincarePackedBit128::set_rotation(int v) { set_field(9, 4, uint64_t(int64_t(v)), "rotation", 15); }
void PoincarePackedBit128::set_curvature_log2(int v) {
  if (v < -4 || v > 3) throw std::out_of_range("PoincarePackedBit128: log2 curvature must be in [-4, 3], got " +
                                               std::to_string(v));
  set_field(6, 3, uint64_t(v & 7), "log2 curvature", 7);
}
int PoincarePackedBit128::curvature_log2() const {
  const int k = int(hi_ >> 6) & 7;
  return k >= 4 ? k - 8 : k;
}
float PoincarePackedBit128::theta() const { return float(double(theta_code()) * 0x1p-24 * kTwoPi); }
void PoincarePackedBit128::set_r(float r) {
  if (!(r >= 0.f && r < 1.f)) throw std::out_of_range("PoincarePackedBit128: r must be in [0, 1)");
  set_r_code(uint32_t(std::min<double>(std::nearbyint(double(r) * 0x1p20), 0xFFFFF)));
}
void PoincarePackedBit128::set_theta(float theta) {
  if (!std::isfinite(theta)) throw std::out_of_range("PoincarePackedBit128: theta must be finite");
  const double f = wrap_angle(theta) / kTwoPi;
  set_theta_code(uint32_t(uint64_t(std::nearbyint(f * 0x1p24)) & 0xFFFFFF));
}

// ---------------------------------------------------------------- Packed128

Packed128 Packed128::from_params(const DecodedParams& p) {
  PoincarePackedBit128 b;
  b.set_r(p.r);
  b.set_theta(p.theta);
  b.set_basis(p.basis);
  b.set_d_theta(p.d_theta);
  b.set_d_r(p.d_r);
  b.set_rotation(p.rotation);
  b.set_curvature_log2(p.curvature_log2);
  Packed128 out;
  out.hi = b.bits();
  out.set_continuous(p.r, p.theta);
  return out;
}

DecodedParams Packed128::params() const {
  const PoincarePackedBit128 b(hi);
  DecodedParams p;
  p.r = b.r();
  p.theta = b.theta();
  p.basis = b.basis();
  p.d_theta = b.d_theta();
  p.d_r = b.d_r();
  p.rotation = b.rotation();
  p.curvature_log2 = b.curvature_log2();
  return p;
}

std::pair<float, float> Packed128::continuous() const {
  const uint32_t rb = uint32_t(lo), tb = uint32_t(lo >> 32);
  float r, t;
  std::memcpy(&r, &rb, 4);
  std::memcpy(&t, &tb, 4);
  return {r, t};
}

void Packed128::set_continuous(float r, float theta) {
  uint32_t rb, tb;
  std::memcpy(&rb, &r, 4);
  std::memcpy(&tb, &theta, 4);
  lo = uint64_t(rb) | (uint64_t(tb) << 32);
}

void Packed128::requantize() {
  auto [r, t] = continuous();
  if (!std::isfinite(r)) r = 0.f;
  if (!std::isfinite(t)) t = 0.f;
  r = std::min(std::max(r, 0.f), std::nextafter(1.f, 0.f));
  PoincarePackedBit128 b(hi);
  b.set_r(r);
  b.set_theta(t);
  hi = b.bits();
}

// ---------------------------------------------------------------- Packed64 (CORDIC)

namespace {

// Hyperbolic CORDIC iteration indices: 1..30 with 4 and 13 repeated (32 steps).
const std::vector<int>& hyperbolic_schedule() {
  static const std::vector<int> s = [] {
    std::vector<int> v;
    for (int i = 1; i <= 30; ++i) {
      v.push_back(i);
      if (i == 4 || i == 13) v.push_back(i);
    }
    return v;
  }();
  return s;
}

}  // namespace

Packed64 Packed64::from_params(float r, float theta) {
  uint64_t bits = 0;
  // θ: quadrant, then greedy circular directions towards the remainder.
  const double t = wrap_angle(theta);
  const int q = std::min(3, int(t / (kPi / 2)));
  bits |= uint64_t(q) << 62;
  double z = t - (q * kPi / 2 + kPi / 4);
  for (int i = 0; i < 30; ++i) {
    const double a = std::atan(std::ldexp(1.0, -i));
    if (z >= 0) { bits |= uint64_t(1) << (61 - i); z -= a; } else { z += a; }
  }
  // r: greedy hyperbolic directions towards artanh(r).
  const auto& sched = hyperbolic_schedule();
  double zr = std::atanh(std::min<double>(std::max<double>(r, 0.0), 0.999999));
  for (size_t k = 0; k < sched.size(); ++k) {
    const double a = std::atanh(std::ldexp(1.0, -sched[k]));
    if (zr >= 0) { bits |= uint64_t(1) << (31 - k); zr -= a; } else { zr += a; }
  }
  return Packed64{bits};
}

DecodedParams Packed64::params() const {
  // Circular: rotate (1, 0) by the quadrant centre, then by ±atan 2^-i with shift-adds.
  const int q = int(bits >> 62);
  const double c0 = q * kPi / 2 + kPi / 4;
  double x = std::cos(c0), y = std::sin(c0);
  for (int i = 0; i < 30; ++i) {
    const double sgn = (bits >> (61 - i)) & 1 ? 1.0 : -1.0, f = std::ldexp(1.0, -i);
    const double nx = x - sgn * y * f, ny = y + sgn * x * f;
    x = nx, y = ny;
  }
  DecodedParams p;
  p.theta = float(wrap_angle(std::atan2(y, x)));
  // Hyperbolic: (1, 0) -> (K cosh z, K sinh z); r = |tanh z| = |y / x|.
  const auto& sched = hyperbolic_schedule();
  double hx = 1.0, hy = 0.0;
  for (size_t k = 0; k < sched.size(); ++k) {
    const double sgn = (bits >> (31 - k)) & 1 ? 1.0 : -1.0, f = std::ldexp(1.0, -sched[k]);
    const double nx = hx + sgn * hy * f, ny = hy + sgn * hx * f;
    hx = nx, hy = ny;
  }
  p.r = float(std::min(std::fabs(hy / hx), 1.0 - 0x1p-24));
  p.basis = 1;
  return p;
}

// ---------------------------------------------------------------- BitPattern

std::string BitPattern::format(uint64_t hi) {
  const PoincarePackedBit128 b(hi);
  char buf[160];
  std::snprintf(buf, sizeof buf, "r=0x%05x|theta=0x%06x|basis=%d|dtheta=%d|dr=%d|rot=%d|logc=%d|res=%d", b.r_code(),
                b.theta_code(), b.basis(), b.d_theta(), b.d_r(), b.rotation(), b.curvature_log2(), b.reserved());
  return buf;
}

std::optional<uint64_t> BitPattern::parse(const std::string& s) {
  static const char* const names[] = {"r", "theta", "basis", "dtheta", "dr", "rot", "logc", "res"};
  int64_t vals[8];
  std::stringstream ss(s);
  std::string field;
  int k = 0;
  while (std::getline(ss, field, '|')) {
    if (k >= 8) return std::nullopt;
    const auto eq = field.find('=');
    if (eq == std::string::npos || field.substr(0, eq) != names[k]) return std::nullopt;
    const std::string num = field.substr(eq + 1);
    if (num.empty()) return std::nullopt;
    try {
      size_t used = 0;
      vals[k] = std::stoll(num, &used, 0);
      if (used != num.size()) return std::nullopt;
    } catch (...) {
      return std::nullopt;
    }
    ++k;
  }
  if (k != 8 || vals[7] != 0) return std::nullopt;
  try {
    PoincarePackedBit128 b;
    b.set_r_code(uint32_t(vals[0] < 0 || vals[0] > 0xFFFFF ? (throw std::out_of_range("r"), 0) : vals[0]));
    b.set_theta_code(uint32_t(vals[1] < 0 || vals[1] > 0xFFFFFF ? (throw std::out_of_range("t"), 0) : vals[1]));
    b.set_basis(int(vals[2]));
    b.set_d_theta(int(vals[3]));
    b.set_d_r(int(vals[4]));
    b.set_rotation(int(vals[5]));
    b.set_curvature_log2(int(vals[6]));
    return b.bits();
  } catch (const std::out_of_range&) {
    return std::nullopt;
  }
}

// ---------------------------------------------------------------- generator

void generate_block(const DecodedParams& p, int rows, int cols, float* out) {
  const double amp = p.amplitude;
  const double phi = p.rotation * (kPi / 8), cphi = std::cos(phi), sphi = std::sin(phi);
  const double omega = hyperbolic_distance(p.r, p.curvature_log2);
  const double theta = p.theta;
  const int b = p.basis & 15;
  auto coord = [](int i, int n) { return 2.0 * (i + 0.5) / n - 1.0; };

  // Plane waves without an r-derivative are separable: cos(a_j + b_i) from
  // per-row and per-column sines and cosines (the common, cheap case).
  if ((b == 1 || b == 2) && p.d_r == 0) {
    const double shift = theta + (b == 2 ? -kPi / 2 : 0.0) + p.d_theta * (kPi / 2);
    std::vector<double> ca(static_cast<size_t>(cols)), sa(static_cast<size_t>(cols));
    for (int j = 0; j < cols; ++j) {
      const double a = omega * coord(j, cols) * cphi;
      ca[size_t(j)] = std::cos(a), sa[size_t(j)] = std::sin(a);
    }
    for (int i = 0; i < rows; ++i) {
      const double bb = omega * coord(i, rows) * sphi + shift;
      const double cb = amp * std::cos(bb), sb = amp * std::sin(bb);
      float* o = out + int64_t(i) * cols;
      for (int j = 0; j < cols; ++j) o[j] = float(ca[size_t(j)] * cb - sa[size_t(j)] * sb);
    }
    return;
  }

  const double hr = 0x1p-12;
  const double r_lo = std::max(0.0, double(p.r) - hr), r_hi = std::min(1.0 - 0x1p-20, double(p.r) + hr);
  const double om_lo = hyperbolic_distance(float(r_lo), p.curvature_log2);
  const double om_hi = hyperbolic_distance(float(r_hi), p.curvature_log2);
  for (int i = 0; i < rows; ++i) {
    const double v = coord(i, rows);
    for (int j = 0; j < cols; ++j) {
      const double u = coord(j, cols);
      const double s = u * cphi + v * sphi, q = -u * sphi + v * cphi;
      double g;
      if (p.d_r)
        g = (basis_dtheta(b, p.d_theta, theta, om_hi, u, v, s, q) - basis_dtheta(b, p.d_theta, theta, om_lo, u, v, s, q)) /
            (r_hi - r_lo);
      else
        g = basis_dtheta(b, p.d_theta, theta, omega, u, v, s, q);
      out[int64_t(i) * cols + j] = float(amp * g);
    }
  }
}

}  // namespace rbe::codec
