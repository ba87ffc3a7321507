// The dstate-1 selective scan on 16-bit activations (float16 or bfloat16 u, delta, z and variable B, C; float32
// A, D, delta_bias and constant B, C; out in the input type or float32), VMamba's main path: scan_fwd_seg's
// virtual rows of RS channels, with 8 items per lane so that every activation moves in one 16-byte load of 8
// halves (uint4) per tensor per chunk and out in one 16-byte store (two float4 for a float32 out). The
// arithmetic is scan_fwd_seg's, in float32, on the widened values: same recurrence, same fast softplus.
// The launcher (ScanLauncher.planHalf) takes it only where every such access is whole: L % 8 == 0, every half
// pointer 16-byte aligned and every stride a multiple of 8 elements; anything else is widened to float32 first
// (ss2d_half_to_float, scalar loads) and runs the float32 kernels.
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

// 8 consecutive 16-bit items from t (one 16-byte load), 0 past L (L % 8 == 0: a piece is wholly in or out).
template <typename T>
__device__ __forceinline__ void load8(const T* row, int64_t t, int64_t L, float (&v)[8]) {
  if (t < L) {
    widen8(__ldg(reinterpret_cast<const uint4*>(row + t)), row, v);
  } else {
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = 0.f;
  }
}

template <typename T>
__device__ __forceinline__ void store8(T* row, int64_t t, int64_t L, const float (&v)[8]) {
  if (t < L) *reinterpret_cast<uint4*>(row + t) = narrow8(v, row);
}

__device__ __forceinline__ void store8(float* row, int64_t t, int64_t L, const float (&v)[8]) {
  if (t < L) {
    reinterpret_cast<float4*>(row + t)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(row + t)[1] = make_float4(v[4], v[5], v[6], v[7]);
  }
}

template <typename T, typename OT>
__device__ __forceinline__ void scan_fwd_seg_half(const ScanParams& p, int64_t RS) {
  constexpr int K = 8;
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
  const int64_t rowOff = c0 * L;
  const T* uRow = reinterpret_cast<const T*>(p.u) + b * p.u_batch_stride + rowOff;
  const T* dRow = reinterpret_cast<const T*>(p.delta) + b * p.delta_batch_stride + rowOff;
  const T* zRow = p.z ? reinterpret_cast<const T*>(p.z) + b * p.z_batch_stride + rowOff : nullptr;
  OT* oRow = reinterpret_cast<OT*>(p.out) + b * p.out_batch_stride + rowOff;
  float carry = 0.f;

  for (int t0 = 0; t0 < Lv; t0 += 32 * K) {
    const int t = t0 + lane * K;
    const bool live = t < Lv;
    const int seg = live ? t / L : 0, tl = live ? t - seg * L : 0;
    // one lane in 8 touches each 128-byte line of the next chunk (8 halves = 16 bytes per lane)
    const int tn = t + 32 * K;
    if ((lane & 7) == 0 && tn < Lv) {
      const int tln = tn % L;
      if (varB) asm volatile("prefetch.global.L2 [%0];" ::"l"(Bg + tln));
      if (varC) asm volatile("prefetch.global.L2 [%0];" ::"l"(Cg + tln));
      asm volatile("prefetch.global.L2 [%0];" ::"l"(uRow + tn));
      asm volatile("prefetch.global.L2 [%0];" ::"l"(dRow + tn));
      if (zRow) asm volatile("prefetch.global.L2 [%0];" ::"l"(zRow + tn));
    }
    float uv[K], dl[K], Bk[K], Ck[K];
    if (varB) load8<T>(Bg + tl - t, t, Lv, Bk);
    if (varC) load8<T>(Cg + tl - t, t, Lv, Ck);
    load8<T>(uRow, t, Lv, uv);
    load8<T>(dRow, t, Lv, dl);
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
      a[k] = live ? fast_exp2(dv * A2) : 1.f;
      bb[k] = live ? dv * uv[k] * (varB ? Bk[k] : Bc) : 0.f;
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
    if (p.last_state && live && tl + K == L) p.last_state[b * p.dim + ch] = h;
    carry = __shfl_sync(0xffffffffu, hLane, 31);
    if (zRow) {
      float zv[K];
      load8<T>(zRow, t, Lv, zv);
#pragma unroll
      for (int k = 0; k < K; ++k) y[k] *= zv[k] / (1.f + expf(-zv[k]));
    }
    store8(oRow, t, Lv, y);
  }
}

}  // namespace ss2d

// n1seg_k8_<in>_o<out>: in f16 / bf16, out h (the input type) or f (float32, out_float32).
#define SS2D_SCAN_HALF_KERNEL(SUF, T, OSUF, OT)                                                   \
  extern "C" __global__ void __launch_bounds__(SS2D_SCAN_WARPS * 32)                              \
      ss2d_scan_fwd_n1seg_k8_##SUF##_o##OSUF(const ScanParams p, int64_t rowsPerSegment) {       \
    ss2d::scan_fwd_seg_half<T, OT>(p, rowsPerSegment);                                             \
  }
SS2D_SCAN_HALF_KERNEL(f16, __half, h, __half)
SS2D_SCAN_HALF_KERNEL(f16, __half, f, float)
SS2D_SCAN_HALF_KERNEL(bf16, __nv_bfloat16, h, __nv_bfloat16)
SS2D_SCAN_HALF_KERNEL(bf16, __nv_bfloat16, f, float)
