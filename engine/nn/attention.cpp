#include "nn/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "autodiff/node.h"
#include "nn/kernel_util.h"
#include "nn/attention_avx512.h"
#include "nn/decode_attention_avx512.h"
#include "nn/pointwise_avx512.h"
#include "tensor/env_switch.h"
#include "tensor/kernels/cpu_features.h"
#include "tensor/kernels/gemm.h"
#include "tensor/op_timer.h"

namespace rbe::nn {

using namespace rbe::nn::detail;

namespace {

// Decoding, one query row of a head: out[HD] = softmax(scale * K q) V over
// nv cached positions. K and V stream from memory every token (12 MB per
// token on the 124M model at 192 positions), so they are read in blocks of
// kBlock positions, K then V, with an online softmax (the running maximum
// rescales the partial sum): two streams in flight instead of one; q and out
// stay in registers. K is prefetched kAhead bytes ahead; a block's V rows are
// prefetched while its K rows are scored, so that they arrive before the
// weighted sum reads them. On the Zen 3 VM, with an f16 cache, that was
// faster than prefetching V kAhead ahead in its own loop in 7 of 8 alternating
// pairs (0.39-0.54 against 0.45-0.61 ms per token); with an f32 cache no
// difference stood out of the noise (docs/performance.md, "A probe paired
// with the tokens"). The weighted sum, which asked for nothing, now asks for
// the next block's K and V rows, and the first block's K rows are asked for
// before the loop: the loads no longer wait for memory at each block's start.
// On the Zen 4 VM attention took 0.84-0.87 of the time before (f16 cache;
// 0.87-0.92 with f32), paired step by step in one process
// (docs/performance.md, "Attention asks for the next block").
// G heads of one row (the same cached positions) go through the loops
// together, each head's arithmetic exactly as alone: with G = 2, four
// streams in flight instead of two. Paired call by call within one run on
// the Zen 4 VM (124M f16, 200 tokens after a 128-token prompt), attention
// took 0.938-1.013 (median 0.944) of the time of one head at a time, about
// 0.025 ms of a token, too little for whole tokens to show
// (docs/performance.md, "Pieces that halve").
// T: the cache's storage, float or f16 bits (converted as loaded).
template <int HD, class T, int G>
void decode_heads(const float* const* q, const T* const* K, const T* const* V, int64_t nv, float scale,
                  float* const* out) {
  constexpr int C = HD / 8;
  constexpr int64_t kBlock = kDecodeBlock, kAhead = kDecodeAhead;
  v8f qv[G][C], o[G][C];
  float scores[G][kBlock];
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < C; ++c) qv[g][c] = load8(q[g] + 8 * c), o[g][c] = splat8(0.f);
  float m[G];
  double l[G];
  for (int g = 0; g < G; ++g) m[g] = -INFINITY, l[g] = 0;
  auto prefetch_row = [](const T* row) {
    for (int b = 0; b < HD * int(sizeof(T)); b += 64) __builtin_prefetch(reinterpret_cast<const char*>(row) + b, 0, 2);
  };
  for (int64_t j = 0; j < std::min(kBlock, nv); ++j)
    for (int g = 0; g < G; ++g) prefetch_row(K[g] + j * HD);
  for (int64_t j0 = 0; j0 < nv; j0 += kBlock) {
    const int64_t n = std::min(kBlock, nv - j0);
    for (int64_t j = 0; j < n; ++j)
      for (int g = 0; g < G; ++g) {
        const T* kj = K[g] + (j0 + j) * HD;
        const char* vj = reinterpret_cast<const char*>(V[g] + (j0 + j) * HD);
        for (int b = 0; b < HD * int(sizeof(T)); b += 64) {
          __builtin_prefetch(reinterpret_cast<const char*>(kj) + kAhead + b, 0, 2);
          __builtin_prefetch(vj + b, 0, 2);
        }
        v8f acc = qv[g][0] * load8(kj);
        for (int c = 1; c < C; ++c) acc += qv[g][c] * load8(kj + 8 * c);
        scores[g][j] = scale * hsum8(acc);
      }
    for (int g = 0; g < G; ++g) {
      const float bm = std::max(m[g], max_f32(scores[g], n));
      if (bm > m[g]) {  // a new maximum: rescale what has been summed so far
        const float f = m[g] == -INFINITY ? 0.f : fast_exp(m[g] - bm);
        for (int c = 0; c < C; ++c) o[g][c] *= f;
        l[g] *= f;
        m[g] = bm;
      }
      l[g] += exp_shift_sum(scores[g], scores[g], n, m[g]);
    }
    const int64_t next = std::min(kBlock, nv - j0 - kBlock);  // positions of the next block
    for (int64_t j = 0; j < n; ++j)
      for (int g = 0; g < G; ++g) {
        const T* vj = V[g] + (j0 + j) * HD;
        if (j < next) prefetch_row(K[g] + (j0 + kBlock + j) * HD), prefetch_row(V[g] + (j0 + kBlock + j) * HD);
        const v8f p = splat8(scores[g][j]);
        for (int c = 0; c < C; ++c) o[g][c] += p * load8(vj + 8 * c);
      }
  }
  for (int g = 0; g < G; ++g) {
    const v8f inv = splat8(float(1.0 / l[g]));
    for (int c = 0; c < C; ++c) store8(out[g] + 8 * c, o[g][c] * inv);
  }
}

// Any head size: plain loops.
template <class T>
void decode_head_any(const float* q, const T* K, const T* V, int64_t nv, int64_t hd, float scale, float* scores,
                     float* out) {
  for (int64_t j = 0; j < nv; ++j) scores[j] = scale * dot_f32(q, K + j * hd, hd);
  const float mx = max_f32(scores, nv);
  const float inv = float(1.0 / exp_shift_sum(scores, scores, nv, mx));
  std::fill(out, out + hd, 0.f);
  for (int64_t j = 0; j < nv; ++j) {
    const float p = scores[j] * inv;
    const T* vj = V + j * hd;
    for (int64_t d = 0; d < hd; ++d) out[d] += p * to_f32(vj[d]);
  }
}

// n values into the cache's storage type: f16 rounded to nearest even, and
// clamped to f16's largest finite value (65504) so that an outsized key or
// value stays finite rather than turning the attention into inf - inf = NaN.
void store_kv(float* dst, const float* src, int64_t n) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }
void store_kv(uint16_t* dst, const float* src, int64_t n) {
  constexpr float kMax = 65504.f;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f v = load8(src + i);
    v = v > kMax ? splat8(kMax) : v;
    v = v < -kMax ? splat8(-kMax) : v;
    store8(dst + i, v);
  }
  for (; i < n; ++i) from_f32(std::clamp(src[i], -kMax, kMax), dst + i);
}

