// The layers of the SS2D / VSS blocks and the VMamba models with 16-bit activations (the dtype option,
// float16 or bfloat16): each reads its 16-bit inputs widened to float32, computes in float32 exactly as the
// float32 kernel beside it, and rounds its result once, to nearest even, where it stores (docs/models.md,
// "Half precision", lists the points). Parameters (conv weights and biases, LayerNorm, biases) are float32:
// those a half model converts hold values already rounded to its dtype. One template per layer, one
// extern "C" entry per dtype (suffix _f16 / _bf16) so that cuModuleGetFunction finds it by name.
#include <stdint.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

namespace ss2d {

template <typename T> struct io;
template <> struct io<float> {
  static __device__ __forceinline__ float ld(const float* p) { return *p; }
  static __device__ __forceinline__ void st(float* p, float v) { *p = v; }
};
template <> struct io<__half> {
  static __device__ __forceinline__ float ld(const __half* p) { return __half2float(*p); }
  static __device__ __forceinline__ void st(__half* p, float v) { *p = __float2half_rn(v); }
};
template <> struct io<__nv_bfloat16> {
  static __device__ __forceinline__ float ld(const __nv_bfloat16* p) { return __bfloat162float(*p); }
  static __device__ __forceinline__ void st(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
};

// Depthwise k x k convolution + activation, staged through shared memory as ss2d_dwconv2d_rows (same
// host-side band choice, SS2D_DW_SMEM / SS2D_DW_MAXK), 16-bit in and out.
template <typename T>
__device__ __forceinline__ void dwconv_rows(const T* __restrict__ x, const float* __restrict__ w,
                                            const float* __restrict__ bias, T* __restrict__ out, int64_t Bn,
                                            int64_t C, int64_t H, int64_t W, int64_t k, int64_t R, int64_t actKind,
                                            float* rows, float* wk) {
  const int64_t bands = (H + R - 1) / R;
  const int pad = (int)(k - 1) / 2, ki = (int)k, Wi = (int)W, Hi = (int)H;
  for (int64_t t = blockIdx.x; t < Bn * C * bands; t += gridDim.x) {
    const int64_t bc = t / bands;
    const int y0 = (int)(t % bands) * (int)R;
    const int rOut = min((int)R, Hi - y0), rIn = rOut + ki - 1;
    const int64_t c = bc % C;
    const T* plane = x + bc * H * W;
    for (int i = threadIdx.x; i < rIn * Wi; i += blockDim.x) {
      const int y = y0 - pad + i / Wi;
      rows[i] = (y >= 0 && y < Hi) ? io<T>::ld(plane + (int64_t)y * Wi + i % Wi) : 0.f;
    }
    for (int i = threadIdx.x; i < ki * ki; i += blockDim.x) wk[i] = __ldg(w + c * k * k + i);
    __syncthreads();
    const float b0 = bias ? __ldg(bias + c) : 0.f;
    T* po = out + bc * H * W + (int64_t)y0 * Wi;
    for (int i = threadIdx.x; i < rOut * Wi; i += blockDim.x) {
      const int oy = i / Wi, ox = i % Wi;
      float acc = b0;
      for (int dy = 0; dy < ki; ++dy) {
        const float* row = rows + (oy + dy) * Wi;
        for (int dx = 0; dx < ki; ++dx) {
          const int xx = ox + dx - pad;
          if (xx >= 0 && xx < Wi) acc = fmaf(wk[dy * ki + dx], row[xx], acc);
        }
      }
      io<T>::st(po + i, act(acc, (int)actKind));
    }
    __syncthreads();
  }
}

// Plain depthwise convolution (a kernel or a row too large for the staged one).
template <typename T>
__device__ __forceinline__ void dwconv_plain(const T* __restrict__ x, const float* __restrict__ w,
                                             const float* __restrict__ bias, T* __restrict__ out, int64_t Bn,
                                             int64_t C, int64_t H, int64_t W, int64_t k, int64_t actKind) {
  const int64_t total = Bn * C * H * W, pad = (k - 1) / 2;
  for (int64_t i = gtid(); i < total; i += gstride()) {
    const int64_t ww = i % W, hh = (i / W) % H, bc = i / (H * W), c = bc % C;
    const T* plane = x + bc * H * W;
    float acc = bias ? __ldg(bias + c) : 0.f;
    for (int64_t dy = 0; dy < k; ++dy) {
      const int64_t y = hh + dy - pad;
      if (y < 0 || y >= H) continue;
      for (int64_t dx = 0; dx < k; ++dx) {
        const int64_t xx = ww + dx - pad;
        if (xx < 0 || xx >= W) continue;
        acc = fmaf(__ldg(w + c * k * k + dy * k + dx), io<T>::ld(plane + y * W + xx), acc);
      }
    }
    io<T>::st(out + i, act(acc, (int)actKind));
  }
}

// CrossScan as a gather: xs[b, r, c, l] = x[b, c, src_r(l)] (a permutation: 16-bit values copied exactly).
template <typename T>
__device__ __forceinline__ void cross_scan_gather(const T* __restrict__ x, T* __restrict__ xs, int64_t Bn,
                                                  int64_t C, int64_t H, int64_t W) {
  const int64_t L = H * W, total = Bn * 4 * C * L;
  for (int64_t i = gtid(); i < total; i += gstride()) {
    const int64_t l = i % L, bkc = i / L, c = bkc % C, bk = bkc / C, r = bk % 4, b = bk / 4;
    const int64_t s = (r & 2) ? L - 1 - l : l;                      // routes 2, 3 run backwards
    const int64_t src = (r & 1) ? (s % H) * W + s / H : s;          // routes 1, 3 column-major
    xs[i] = x[(b * C + c) * L + src];
  }
}

// out = act(LayerNorm_C(x + preBias)), x of TI, out of TO, as ss2d_layernorm_cf_ex (32 pixels x 8 channel
// slices per block, two passes in float32).
template <typename TI, typename TO>
__device__ __forceinline__ void layernorm_ex(const TI* x, const float* __restrict__ preBias,
                                             const float* __restrict__ gamma, const float* __restrict__ beta,
                                             TO* out, int64_t Bn, int64_t C, int64_t L, float eps, int64_t actKind,
                                             float (*part)[32], float (*stat)[32]) {
  const int64_t tiles = (L + 31) / 32;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < Bn * tiles; t += gridDim.x) {
    const int64_t b = t / tiles, l = (t % tiles) * 32 + tx;
    const bool live = l < L;
    const TI* px = x + b * C * L + l;
    float sum = 0.f;
    if (live) {
      for (int64_t c = ty; c < C; c += 8) sum += io<TI>::ld(px + c * L) + (preBias ? __ldg(preBias + c) : 0.f);
    }
    part[ty][tx] = sum;
    __syncthreads();
    if (ty == 0) {
      float s = 0.f;
      for (int j = 0; j < 8; ++j) s += part[j][tx];
      stat[0][tx] = s / (float)C;
    }
    __syncthreads();
    const float mean = stat[0][tx];
    float var = 0.f;
    if (live) {
      for (int64_t c = ty; c < C; c += 8) {
        const float d = io<TI>::ld(px + c * L) + (preBias ? __ldg(preBias + c) : 0.f) - mean;
        var = fmaf(d, d, var);
      }
    }
    part[ty][tx] = var;
    __syncthreads();
    if (ty == 0) {
      float s = 0.f;
      for (int j = 0; j < 8; ++j) s += part[j][tx];
      stat[1][tx] = rsqrtf(s / (float)C + eps);
    }
    __syncthreads();
    const float rstd = stat[1][tx];
    if (live) {
      TO* po = out + b * C * L + l;
      for (int64_t c = ty; c < C; c += 8) {
        float v = (io<TI>::ld(px + c * L) + (preBias ? __ldg(preBias + c) : 0.f) - mean) * rstd;
        if (gamma) v = v * __ldg(gamma + c);
        if (beta) v = v + __ldg(beta + c);
        io<TO>::st(po + c * L, act(v, (int)actKind));
      }
    }
    __syncthreads();
  }
}

// out = act(x + bias[c]) + res, x float32 (a GEMM's result), res 16-bit or null, out 16-bit: a projection's
// bias, activation and residual with one rounding.
template <typename T>
__device__ __forceinline__ void bias_act_res(const float* __restrict__ x, const float* __restrict__ bias,
                                             const T* __restrict__ res, T* __restrict__ out, int64_t Bn, int64_t C,
                                             int64_t L, int64_t actKind) {
  const int64_t total = Bn * C * L;
  for (int64_t i = gtid(); i < total; i += gstride()) {
    float v = x[i];
    if (bias) v += __ldg(bias + (i / L) % C);
    v = act(v, (int)actKind);
    if (res) v += io<T>::ld(res + i);
    io<T>::st(out + i, v);
  }
}

}  // namespace ss2d

