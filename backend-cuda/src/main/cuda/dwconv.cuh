// Depthwise k x k convolution (zero padding (k-1)/2, stride 1, optional bias) + activation, the v2 kernel
// (NOTES-perf.md, "conv_silu"): no shared memory and no block-wide barrier. A thread owns a 2 x 4 tile of
// outputs (two rows, four columns), holds the (k+1) x (k+3) inputs it needs in registers (loaded all at once:
// many loads in flight per thread, which is what the shared-memory band kernel lacked), and stores its rows
// as one 16-byte (float) or 8-byte (16-bit) store each where the row width allows. Neighbouring tiles read
// the same input rows; L1/L2 serve those repeats, so DRAM sees each input about once.
// Index arithmetic is 32-bit (the host runs this kernel only when the tile count is below 2^31), with one
// 64-bit product for the plane's offset. Taps are summed in the order of ss2d_dwconv2d_rows (bias first,
// then rows, then columns), so the two kernels give the same float32 sums. Out-of-plane taps read zeros.
// k is a template parameter (3, 5, 7: one entry point each); the host takes the band kernel for others.
// VEC: the row width is a multiple of 4 and both tensors are aligned to 4 elements, so the four centre
// inputs of a row and the four outputs go through one vector access each.
#include <stdint.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

namespace ss2d {

// Four consecutive values widened to float / rounded from float (nearest even, as io<T>::st).
template <typename T> struct quad;
template <> struct quad<float> {
  static __device__ __forceinline__ float4 ld(const float* p) { return __ldg(reinterpret_cast<const float4*>(p)); }
  static __device__ __forceinline__ void st(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
};
template <> struct quad<__half> {
  static __device__ __forceinline__ float4 ld(const __half* p) {
    const uint2 q = __ldg(reinterpret_cast<const uint2*>(p));
    const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&q.x));
    const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&q.y));
    return make_float4(a.x, a.y, b.x, b.y);
  }
  static __device__ __forceinline__ void st(__half* p, float4 v) {
    const __half2 a = __floats2half2_rn(v.x, v.y), b = __floats2half2_rn(v.z, v.w);
    uint2 q;
    q.x = *reinterpret_cast<const unsigned*>(&a);
    q.y = *reinterpret_cast<const unsigned*>(&b);
    *reinterpret_cast<uint2*>(p) = q;
  }
};
template <> struct quad<__nv_bfloat16> {
  static __device__ __forceinline__ float4 ld(const __nv_bfloat16* p) {
    const uint2 q = __ldg(reinterpret_cast<const uint2*>(p));
    const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&q.x));
    const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&q.y));
    return make_float4(a.x, a.y, b.x, b.y);
  }
  static __device__ __forceinline__ void st(__nv_bfloat16* p, float4 v) {
    const __nv_bfloat162 a = __floats2bfloat162_rn(v.x, v.y), b = __floats2bfloat162_rn(v.z, v.w);
    uint2 q;
    q.x = *reinterpret_cast<const unsigned*>(&a);
    q.y = *reinterpret_cast<const unsigned*>(&b);
    *reinterpret_cast<uint2*>(p) = q;
  }
};

template <typename T> __device__ __forceinline__ float ldw(const T* p) { return io<T>::ld(p); }
template <> __device__ __forceinline__ float ldw<float>(const float* p) { return __ldg(p); }

#define SS2D_DW2_ROWS 2
#define SS2D_DW2_COLS 4