// rows x hd cached values as f32 for the prompt path's sgemm: the cache
// itself when it is f32, else converted into buf.
const float* kv_as_f32(const float* p, int64_t n, std::vector<float>&) { return p; }
const float* kv_as_f32(const uint16_t* p, int64_t n, std::vector<float>& buf) {
  buf.resize(size_t(n));
  f16_to_f32_n(p, buf.data(), n);
  return buf.data();
}

// Query rows per block of a prompt's attention (below). Smaller blocks skip
// more of the square but make smaller SGEMMs; blocks of 64, 128 and 256
// measured alike on 896-token prompts (docs/performance.md).
constexpr int64_t kQueryBlock = 64;

// Decoding's attention in 16-lane vectors (decode_attention_avx512.h) on
// Intel CPUs with AVX-512: half the instructions of the 8-lane loops. On the
// Emerald Rapids VM attention over 1000 cached positions took 0.91-0.97 of
// the time (bench_attention), and 0.92 in 124M tokens at that length; at 160
// positions no difference stood out (docs/performance.md, "Decode attention
// in 16 lanes"). Zen 4, which runs a 512-bit operation as two halves and was
// slower with such a loop (thirtieth session), keeps the 8-lane loops.
// RBE_DECODE_ATTENTION=avx2 or avx512 forces one.
std::atomic<bool> g_decode_avx512{pointwise_avx512_usable() && !env_equals("RBE_DECODE_ATTENTION", "avx2") &&
                                  (!kernels::cpu_is_amd() || env_equals("RBE_DECODE_ATTENTION", "avx512"))};

// Head size 64 on AVX-512: the fused kernel (attention_avx512.h) instead of
// two SGEMMs and a softmax per block. RBE_PROMPT_ATTENTION=sgemm keeps the
// SGEMMs (to compare).
bool fused_prompt_attention(int64_t hd) {
  static const bool ok = pointwise_avx512_usable() && !env_equals("RBE_PROMPT_ATTENTION", "sgemm");
  return hd == 64 && ok;
}