#define SS2D_HALF_LAYERS(SUF, T)                                                                                \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_dwconv2d_rows_##SUF(const T* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, \
                           T* __restrict__ out, int64_t Bn, int64_t C, int64_t H, int64_t W, int64_t k, int64_t R,  \
                           int64_t actKind) {                                                                    \
    __shared__ float rows[SS2D_DW_SMEM];                                                                         \
    __shared__ float wk[SS2D_DW_MAXK * SS2D_DW_MAXK];                                                            \
    ss2d::dwconv_rows<T>(x, w, bias, out, Bn, C, H, W, k, R, actKind, rows, wk);                                 \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_dwconv2d_##SUF(const T* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,      \
                      T* __restrict__ out, int64_t Bn, int64_t C, int64_t H, int64_t W, int64_t k, int64_t actKind) { \
    ss2d::dwconv_plain<T>(x, w, bias, out, Bn, C, H, W, k, actKind);                                             \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_cross_scan_##SUF(const T* __restrict__ x, T* __restrict__ xs, int64_t Bn, int64_t C, int64_t H, int64_t W) { \
    __shared__ T tile[SS2D_TILE][SS2D_TILE + 1];                                                                 \
    ss2d::cross_scan_tiled<T>(x, xs, Bn, C, H, W, tile);                                                         \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_cross_scan_planes_##SUF(const T* __restrict__ x, T* __restrict__ xs, int64_t Bn, int64_t C, int64_t H,    \
                               int64_t W, int64_t P) {                                                           \
    __shared__ T vals[SS2D_PLANES_ELEMS];                                                                        \
    __shared__ int64_t base[SS2D_PLANES_MAX];                                                                    \
    ss2d::cross_scan_planes<T>(x, xs, Bn, C, H, W, P, vals, base);                                               \
  }                                                                                                              \
  /* the former 16-bit CrossScan (a thread per output element), kept for -Dss2d.cuda.crossScanHalf=gather */     \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_cross_scan_gather_##SUF(const T* __restrict__ x, T* __restrict__ xs, int64_t Bn, int64_t C, int64_t H,    \
                               int64_t W) {                                                                      \
    ss2d::cross_scan_gather<T>(x, xs, Bn, C, H, W);                                                              \
  }                                                                                                              \
  /* LayerNorm: 16-bit in and out (norm, norm2, the models' LayerNorms), and float32 in (out_norm after the merge) */ \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_layernorm_cf_ex_##SUF(const T* x, const float* __restrict__ preBias, const float* __restrict__ gamma,     \
                             const float* __restrict__ beta, T* out, int64_t Bn, int64_t C, int64_t L, float eps,  \
                             int64_t actKind) {                                                                  \
    __shared__ float part[8][32];                                                                                \
    __shared__ float stat[2][32];                                                                                \
    ss2d::layernorm_ex<T, T>(x, preBias, gamma, beta, out, Bn, C, L, eps, actKind, part, stat);                  \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_layernorm_cf_ex_f32_##SUF(const float* x, const float* __restrict__ preBias, const float* __restrict__ gamma, \
                                 const float* __restrict__ beta, T* out, int64_t Bn, int64_t C, int64_t L, float eps, \
                                 int64_t actKind) {                                                              \
    __shared__ float part[8][32];                                                                                \
    __shared__ float stat[2][32];                                                                                \
    ss2d::layernorm_ex<float, T>(x, preBias, gamma, beta, out, Bn, C, L, eps, actKind, part, stat);              \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_bias_act_res_##SUF(const float* __restrict__ x, const float* __restrict__ bias, const T* __restrict__ res, \
                          T* __restrict__ out, int64_t Bn, int64_t C, int64_t L, int64_t actKind) {              \
    ss2d::bias_act_res<T>(x, bias, res, out, Bn, C, L, actKind);                                                 \
  }                                                                                                              \
  /* y = y * SiLU(z), both 16-bit: the v0 z gate after out_norm */                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_mul_silu_##SUF(T* y, const T* __restrict__ z, int64_t n) {                                                \
    for (int64_t i = ss2d::gtid(); i < n; i += ss2d::gstride()) {                                                \
      const float v = ss2d::io<T>::ld(z + i);                                                                    \
      ss2d::io<T>::st(y + i, ss2d::io<T>::ld(y + i) * (v / (1.f + expf(-v))));                                   \
    }                                                                                                            \
  }                                                                                                              \
  /* im2col and PatchMerging2D's gather: 16-bit values moved exactly (zeros outside) */                         \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_im2col_##SUF(const T* __restrict__ x, T* __restrict__ cols, int64_t Bn, int64_t C, int64_t H, int64_t W,  \
                    int64_t k, int64_t s, int64_t pad, int64_t OH, int64_t OW) {                                 \
    const int64_t kk = k * k, lines = Bn * C * kk;                                                               \
    const int Li = (int)(OH * OW), OWi = (int)OW;                                                                \
    for (int64_t line = blockIdx.x; line < lines; line += gridDim.x) {                                           \
      const int64_t b = line / (C * kk), row = line % (C * kk), ci = row / kk, kyx = row % kk;                   \
      const int64_t ky = kyx / k - pad, kx = kyx % k - pad;                                                      \
      const T* plane = x + (b * C + ci) * H * W;                                                                 \
      T* dst = cols + line * Li;                                                                                 \
      for (int l = threadIdx.x; l < Li; l += blockDim.x) {                                                       \
        const int oy = l / OWi, ox = l - oy * OWi;                                                               \
        const int64_t iy = (int64_t)oy * s + ky, ix = (int64_t)ox * s + kx;                                      \
        ss2d::io<T>::st(dst + l, (iy >= 0 && iy < H && ix >= 0 && ix < W) ? ss2d::io<T>::ld(plane + iy * W + ix) : 0.f); \
      }                                                                                                          \
    }                                                                                                            \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_patch_merge_##SUF(const T* __restrict__ x, T* __restrict__ out, int64_t Bn, int64_t C, int64_t H,         \
                         int64_t W, int64_t OH, int64_t OW) {                                                    \
    const int64_t lines = Bn * 4 * C;                                                                            \
    const int Li = (int)(OH * OW), OWi = (int)OW;                                                                \
    for (int64_t line = blockIdx.x; line < lines; line += gridDim.x) {                                           \
      const int64_t b = line / (4 * C), qc = line % (4 * C), q = qc / C, c = qc % C;                             \
      const T* plane = x + (b * C + c) * H * W;                                                                  \
      T* dst = out + line * Li;                                                                                  \
      for (int l = threadIdx.x; l < Li; l += blockDim.x) {                                                       \
        const int oy = l / OWi, ox = l - oy * OWi;                                                               \
        const int64_t iy = 2 * (int64_t)oy + (q & 1), ix = 2 * (int64_t)ox + (q >> 1);                           \
        ss2d::io<T>::st(dst + l, (iy < H && ix < W) ? ss2d::io<T>::ld(plane + iy * W + ix) : 0.f);               \
      }                                                                                                          \
    }                                                                                                            \
  }                                                                                                              \
  /* global average pool, 16-bit in, float32 out (the pooled features stay float32) */                          \
  extern "C" __global__ void __launch_bounds__(256)                                                              \
  ss2d_avg_pool_##SUF(const T* __restrict__ x, float* __restrict__ out, int64_t rows, int64_t L) {               \
    const int lane = threadIdx.x & 31;                                                                           \
    const int64_t warp = ss2d::gtid() >> 5, warps = ss2d::gstride() >> 5;                                        \
    for (int64_t r = warp; r < rows; r += warps) {                                                               \
      const T* p = x + r * L;                                                                                    \
      float s = 0.f;                                                                                             \
      for (int64_t l = lane; l < L; l += 32) s += ss2d::io<T>::ld(p + l);                                        \
      for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);                                  \
      if (lane == 0) out[r] = s / (float)L;                                                                      \
    }                                                                                                            \
  }

SS2D_HALF_LAYERS(f16, __half)
SS2D_HALF_LAYERS(bf16, __nv_bfloat16)
