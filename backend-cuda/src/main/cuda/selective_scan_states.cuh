// Selective scan forward for dstate > 1, "states across lanes" mapping.
//
// The chunked warp scan of selective_scan.cuh spends ~19 instructions per (step, state): the
// shuffle scan is redone for every state. Here no scan over time is needed at all: each lane runs
// the recurrence sequentially over the whole sequence for SPL states of one channel, with the
// states in registers, so a (step, state) costs one ex2 and four FP instructions. Parallelism comes
// from channels instead of time: a warp holds RW = 32/S channels, each split over S lanes
// (S*SPL >= dstate), and y is summed over those S lanes with log2(S) shuffles per step.
//
// Data moves in tiles of T steps through shared memory, per warp: u and softplus'd delta for the
// warp's RW channels (coalesced loads, each element transformed once), and the group's B and C
// tile transposed to [t][state] so that a lane reads its SPL states with 16-byte loads and lanes of
// different channels share them by broadcast. B/C are therefore read from L2 once per RW channels.
//
// Shared memory per warp: 3*RW*(T+1) + 2*T*S*SPL floats; at dstate 256 (S=32) that is 33 KB, so a
// block is one warp there and the launcher raises the dynamic shared-memory limit when needed
// (and refuses with the limit when the device cannot give it). SS2D_MAX_DSTATE bounds S*SPL.
#include "ss2d_params.h"

#ifndef SS2D_LOG2E
#define SS2D_LOG2E 1.4426950408889634f
#endif
#define SS2D_TILE_T 16

namespace ss2d {

__device__ __forceinline__ float ex2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float softplus20_(float x) { return x <= 20.f ? log1pf(expf(x)) : x; }

// Floats of one channel-tile section (u, delta or y): RW rows of T+1 (the +1 staggers banks),
// rounded up to 4 floats so that the B/C tiles after three sections stay 16-byte aligned.
__host__ __device__ inline int states_section_floats(int S) {
  return ((32 / S) * (SS2D_TILE_T + 1) + 3) & ~3;
}

// Floats of dynamic shared memory one warp needs.
__host__ __device__ inline int states_smem_floats(int S, int SPL) {
  return 3 * states_section_floats(S) + 2 * SS2D_TILE_T * S * SPL;
}

template <int SPL, bool VEC>
__device__ __forceinline__ void scan_states(const ScanParams& p, int S, float* smem) {
  constexpr int T = SS2D_TILE_T;
  const int RW = 32 / S;
  const int NP = S * SPL;                       // padded state count (row width of the B/C tiles)
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warpsPerBlock = blockDim.x >> 5;
  const int64_t rowsPerBatch = p.dim / RW;
  const int64_t gw = (int64_t)blockIdx.x * warpsPerBlock + warp;
  if (gw >= p.batch * rowsPerBatch) return;
  const int64_t b = gw / rowsPerBatch;
  const int64_t d0 = (gw - b * rowsPerBatch) * RW;
  const int64_t L = p.seqlen;
  const int N = (int)p.dstate;
  const int64_t g = d0 / (p.dim / p.groups);
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0;
  const bool varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;

  float* sU = smem + (size_t)warp * states_smem_floats(S, SPL);
  float* sDl = sU + states_section_floats(S);
  float* sY = sDl + states_section_floats(S);
  float* sB = sY + states_section_floats(S);
  float* sC = sB + T * NP;

  // This lane's channel and states.
  const int r = lane / S, s = lane % S;
  const int64_t d = d0 + r;
  const int n0 = s * SPL;
  float A2[SPL], h[SPL], Bc[SPL], Cc[SPL];
#pragma unroll
  for (int j = 0; j < SPL; ++j) {
    const int n = n0 + j;
    const bool live = n < N;
    // Padding states: a = 1, b = 0, C = 0, so they stay 0 and add nothing.
    A2[j] = live ? __ldg(p.A + d * p.A_dim_stride + n * p.A_state_stride) * SS2D_LOG2E : 0.f;
    Bc[j] = (!varB && live) ? __ldg(p.B + d * p.B_group_stride + n * p.B_state_stride) : 0.f;
    Cc[j] = (!varC && live) ? __ldg(p.C + d * p.C_group_stride + n * p.C_state_stride) : 0.f;
    h[j] = 0.f;
  }
  const float* Bg = varB ? p.B + b * p.B_batch_stride + g * p.B_group_stride : nullptr;
  const float* Cg = varC ? p.C + b * p.C_batch_stride + g * p.C_group_stride : nullptr;

  for (int64_t t0 = 0; t0 < L; t0 += T) {
    const bool full = VEC && t0 + T <= L;
    // ---- load: u and softplus(delta + bias) for RW channels, B and C tiles transposed.
    for (int i = lane; i < RW * (T / 4); i += 32) {
      const int rr = i / (T / 4), c = (i % (T / 4)) * 4;
      const int64_t dd = d0 + rr;
      const float* uRow = p.u + b * p.u_batch_stride + dd * p.u_dim_stride + t0 + c;
      const float* dRow = p.delta + b * p.delta_batch_stride + dd * p.delta_dim_stride + t0 + c;
      float uv[4], dv[4];
      if (full) {
        const float4 q = __ldg(reinterpret_cast<const float4*>(uRow));
        const float4 e = __ldg(reinterpret_cast<const float4*>(dRow));
        uv[0] = q.x; uv[1] = q.y; uv[2] = q.z; uv[3] = q.w;
        dv[0] = e.x; dv[1] = e.y; dv[2] = e.z; dv[3] = e.w;
      } else {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const bool in = t0 + c + k < L;
          uv[k] = in ? __ldg(uRow + k) : 0.f;
          dv[k] = in ? __ldg(dRow + k) : 0.f;
        }
      }
      const float bias = p.delta_bias ? __ldg(p.delta_bias + dd) : 0.f;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        float x = dv[k] + bias;
        if (softplus) x = softplus20_(x);
        sU[rr * (T + 1) + c + k] = uv[k];
        sDl[rr * (T + 1) + c + k] = t0 + c + k < L ? x : 0.f;  // delta 0 past L: a = 1, b = 0
      }
    }
    if (varB || varC) {
      for (int i = lane; i < NP * (T / 4); i += 32) {
        const int n = i / (T / 4), c = (i % (T / 4)) * 4;
        float bv[4] = {0.f, 0.f, 0.f, 0.f}, cv[4] = {0.f, 0.f, 0.f, 0.f};
        if (n < N) {
          if (varB) {
            const float* row = Bg + n * p.B_state_stride + t0 + c;
            if (full) { const float4 q = __ldg(reinterpret_cast<const float4*>(row)); bv[0] = q.x; bv[1] = q.y; bv[2] = q.z; bv[3] = q.w; }
            else {
#pragma unroll
              for (int k = 0; k < 4; ++k) bv[k] = t0 + c + k < L ? __ldg(row + k) : 0.f;
            }
          }
          if (varC) {
            const float* row = Cg + n * p.C_state_stride + t0 + c;
            if (full) { const float4 q = __ldg(reinterpret_cast<const float4*>(row)); cv[0] = q.x; cv[1] = q.y; cv[2] = q.z; cv[3] = q.w; }
            else {
#pragma unroll
              for (int k = 0; k < 4; ++k) cv[k] = t0 + c + k < L ? __ldg(row + k) : 0.f;
            }
          }
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) { sB[(c + k) * NP + n] = bv[k]; sC[(c + k) * NP + n] = cv[k]; }
      }
    }
    __syncwarp();

