// The dstate-1 selective scan on 16-bit activations (float16 or bfloat16 u, delta, z and variable B, C; float32
// A, D, delta_bias and constant B, C; out in the input type or float32), VMamba's main path: scan_fwd_seg's
// virtual rows of RS channels, with 8 items per lane so that every activation moves in one 16-byte load of 8
// halves (uint4) per tensor per chunk and out in one 16-byte store (two float4 for a float32 out). The
// arithmetic is scan_fwd_seg's, in float32, on the widened values: same recurrence, same fast softplus.
// The launcher (ScanLauncher.planHalf) takes it where every such access is whole: L % 8 == 0, every half
// pointer 16-byte aligned and every stride a multiple of 8 elements. Two variants cover the rest of dstate 1:
// n1seg_k4 (4 items per lane, 8-byte loads of 4 halves, L % 4 == 0 and 8-byte alignment: S4's L = 196), and
// n1row (one channel per warp through its strides, 8 items per lane, scalar 16-bit loads, any L, stride or
// pointer), so dstate 1 never widens.
#include <cuda_fp16.h>
#include <cuda_bf16.h>

namespace ss2d {

// The 8 halves of a 16-byte word, low half of each 32-bit lane first (memory order), by register bit operations
// (taking the word's address to view it as half2 put it in local memory: a stack frame and spills in ptxas).
__device__ __forceinline__ void widen8(const uint4& q, const __half*, float (&v)[8]) {
  const unsigned w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = __half2float(__ushort_as_half((unsigned short)(w[i] & 0xffffu)));
    v[2 * i + 1] = __half2float(__ushort_as_half((unsigned short)(w[i] >> 16)));
  }
}