// Appends qkv's keys and values [B, Tn] to cache layer `layer` and writes the
// attention output of every query to y [B, Tn, C].
template <class T>
void attend_cached_t(const float* q3, int64_t B, int64_t Tn, int64_t C, KVCache& cache, int64_t layer, int64_t H,
                     float* yp) {
  const int64_t hd = C / H, L = cache.length, nk = L + Tn;
  const int64_t* row_start = cache.row_start.data();
  T* kp = static_cast<T*>(cache.k[size_t(layer)].raw_data());
  T* vp = static_cast<T*>(cache.v[size_t(layer)].raw_data());
  const int64_t C3 = 3 * C, ML = cache.max_length;
  const float scale = float(1.0 / std::sqrt(double(hd)));
  auto append_kv = [&](int64_t bh) {  // the new keys/values of (b, h) into the cache
    const float* src = q3 + bh / H * Tn * C3 + bh % H * hd;
    for (int64_t t = 0; t < Tn; ++t) {
      store_kv(kp + (bh * ML + L + t) * hd, src + t * C3 + C, hd);
      store_kv(vp + (bh * ML + L + t) * hd, src + t * C3 + 2 * C, hd);
    }
  };
  if (Tn == 1) {  // decoding one token: plain vector loops beat sgemm's packing at M = 1
    // Append every head's new key and value first, then attend two heads
    // of a row at a time (head size 64): four streams from memory instead
    // of two. Each head's arithmetic is the same as alone.
    parallel_range(B * H, 2, [&](int64_t t0, int64_t t1) {
      for (int64_t bh = t0; bh < t1; ++bh) append_kv(bh);
      std::vector<float> S(hd == 64 ? 0 : static_cast<size_t>(nk));
      for (int64_t bh = t0; bh < t1;) {
        // Row b attends to keys row_start[b] .. (causal); earlier keys are padding.
        const int64_t b = bh / H, ks = std::min(row_start[b], nk), nv = nk - ks;
        const int g = hd == 64 && bh + 1 < t1 && (bh + 1) / H == b ? 2 : 1;  // one row: the same positions
        const float* q[2];
        const T *K[2], *V[2];
        float* out[2];
        for (int i = 0; i < g; ++i) {
          const int64_t h = (bh + i) % H;
          q[i] = q3 + b * C3 + h * hd;
          K[i] = kp + ((bh + i) * ML + ks) * hd;
          V[i] = vp + ((bh + i) * ML + ks) * hd;
          out[i] = yp + b * C + h * hd;
        }
        if (nv == 0) {  // a padded query: nothing to attend to
          for (int i = 0; i < g; ++i) std::fill(out[i], out[i] + hd, 0.f);
        } else if (hd == 64 && decode_attention_avx512()) {
          decode_heads64_avx512(q, K, V, g, nv, scale, out);
        } else if (g == 2) {
          decode_heads<64, T, 2>(q, K, V, nv, scale, out);
        } else if (hd == 64) {
          decode_heads<64, T, 1>(q, K, V, nv, scale, out);
        } else {
          decode_head_any(q[0], K[0], V[0], nv, hd, scale, S.data(), out[0]);
        }
        bh += g;
      }
    });
    return;
  }
  const bool softmax16 = pointwise_avx512_usable();  // score rows 16 lanes at a time
  parallel_range(B * H, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> S(static_cast<size_t>(std::min(Tn, kQueryBlock) * nk)), Kf, Vf;
    for (int64_t bh = t0; bh < t1; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const T* K = kp + bh * ML * hd;  // [ML, hd] of this (b, h)
      const T* V = vp + bh * ML * hd;
      const float* src = q3 + b * Tn * C3 + h * hd;
      append_kv(bh);
      // Row b attends to keys row_start[b] .. (causal); earlier keys are padding.
      const int64_t ks = std::min(row_start[b], nk), nv = nk - ks;
      const T* Ks = K + ks * hd;
      const T* Vs = V + ks * hd;
      // Query rows before r0 sit at padded positions: zero output, no work.
      const int64_t r0 = std::clamp<int64_t>(row_start[b] - L, 0, Tn), M = Tn - r0;
      for (int64_t r = 0; r < r0; ++r) std::fill_n(yp + (b * Tn + r) * C + h * hd, hd, 0.f);
      if (M == 0) continue;
      // Query row r sits at position L + r0 + r and sees keys ks .. L + r0 + r
      // (unpadded, the same product as alone). Blocks of kQueryBlock query
      // rows multiply only the keys their last row sees: the causal triangle
      // in steps rather than the whole square.
      const float* Kf32 = kv_as_f32(Ks, nv * hd, Kf);
      const float* Vf32 = kv_as_f32(Vs, nv * hd, Vf);
      if (fused_prompt_attention(hd)) {
        attend_causal64_avx512(src + r0 * C3, C3, M, Kf32, Vf32, L + r0 - ks, scale, yp + (b * Tn + r0) * C + h * hd, C);
        continue;
      }
      for (int64_t q0 = 0; q0 < M; q0 += kQueryBlock) {
        const int64_t mb = std::min(kQueryBlock, M - q0), nb = L + r0 + q0 + mb - ks;
        // S[mb, nb] = scale * Q[rows] K[ks : ks + nb]^T
        kernels::sgemm(false, true, mb, nb, hd, scale, src + (r0 + q0) * C3, C3, Kf32, hd, 0.f, S.data(), nb);
        for (int64_t r = 0; r < mb; ++r) {
          float* row = S.data() + r * nb;
          const int64_t n = L + r0 + q0 + r + 1 - ks;
          if (softmax16) {
            softmax_row_avx512(row, n, nb);
            continue;
          }
          const float mx = max_f32(row, n);
          const float inv = float(1.0 / exp_shift_sum(row, row, n, mx));
          for (int64_t j = 0; j < n; ++j) row[j] *= inv;
          for (int64_t j = n; j < nb; ++j) row[j] = 0.f;
        }
        kernels::sgemm(false, false, mb, hd, nb, 1.f, S.data(), nb, Vf32, hd, 0.f,
                       yp + (b * Tn + r0 + q0) * C + h * hd, C);
      }
    }
  });
}