    // ---- recurrence: T steps, SPL states per lane, y summed over the S lanes of a channel.
#pragma unroll 2
    for (int t = 0; t < T; ++t) {
      const float dl = sDl[r * (T + 1) + t];
      const float du = dl * sU[r * (T + 1) + t];
      float Bt[SPL], Ct[SPL];
#pragma unroll
      for (int j = 0; j < SPL; j += 4) {
        if (varB) { const float4 q = *reinterpret_cast<const float4*>(sB + t * NP + n0 + j); Bt[j] = q.x; Bt[j + 1] = q.y; Bt[j + 2] = q.z; Bt[j + 3] = q.w; }
        if (varC) { const float4 q = *reinterpret_cast<const float4*>(sC + t * NP + n0 + j); Ct[j] = q.x; Ct[j + 1] = q.y; Ct[j + 2] = q.z; Ct[j + 3] = q.w; }
      }
      float y = 0.f;
#pragma unroll
      for (int j = 0; j < SPL; ++j) {
        const float a = ex2_approx(dl * A2[j]);
        h[j] = fmaf(a, h[j], du * (varB ? Bt[j] : Bc[j]));
        y = fmaf(varC ? Ct[j] : Cc[j], h[j], y);
      }
      for (int off = S >> 1; off > 0; off >>= 1) y += __shfl_xor_sync(0xffffffffu, y, off);
      if (s == 0) sY[r * (T + 1) + t] = y;
    }
    __syncwarp();

    // ---- store: y + D*u, gated by silu(z), coalesced.
    for (int i = lane; i < RW * (T / 4); i += 32) {
      const int rr = i / (T / 4), c = (i % (T / 4)) * 4;
      const int64_t dd = d0 + rr;
      const float Dv = p.D ? __ldg(p.D + dd) : 0.f;
      float o[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) o[k] = sY[rr * (T + 1) + c + k] + Dv * sU[rr * (T + 1) + c + k];
      if (p.z) {
        const float* zRow = p.z + b * p.z_batch_stride + dd * p.z_dim_stride + t0 + c;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const float zv = (full || t0 + c + k < L) ? __ldg(zRow + k) : 0.f;
          o[k] *= zv / (1.f + expf(-zv));
        }
      }
      float* oRow = p.out + b * p.out_batch_stride + dd * p.out_dim_stride + t0 + c;
      if (full) {
        *reinterpret_cast<float4*>(oRow) = make_float4(o[0], o[1], o[2], o[3]);
      } else {
#pragma unroll
        for (int k = 0; k < 4; ++k) if (t0 + c + k < L) oRow[k] = o[k];
      }
    }
    __syncwarp();
  }

  if (p.last_state) {
    float* ls = p.last_state + (b * p.dim + d) * (int64_t)N;
#pragma unroll
    for (int j = 0; j < SPL; ++j) if (n0 + j < N) ls[n0 + j] = h[j];
  }
}

}  // namespace ss2d

// s4 / s8: states per lane (SPL); the lanes per channel S = 32 / (channels per warp) is a
// runtime argument in the parameter block's companion (see the launcher).
#define SS2D_STATES_KERNEL(SPL, VEC)                                                            \
  extern "C" __global__ void __launch_bounds__(64, 8)                                           \
      ss2d_scan_fwd_states_s##SPL##_v##VEC(const ScanParams p, int64_t lanesPerChannel) {     \
    extern __shared__ __align__(16) float ss2d_smem_states[];                                  \
    ss2d::scan_states<SPL, VEC>(p, (int)lanesPerChannel, ss2d_smem_states);                    \
  }

SS2D_STATES_KERNEL(4, 0)
SS2D_STATES_KERNEL(4, 1)
SS2D_STATES_KERNEL(8, 0)
SS2D_STATES_KERNEL(8, 1)