__device__ __forceinline__ void widen8(const uint4& q, const __nv_bfloat16*, float (&v)[8]) {
  const unsigned w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = __uint_as_float(w[i] << 16);                // bfloat16 is float32's upper half: exact
    v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

__device__ __forceinline__ unsigned pack2(float lo, float hi, const __half*) {
  return (unsigned)__half_as_ushort(__float2half_rn(lo)) | ((unsigned)__half_as_ushort(__float2half_rn(hi)) << 16);
}

__device__ __forceinline__ unsigned pack2(float lo, float hi, const __nv_bfloat16*) {
  return (unsigned)__bfloat16_as_ushort(__float2bfloat16_rn(lo))
      | ((unsigned)__bfloat16_as_ushort(__float2bfloat16_rn(hi)) << 16);
}

template <typename T>
__device__ __forceinline__ uint4 narrow8(const float (&v)[8], const T* tag) {
  return make_uint4(pack2(v[0], v[1], tag), pack2(v[2], v[3], tag), pack2(v[4], v[5], tag), pack2(v[6], v[7], tag));
}

__device__ __forceinline__ float widen1(unsigned short x, const __half*) { return __half2float(__ushort_as_half(x)); }
__device__ __forceinline__ float widen1(unsigned short x, const __nv_bfloat16*) { return __uint_as_float((unsigned)x << 16); }
__device__ __forceinline__ unsigned short narrow1(float x, const __half*) { return __half_as_ushort(__float2half_rn(x)); }
__device__ __forceinline__ unsigned short narrow1(float x, const __nv_bfloat16*) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// K consecutive 16-bit items from t, 0 past L. K = 8: one 16-byte load; K = 4: one 8-byte load (a piece is wholly
// in or out: L % K == 0); GEN: one 16-bit load per item, each checked against L.
template <typename T, int K, bool GEN>
__device__ __forceinline__ void loadKh(const T* row, int64_t t, int64_t L, float (&v)[K]) {
  if (GEN) {
    const unsigned short* r = reinterpret_cast<const unsigned short*>(row);
#pragma unroll
    for (int k = 0; k < K; ++k) v[k] = t + k < L ? widen1(__ldg(r + t + k), row) : 0.f;
  } else if (t < L) {
    if constexpr (K == 8) {
      widen8(__ldg(reinterpret_cast<const uint4*>(row + t)), row, v);
    } else {
      const uint2 q = __ldg(reinterpret_cast<const uint2*>(row + t));
      const unsigned w[2] = {q.x, q.y};
#pragma unroll
      for (int i = 0; i < K / 2; ++i) {
        v[2 * i] = widen1((unsigned short)(w[i] & 0xffffu), row);
        v[2 * i + 1] = widen1((unsigned short)(w[i] >> 16), row);
      }
    }
  } else {
#pragma unroll
    for (int k = 0; k < K; ++k) v[k] = 0.f;
  }
}

template <int K, bool GEN, typename T>
__device__ __forceinline__ void storeKh(T* row, int64_t t, int64_t L, const float (&v)[K]) {
  if (GEN) {
    unsigned short* r = reinterpret_cast<unsigned short*>(row);
#pragma unroll
    for (int k = 0; k < K; ++k) if (t + k < L) r[t + k] = narrow1(v[k], row);
  } else if (t < L) {
    if constexpr (K == 8) {
      *reinterpret_cast<uint4*>(row + t) = narrow8(v, row);
    } else {
      *reinterpret_cast<uint2*>(row + t) = make_uint2(pack2(v[0], v[1], row), pack2(v[2], v[3], row));
    }
  }
}

template <int K, bool GEN>
__device__ __forceinline__ void storeKh(float* row, int64_t t, int64_t L, const float (&v)[K]) {
  if (GEN) {
#pragma unroll
    for (int k = 0; k < K; ++k) if (t + k < L) row[t + k] = v[k];
  } else if (t < L) {
#pragma unroll
    for (int j = 0; j < K; j += 4) reinterpret_cast<float4*>(row + t)[j / 4] = make_float4(v[j], v[j + 1], v[j + 2], v[j + 3]);
  }
}

// GEN (n1row): RS is 1 and each tensor's row is found through its own strides; items past L are padding
// (a = 1, b = 0), so the last piece of a row may be partial.
template <typename T, typename OT, int K, bool GEN>
__device__ __forceinline__ void scan_fwd_seg_half(const ScanParams& p, int64_t RS) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int L = (int)p.seqlen, Lv = L * (int)RS;
  const int64_t warpsPerBatch = p.dim / RS;
  const int64_t gw = (int64_t)blockIdx.x * SS2D_SCAN_WARPS + warp;
  if (gw >= p.batch * warpsPerBatch) return;
  const int64_t b = gw / warpsPerBatch;
  const int64_t c0 = (gw - b * warpsPerBatch) * RS;
  const int64_t g = c0 / (p.dim / p.groups);
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0;
  const bool varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;
  // variable B/C are activations (16-bit); constant ones are float32 (mamba's rule)
  const T* Bg = varB ? reinterpret_cast<const T*>(p.B) + b * p.B_batch_stride + g * p.B_group_stride : nullptr;
  const T* Cg = varC ? reinterpret_cast<const T*>(p.C) + b * p.C_batch_stride + g * p.C_group_stride : nullptr;
  // contiguous rows: the virtual row starts at channel c0, L apart; GEN: one channel, its strides
  const T* uRow = reinterpret_cast<const T*>(p.u) + b * p.u_batch_stride + c0 * (GEN ? p.u_dim_stride : L);
  const T* dRow = reinterpret_cast<const T*>(p.delta) + b * p.delta_batch_stride + c0 * (GEN ? p.delta_dim_stride : L);
  const T* zRow = p.z ? reinterpret_cast<const T*>(p.z) + b * p.z_batch_stride + c0 * (GEN ? p.z_dim_stride : L) : nullptr;
  OT* oRow = reinterpret_cast<OT*>(p.out) + b * p.out_batch_stride + c0 * (GEN ? p.out_dim_stride : L);
  float carry = 0.f;

  for (int t0 = 0; t0 < Lv; t0 += 32 * K) {
    const int t = t0 + lane * K;
    const bool live = t < Lv;
    const int seg = live ? t / L : 0, tl = live ? t - seg * L : 0;
    // one lane in 128/(2K) touches each 128-byte line of the next chunk (2K bytes per lane)
    const int tn = t + 32 * K;
    if ((lane & (64 / K - 1)) == 0 && tn < Lv) {
      const int tln = tn % L;
      if (varB) asm volatile("prefetch.global.L2 [%0];" ::"l"(Bg + tln));
      if (varC) asm volatile("prefetch.global.L2 [%0];" ::"l"(Cg + tln));
      asm volatile("prefetch.global.L2 [%0];" ::"l"(uRow + tn));
      asm volatile("prefetch.global.L2 [%0];" ::"l"(dRow + tn));
      if (zRow) asm volatile("prefetch.global.L2 [%0];" ::"l"(zRow + tn));
    }
    float uv[K], dl[K], Bk[K], Ck[K];
    if (varB) loadKh<T, K, GEN>(Bg + tl - t, t, Lv, Bk);
    if (varC) loadKh<T, K, GEN>(Cg + tl - t, t, Lv, Ck);
    loadKh<T, K, GEN>(uRow, t, Lv, uv);
    loadKh<T, K, GEN>(dRow, t, Lv, dl);
    const int64_t ch = c0 + seg;
    const float bias = p.delta_bias ? __ldg(p.delta_bias + ch) : 0.f;
    const float Dv = p.D ? __ldg(p.D + ch) : 0.f;
    const float A2 = __ldg(p.A + ch * p.A_dim_stride) * SS2D_LOG2E;
    const float Bc = varB ? 0.f : __ldg(p.B + ch * p.B_group_stride);
    const float Cc = varC ? 0.f : __ldg(p.C + ch * p.C_group_stride);
    float a[K], bb[K], y[K];
#pragma unroll
    for (int k = 0; k < K; ++k) {
      float dv = dl[k] + bias;
      if (softplus) dv = softplus20_fast(dv);
      const bool in = GEN ? t + k < Lv : live;
      a[k] = in ? fast_exp2(dv * A2) : 1.f;
      bb[k] = in ? dv * uv[k] * (varB ? Bk[k] : Bc) : 0.f;
      y[k] = Dv * uv[k];
    }
    if (tl == 0) {
      bb[0] = fmaf(a[0], 0.f, bb[0]);
      a[0] = 0.f;
    }
    float hLane;
    bool resetFree;
    float h = chunk_entry_state_seg<K>(a, bb, carry, lane, hLane, resetFree);
    if (!resetFree && tl == 0) h = 0.f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      h = fmaf(a[k], h, bb[k]);
      y[k] = fmaf(varC ? Ck[k] : Cc, h, y[k]);
    }
    // the piece holding step L-1 (GEN: the padding after it leaves h as it was)
    if (p.last_state && live && (GEN ? tl + K >= L : tl + K == L)) p.last_state[b * p.dim + ch] = h;
    carry = __shfl_sync(0xffffffffu, hLane, 31);
    if (zRow) {
      float zv[K];
      loadKh<T, K, GEN>(zRow, t, Lv, zv);
#pragma unroll
      for (int k = 0; k < K; ++k) y[k] *= zv[k] / (1.f + expf(-zv[k]));
    }
    storeKh<K, GEN>(oRow, t, Lv, y);
  }
}

}  // namespace ss2d