// qkv [B, Tn, 3C] -> y [B, Tn, C], both contiguous.
void attend_cached(const float* qkv, int64_t B, int64_t Tn, int64_t C, KVCache& cache, int64_t layer, int64_t H,
                   float* y) {
  if (cache.dtype() == DType::F16) attend_cached_t<uint16_t>(qkv, B, Tn, C, cache, layer, H, y);
  else attend_cached_t<float>(qkv, B, Tn, C, cache, layer, H, y);
}

}  // namespace

namespace detail {
bool decode_attention_avx512() { return g_decode_avx512.load(std::memory_order_relaxed); }
void set_decode_attention_avx512(bool on) {
  g_decode_avx512.store(on && pointwise_avx512_usable(), std::memory_order_relaxed);
}
}  // namespace detail

KVCache::KVCache(int64_t n_layer, int64_t batch_, int64_t n_head, int64_t max_length_, int64_t head_dim,
                 DType dtype)
    : max_length(max_length_), batch(batch_), row_start(size_t(std::max<int64_t>(batch_, 0)), 0) {
  check_dtype(dtype, "KVCache");
  if (n_layer <= 0 || batch_ <= 0 || n_head <= 0 || max_length_ <= 0 || head_dim <= 0)
    throw ShapeError("KVCache: all sizes must be positive (n_layer " + std::to_string(n_layer) + ", batch " +
                     std::to_string(batch_) + ", n_head " + std::to_string(n_head) + ", max_length " +
                     std::to_string(max_length_) + ", head_dim " + std::to_string(head_dim) + ")");
  allocate(n_layer, {batch_, n_head, max_length_, head_dim}, dtype);
}

// Every layer's keys and values in one buffer: decoding streams all of them
// every token, and together they sit on 2 MiB pages where a layer's own
// tensor (under 2 MiB at the lengths chat uses) would not. Measured on the
// 124M model with an f16 cache at 960 positions: attention 1.6 -> 1.2 ms/token
// (docs/performance.md).
void KVCache::allocate(int64_t n_layer, const Shape& shape, DType dtype) {
  std::vector<Tensor> all = Tensor::empty_group(std::vector<Shape>(size_t(2 * n_layer), shape), dtype);
  k.assign(all.begin(), all.begin() + n_layer);
  v.assign(all.begin() + n_layer, all.end());
}

void KVCache::check_dtype(DType dtype, const char* who) {
  if (dtype != DType::F32 && dtype != DType::F16)
    throw ShapeError(std::string(who) + ": the KV cache is stored as F32 or F16, not " + dtype_name(dtype));
}

int64_t KVCache::row_length(int64_t b) const {
  if (b < 0 || b >= batch || size_t(batch) != row_start.size())
    throw ShapeError("KVCache::row_length: row " + std::to_string(b) + " not in a batch of " + std::to_string(batch));
  return std::max<int64_t>(0, length - row_start[size_t(b)]);
}