template <typename T, int K, bool VEC>
__device__ __forceinline__ void dwconv_v2(const T* __restrict__ x, const float* __restrict__ w,
                                          const float* __restrict__ bias, T* __restrict__ out, uint32_t planes,
                                          uint32_t C, int H, int W, int actKind) {
  constexpr int P = (K - 1) / 2, RY = SS2D_DW2_ROWS, NR = RY + K - 1, NC = SS2D_DW2_COLS + K - 1;
  const uint32_t S = (uint32_t)(W + 3) / 4, perPlane = S * (uint32_t)((H + RY - 1) / RY);
  const uint32_t total = planes * perPlane;
  for (uint32_t t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const uint32_t bc = t / perPlane, r = t - bc * perPlane, yp = r / S;
    const int y0 = (int)yp * RY, x0 = (int)(r - yp * S) * 4;
    const uint32_t c = bc % C;
    const size_t base = (size_t)bc * (uint32_t)H * (uint32_t)W;
    const T* plane = x + base;
    float in[NR][NC];
#pragma unroll
    for (int i = 0; i < NR; ++i) {
      const int y = y0 - P + i;
      const bool rowOk = y >= 0 && y < H;
      const T* row = plane + (rowOk ? y : 0) * W;
      if (VEC) {
        const float4 q = rowOk ? quad<T>::ld(row + x0) : make_float4(0.f, 0.f, 0.f, 0.f);
        in[i][P] = q.x; in[i][P + 1] = q.y; in[i][P + 2] = q.z; in[i][P + 3] = q.w;
#pragma unroll
        for (int d = 0; d < P; ++d) {
          const int xl = x0 - P + d, xr = x0 + 4 + d;
          in[i][d] = (rowOk && xl >= 0) ? ldw<T>(row + xl) : 0.f;
          in[i][P + 4 + d] = (rowOk && xr < W) ? ldw<T>(row + xr) : 0.f;
        }
      } else {
#pragma unroll
        for (int q = 0; q < NC; ++q) {
          const int xx = x0 - P + q;
          in[i][q] = (rowOk && xx >= 0 && xx < W) ? ldw<T>(row + xx) : 0.f;
        }
      }
    }
    float wk[K * K];
#pragma unroll
    for (int i = 0; i < K * K; ++i) wk[i] = __ldg(w + (size_t)c * (K * K) + i);
    const float b0 = bias ? __ldg(bias + c) : 0.f;
#pragma unroll
    for (int oy = 0; oy < RY; ++oy) {
      if (y0 + oy >= H) break;
      float o[4];
#pragma unroll
      for (int ox = 0; ox < 4; ++ox) {
        float acc = b0;
#pragma unroll
        for (int dy = 0; dy < K; ++dy) {
#pragma unroll
          for (int dx = 0; dx < K; ++dx) acc = fmaf(wk[dy * K + dx], in[oy + dy][ox + dx], acc);
        }
        o[ox] = act(acc, actKind);
      }
      T* po = out + base + (y0 + oy) * W + x0;
      if (VEC) {
        quad<T>::st(po, make_float4(o[0], o[1], o[2], o[3]));
      } else {
#pragma unroll
        for (int ox = 0; ox < 4; ++ox) {
          if (x0 + ox < W) io<T>::st(po + ox, o[ox]);
        }
      }
    }
  }
}

}  // namespace ss2d

// One entry point per (dtype, k, VEC): registers are allocated per kernel, so the k = 7 tile must not
// lower the occupancy of the k = 3 one. Names: ss2d_dwconv2d_v2_k<K>[_vec][_f16|_bf16].
#define SS2D_DW2_ENTRY(NAME, T, K, VEC)                                                                       \
  extern "C" __global__ void __launch_bounds__(256)                                                           \
  NAME(const T* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, T* __restrict__ out, \
       int64_t planes, int64_t C, int64_t H, int64_t W, int64_t actKind) {                                     \
    ss2d::dwconv_v2<T, K, VEC>(x, w, bias, out, (uint32_t)planes, (uint32_t)C, (int)H, (int)W, (int)actKind);  \
  }
#define SS2D_DW2_TYPE(SUF, T)                                    \
  SS2D_DW2_ENTRY(ss2d_dwconv2d_v2_k3##SUF, T, 3, false)          \
  SS2D_DW2_ENTRY(ss2d_dwconv2d_v2_k3_vec##SUF, T, 3, true)       \
  SS2D_DW2_ENTRY(ss2d_dwconv2d_v2_k5##SUF, T, 5, false)          \
  SS2D_DW2_ENTRY(ss2d_dwconv2d_v2_k5_vec##SUF, T, 5, true)       \
  SS2D_DW2_ENTRY(ss2d_dwconv2d_v2_k7##SUF, T, 7, false)          \
  SS2D_DW2_ENTRY(ss2d_dwconv2d_v2_k7_vec##SUF, T, 7, true)
SS2D_DW2_TYPE(, float)
SS2D_DW2_TYPE(_f16, __half)
SS2D_DW2_TYPE(_bf16, __nv_bfloat16)