// n1seg_k8_<in>_o<out>, n1seg_k4_..., n1row_k8_...: in f16 / bf16, out h (the input type) or f (float32,
// out_float32). n1row takes rowsPerSegment = 1.
#define SS2D_SCAN_HALF_KERNEL1(NAME, K, GEN, SUF, T, OSUF, OT)                                    \
  extern "C" __global__ void __launch_bounds__(SS2D_SCAN_WARPS * 32)                              \
      ss2d_scan_fwd_##NAME##_k##K##_##SUF##_o##OSUF(const ScanParams p, int64_t rowsPerSegment) { \
    ss2d::scan_fwd_seg_half<T, OT, K, GEN>(p, rowsPerSegment);                                     \
  }
#define SS2D_SCAN_HALF_KERNEL(SUF, T, OSUF, OT)              \
  SS2D_SCAN_HALF_KERNEL1(n1seg, 8, false, SUF, T, OSUF, OT) \
  SS2D_SCAN_HALF_KERNEL1(n1seg, 4, false, SUF, T, OSUF, OT) \
  SS2D_SCAN_HALF_KERNEL1(n1row, 8, true, SUF, T, OSUF, OT)
SS2D_SCAN_HALF_KERNEL(f16, __half, h, __half)
SS2D_SCAN_HALF_KERNEL(f16, __half, f, float)
SS2D_SCAN_HALF_KERNEL(bf16, __nv_bfloat16, h, __nv_bfloat16)
SS2D_SCAN_HALF_KERNEL(bf16, __nv_bfloat16, f, float)