void KVCache::drop_front(int64_t n) {
  if (n < 0 || n > length)
    throw ShapeError("KVCache::drop_front: cannot drop " + std::to_string(n) + " of " + std::to_string(length) +
                     " cached positions");
  if (n == 0) return;
  const int64_t keep = length - n;
  for (size_t l = 0; l < k.size(); ++l)
    for (Tensor* t : {&k[l], &v[l]}) {
      const int64_t rows = t->size(0) * t->size(1);  // one [max_length, hd] block per (b, h)
      const int64_t row_bytes = t->size(3) * int64_t(dtype_size(t->dtype()));  // one position
      char* base = static_cast<char*>(t->raw_data());
      parallel_range(rows, 1, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          char* blk = base + r * max_length * row_bytes;
          std::memmove(blk, blk + n * row_bytes, size_t(keep * row_bytes));
        }
      });
    }
  length = keep;
  for (int64_t& s : row_start) s = std::max<int64_t>(0, s - n);
}

void KVCache::keep_rows(const std::vector<int64_t>& rows) {
  std::vector<char> seen(size_t(std::max<int64_t>(batch, 0)), 0);
  for (int64_t r : rows) {
    if (r < 0 || r >= batch || seen[size_t(r)])
      throw ShapeError("KVCache::keep_rows: row " + std::to_string(r) + " is not a distinct row of a batch of " +
                       std::to_string(batch));
    seen[size_t(r)] = 1;
  }
  if (rows.empty()) throw ShapeError("KVCache::keep_rows: no rows to keep");
  const int64_t n = int64_t(rows.size());
  if (std::is_sorted(rows.begin(), rows.end())) keep_ascending_rows(rows);  // what generate() asks for
  else keep_reordered_rows(rows);
  std::vector<int64_t> start;
  for (int64_t r : rows) start.push_back(row_start[size_t(r)]);
  row_start = std::move(start);
  batch = n;
}

// Rows in any order: copied into a new buffer.
void KVCache::keep_reordered_rows(const std::vector<int64_t>& rows) {
  const int64_t n = int64_t(rows.size());
  const std::vector<Tensor> old_k = k, old_v = v;
  allocate(n_layer(), {n, k[0].size(1), max_length, k[0].size(3)}, dtype());
  for (size_t l = 0; l < k.size(); ++l)
    for (auto [from, to] : {std::pair{&old_k[l], &k[l]}, std::pair{&old_v[l], &v[l]}}) {  // same [.., max_length, hd] layout
      const int64_t H = from->size(1), hd = from->size(3);
      const int64_t row_bytes = hd * int64_t(dtype_size(from->dtype()));  // one position
      const char* src = static_cast<const char*>(from->raw_data());
      char* dst = static_cast<char*>(to->raw_data());
      parallel_range(n * H, 1, [&](int64_t j0, int64_t j1) {  // the filled positions of each (row, head)
        for (int64_t j = j0; j < j1; ++j) {
          const int64_t old_j = rows[size_t(j / H)] * H + j % H;
          std::memcpy(dst + j * max_length * row_bytes, src + old_j * max_length * row_bytes,
                      size_t(length * row_bytes));
        }
      });
    }
}

// Rows in ascending order, in place: row rows[j] moves down to j (rows[j] >=
// j), in ascending j, so every row is read before anything overwrites it.
// Each layer's keys and values are one task; nothing new is allocated.
void KVCache::keep_ascending_rows(const std::vector<int64_t>& rows) {
  const int64_t n = int64_t(rows.size());
  std::vector<Tensor*> all;
  for (size_t l = 0; l < k.size(); ++l) all.insert(all.end(), {&k[l], &v[l]});
  parallel_range(int64_t(all.size()), 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      Tensor& t = *all[size_t(i)];
      const int64_t H = t.size(1), hd = t.size(3);
      const int64_t row_bytes = hd * int64_t(dtype_size(t.dtype()));  // one position
      char* base = static_cast<char*>(t.raw_data());
      for (int64_t j = 0; j < n; ++j) {
        if (rows[size_t(j)] == j) continue;
        for (int64_t h = 0; h < H; ++h)
          std::memmove(base + (j * H + h) * max_length * row_bytes,
                       base + (rows[size_t(j)] * H + h) * max_length * row_bytes, size_t(length * row_bytes));
      }
      t = Tensor::from_storage(t.storage(), {n, H, max_length, hd}, t.dtype(), {}, t.offset());
    }
  });
}

