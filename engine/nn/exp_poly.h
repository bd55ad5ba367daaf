#pragma once
// exp(x) on a GCC vector of floats (V) with its same-size int32 vector (VI):
// the Cephes polynomial, about 1 ulp. Inputs below -87.3 give ~1e-38 instead
// of 0 (harmless here). kernel_util.h's 8-lane exp8 and vec16.h's 16-lane
// exp16 (the AVX-512 activation, softmax and prompt attention) both use it;
// each width is instantiated only in files built with its own ISA flags.
namespace rbe::nn::detail {

template <class V, class VI>
inline V exp_cephes(V x) {
  x = x < -87.3f ? V{} - 87.3f : x;
  x = x > 88.7f ? V{} + 88.7f : x;
  // n = round(x / ln2) by adding 1.5 * 2^23; n's integer bits sit in z.
  const float kShift = 12582912.f;
  const V z = x * 1.44269504088896341f + kShift;
  const V n = z - kShift;
  V r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const VI e = ((VI)z - 0x4B400000 + 127) << 23;  // (VI)z reinterprets the bits
  return p * (V)e;
}

}  // namespace rbe::nn::detail
