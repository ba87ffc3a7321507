// The element-wise and small stencil layers of the SS2D / VSS blocks (channels-first, fp32).
// They are memory-bound and small next to the scan and the projections, so each is the plain
// coalesced version: consecutive threads take consecutive pixels; 64-bit indices throughout;
// grid-stride loops so that any size runs with a capped grid.
#include <stdint.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define SS2D_ACT_NONE 0
#define SS2D_ACT_SILU 1
#define SS2D_ACT_GELU 2

namespace ss2d {

__device__ __forceinline__ float act(float v, int kind) {
  switch (kind) {
    case SS2D_ACT_SILU: return v / (1.f + expf(-v));
    case SS2D_ACT_GELU: return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));  // erf GELU
    default: return v;
  }
}

__device__ __forceinline__ int64_t gtid() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t gstride() { return (int64_t)gridDim.x * blockDim.x; }

}  // namespace ss2d

// Depthwise k x k convolution, zero padding (k-1)/2, stride 1, optional bias, then activation.
// x, out (B, C, H, W); w (C, 1, k, k); bias (C) or null. k odd.
extern "C" __global__ void __launch_bounds__(256)
ss2d_dwconv2d(const float* __restrict__ x, const float* __restrict__ w,
              const float* __restrict__ bias, float* __restrict__ out,
              int64_t Bn, int64_t C, int64_t H, int64_t W, int64_t k, int64_t actKind) {
  const int64_t total = Bn * C * H * W;
  const int64_t pad = (k - 1) / 2;
  for (int64_t i = ss2d::gtid(); i < total; i += ss2d::gstride()) {
    const int64_t ww = i % W;
    const int64_t hh = (i / W) % H;
    const int64_t bc = i / (H * W);
    const int64_t c = bc % C;
    const float* plane = x + bc * H * W;
    const float* wk = w + c * k * k;
    float acc = bias ? __ldg(bias + c) : 0.f;
    for (int64_t dy = 0; dy < k; ++dy) {
      const int64_t y = hh + dy - pad;
      if (y < 0 || y >= H) continue;
      for (int64_t dx = 0; dx < k; ++dx) {
        const int64_t xx = ww + dx - pad;
        if (xx < 0 || xx >= W) continue;
        acc = fmaf(__ldg(wk + dy * k + dx), __ldg(plane + y * W + xx), acc);
      }
    }
    out[i] = ss2d::act(acc, (int)actKind);
  }
}

// LayerNorm over the channels of each pixel (LayerNorm2d): x, out (B, C, L); gamma, beta (C) or
// null. Two passes over C per pixel in fp32 (mean, then centred variance: no cancellation).
extern "C" __global__ void __launch_bounds__(256)
ss2d_layernorm_cf(const float* __restrict__ x, const float* __restrict__ gamma,
                  const float* __restrict__ beta, float* __restrict__ out,
                  int64_t Bn, int64_t C, int64_t L, float eps) {
  const int64_t total = Bn * L;
  for (int64_t i = ss2d::gtid(); i < total; i += ss2d::gstride()) {
    const int64_t b = i / L, l = i % L;
    const float* px = x + b * C * L + l;
    float mean = 0.f;
    for (int64_t c = 0; c < C; ++c) mean += px[c * L];
    mean /= (float)C;
    float var = 0.f;
    for (int64_t c = 0; c < C; ++c) { const float d = px[c * L] - mean; var = fmaf(d, d, var); }
    const float rstd = rsqrtf(var / (float)C + eps);
    float* po = out + b * C * L + l;
    for (int64_t c = 0; c < C; ++c) {
      float v = (px[c * L] - mean) * rstd;
      if (gamma) v = v * __ldg(gamma + c);
      if (beta) v = v + __ldg(beta + c);
      po[c * L] = v;
    }
  }
}

// out = act(x + bias[c]) for x (B, C, L); bias may be null. In place allowed (out == x).
extern "C" __global__ void __launch_bounds__(256)
ss2d_bias_act_cf(const float* x, const float* __restrict__ bias, float* out,
                 int64_t Bn, int64_t C, int64_t L, int64_t actKind) {
  const int64_t total = Bn * C * L;
  if (total <= 0x7fffffff) {  // 32-bit index arithmetic: the 64-bit divisions dominated this kernel
    const uint32_t n = (uint32_t)total, Lu = (uint32_t)L, Cu = (uint32_t)C;
    for (uint32_t i = (uint32_t)ss2d::gtid(); i < n; i += (uint32_t)ss2d::gstride()) {
      float v = x[i];
      if (bias) v += __ldg(bias + (i / Lu) % Cu);
      out[i] = ss2d::act(v, (int)actKind);
    }
    return;
  }
  for (int64_t i = ss2d::gtid(); i < total; i += ss2d::gstride()) {
    float v = x[i];
    if (bias) v += __ldg(bias + (i / L) % C);
    out[i] = ss2d::act(v, (int)actKind);
  }
}

// out = a + b (residual). In place allowed.
extern "C" __global__ void __launch_bounds__(256)
ss2d_add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = ss2d::gtid(); i < n; i += ss2d::gstride()) out[i] = a[i] + b[i];
}

// Does nothing: the Java side times it to measure the cost of one launch through FFM.
extern "C" __global__ void ss2d_noop(int64_t unused) { (void)unused; }

// 16-bit storage <-> float32 for the selective scan's half activations (kind 1: float16, 2: bfloat16). The
// scan itself runs in float32 on the widened copies; out is rounded back to nearest even (float16 past 65504
// becomes +-inf, as IEEE and mamba). Plain grid-stride loops: any alignment, any size.
extern "C" __global__ void __launch_bounds__(256)
ss2d_half_to_float(const unsigned short* __restrict__ src, float* __restrict__ dst, int64_t n, int64_t kind) {
  for (int64_t i = ss2d::gtid(); i < n; i += ss2d::gstride()) {
    const unsigned short h = src[i];
    dst[i] = kind == 2 ? __uint_as_float(((unsigned)h) << 16) : __half2float(__ushort_as_half(h));
  }
}

extern "C" __global__ void __launch_bounds__(256)
ss2d_float_to_half(const float* __restrict__ src, unsigned short* __restrict__ dst, int64_t n, int64_t kind) {
  for (int64_t i = ss2d::gtid(); i < n; i += ss2d::gstride()) {
    const float f = src[i];
    dst[i] = kind == 2 ? __bfloat16_as_ushort(__float2bfloat16_rn(f)) : __half_as_ushort(__float2half_rn(f));
  }
}