MultiHeadAttention::MultiHeadAttention(int64_t C, int64_t n_head, float dropout_, uint64_t seed, float init_std,
                                       float proj_init_std)
    : dropout(dropout_), n_head_(n_head), rng_(derive_seed(seed, 99)) {
  if (n_head <= 0 || C % n_head != 0)
    throw ShapeError("MultiHeadAttention: n_embd (" + std::to_string(C) + ") is not divisible by n_head (" +
                     std::to_string(n_head) + ")");
  c_attn = register_module("c_attn", std::make_shared<Linear>(C, 3 * C, true, derive_seed(seed, 0), init_std));
  c_proj = register_module("c_proj", std::make_shared<Linear>(C, C, true, derive_seed(seed, 1), proj_init_std));
}

Tensor MultiHeadAttention::forward(const Tensor& x, uint64_t dropout_seed) const {
  if (!x.defined() || x.dim() != 3 || x.size(2) != c_attn->in_features())
    throw ShapeError("MultiHeadAttention: x must be [B, T, " + std::to_string(c_attn->in_features()) + "], got " +
                     (x.defined() ? shape_str(x.shape()) : "undefined"));
  Tensor y = c_proj->forward(F::causal_self_attention(c_attn->forward(x), n_head_));
  return F::dropout(y, dropout, is_training(), dropout_seed);
}

void MultiHeadAttention::check_cache(const char* op, int64_t B, int64_t Tn, const KVCache& cache,
                                     int64_t layer) const {
  const int64_t H = n_head_, hd = c_attn->in_features() / H;
  if (layer < 0 || layer >= cache.n_layer())
    throw ShapeError(std::string(op) + ": layer " + std::to_string(layer) + " not in cache of " +
                     std::to_string(cache.n_layer()) + " layers");
  const int64_t L = cache.length, nk = L + Tn;
  const Tensor& kc = cache.k[size_t(layer)];
  if (B != kc.size(0) || H != kc.size(1) || hd != kc.size(3))
    throw ShapeError(std::string(op) + ": cache " + shape_str(kc.shape()) + " does not fit " + std::to_string(B) +
                     " rows of " + std::to_string(H) + " heads of " + std::to_string(hd));
  if (nk > cache.max_length)
    throw ShapeError(std::string(op) + ": " + std::to_string(Tn) + " new tokens after " + std::to_string(L) +
                     " cached exceed the cache length " + std::to_string(cache.max_length));
  if (int64_t(cache.row_start.size()) != B)
    throw ShapeError(std::string(op) + ": cache.row_start has " + std::to_string(cache.row_start.size()) +
                     " entries for a batch of " + std::to_string(B));
  for (int64_t s : cache.row_start)
    if (s < 0) throw ShapeError(std::string(op) + ": negative cache.row_start " + std::to_string(s));
}

Tensor MultiHeadAttention::forward_cached(const Tensor& x, KVCache& cache, int64_t layer) const {
  NoGradGuard no_grad;
  const int64_t C = c_attn->in_features(), H = n_head_;
  if (!x.defined() || x.dim() != 3 || x.size(2) != C)
    throw ShapeError("MultiHeadAttention::forward_cached: x must be [B, T, " + std::to_string(C) + "], got " +
                     (x.defined() ? shape_str(x.shape()) : "undefined"));
  const int64_t B = x.size(0), Tn = x.size(1);
  check_cache("MultiHeadAttention::forward_cached", B, Tn, cache, layer);
  Tensor qkv;
  {
    op_timer::Scope timer("attn.c_attn");
    qkv = c_attn->forward(x);  // [B, Tn, 3C], contiguous
  }
  Tensor y = Tensor::empty({B, Tn, C});
  {
    op_timer::Scope timer("attn.core");  // the attention itself, over the cache
    attend_cached(qkv.data<float>(), B, Tn, C, cache, layer, H, y.data<float>());
  }
  op_timer::Scope timer("attn.c_proj");
  return c_proj->forward(y);
}

void MultiHeadAttention::attend_rows(const float* qkv, int64_t B, KVCache& cache, int64_t layer, float* y) const {
  check_cache("MultiHeadAttention::attend_rows", B, 1, cache, layer);
  attend_cached(qkv, B, 1, c_attn->in_features(), cache, layer, n_head_, y);
}

}  // namespace rbe::nn
