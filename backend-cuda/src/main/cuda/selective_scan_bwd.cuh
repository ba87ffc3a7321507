// Selective scan backward (the adjoint of selective_scan*.cuh), fp32, deterministic.
//
// Mapping: the forward's "states across lanes" (selective_scan_pipe.cuh): a lane owns SPL states of one channel,
// S lanes per channel, RW = 32/S channels per warp, W warps per block, all channels of a block in one (batch,
// group). A lane walks the whole sequence itself, so no scan over time is needed in either direction: the reverse
// recurrence lam_t = C_t g_t + a_{t+1} lam_{t+1} is one FFMA per (step, state), like the forward's.
//
// Memory: the forward saves nothing. Phase 1 runs the forward recurrence once and keeps the states at the start
// of every segment of TS steps (TS = 8, 16 or 32; dstate/TS floats per element, in the workspace, written and
// read by the same thread). Phase 2 takes the segments last to first: it loads the segment's inputs into shared
// memory, runs the forward from the segment's saved state keeping the state at every 4th step (sub-tile starts),
// then takes the sub-tiles last to first, recomputing their 4 steps' a_t and h_t into registers and running the
// reverse recurrence over them. Nothing of size seqlen x dstate exists anywhere.
//
// Sums: du and ddelta sum over states (the S lanes of a channel: a xor butterfly, fixed order); dA and constant
// dB/dC sum over time per lane (float per segment, double across segments) and are written per (batch, channel)
// row into the workspace; dD and ddelta_bias likewise. ss2d_scan_bwd_rows then sums the rows over the batch in
// order. Variable dB/dC sum over the channels of a group: over the RW channels of a warp with a xor butterfly, over
// the W warps of a block in warp order through shared memory, and over the P blocks of a group by
// ss2d_scan_bwd_slices in block order (the kernel writes its block's slice of a P-slice workspace, or dB itself
// when P == 1). No atomics: the same inputs give the same bits on every run.
//
// Shared memory per warp (floats), P = TS + 1 (row pitch against bank conflicts):
//   u, dt, g, z/dz, du-sum, ddelta-sum: 6 x RW x P;  B, C, warp dB, warp dC: 4 x NP x P (NP = S*SPL);
//   sub-tile start states: (TS/4) x SPL x 32.  ScanLauncher.backwardWarpFloats mirrors bwd_warp_floats.
#pragma once
#include "ss2d_params.h"

namespace ss2d {
namespace bwd {

constexpr int SUB = 4;  // steps of a sub-tile, whose a_t and h_t stay in registers

__host__ __device__ constexpr int warp_floats(int S, int SPL, int TS) {
  return 6 * (32 / S) * (TS + 1) + 4 * S * SPL * (TS + 1) + (TS / SUB) * SPL * 32;
}

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float softplus20(float x) { return x <= 20.f ? log1pf(expf(x)) : x; }

// One segment's inputs into shared memory, 0 past L (dt 0 there, and the loops take a = 1: no input; g 0: no gradient).
// full: also dout, z, C (phase 2); else only what the forward recurrence needs (u, dt, B).
template <int S, int SPL>
__device__ __forceinline__ void load_segment(const ScanParams& p, const ScanBwdParams& q, float* sU, float* sDt,
                                             float* sG, float* sZ, float* sB, float* sC, int64_t b, int64_t d0,
                                             int64_t g, int64_t t0, int TS, int lane, bool full) {
  constexpr int RW = 32 / S, NP = S * SPL;
  const int P = TS + 1;
  const int64_t L = p.seqlen;
  const int N = (int)p.dstate;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;
  for (int i = lane; i < RW * TS; i += 32) {
    const int rr = i / TS, c = i - rr * TS;
    const int64_t d = d0 + rr, t = t0 + c;
    const bool in = t < L;
    const int64_t ui = b * p.u_batch_stride + d * p.u_dim_stride + t;
    float x = in ? __ldg(p.delta + b * p.delta_batch_stride + d * p.delta_dim_stride + t) : 0.f;
    if (p.delta_bias) x += __ldg(p.delta_bias + d);
    if (softplus) x = softplus20(x);
    sU[rr * P + c] = in ? __ldg(p.u + ui) : 0.f;
    sDt[rr * P + c] = in ? x : 0.f;
    if (full) {
      sG[rr * P + c] = in ? __ldg(q.dout + ui) : 0.f;
      if (p.z) sZ[rr * P + c] = in ? __ldg(p.z + b * p.z_batch_stride + d * p.z_dim_stride + t) : 0.f;
    }
  }
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
  if (varB || (full && varC)) {
    const float* Bg = p.B + b * p.B_batch_stride + g * p.B_group_stride;
    const float* Cg = p.C + b * p.C_batch_stride + g * p.C_group_stride;
    for (int i = lane; i < NP * TS; i += 32) {
      const int n = i / TS, c = i - n * TS;
      const int64_t t = t0 + c;
      const bool in = n < N && t < L;
      if (varB) sB[n * P + c] = in ? __ldg(Bg + n * p.B_state_stride + t) : 0.f;
      if (full && varC) sC[n * P + c] = in ? __ldg(Cg + n * p.C_state_stride + t) : 0.f;
    }
  }
}

template <int S, int SPL>
__device__ __forceinline__ void scan_bwd(const ScanParams& p, const ScanBwdParams& q, float* smem) {
  constexpr int RW = 32 / S, NP = S * SPL;
  const int TS = (int)q.seg, P = TS + 1, M = TS / SUB;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, W = blockDim.x >> 5;
  // The launcher makes the grid exact (W warps of RW channels per block, one group per block): no warp idles,
  // so the block-wide barriers below are reached by every thread.
  const int64_t rowsPerBatch = p.dim / RW;
  const int64_t gw = (int64_t)blockIdx.x * W + warp;
  const int64_t b = gw / rowsPerBatch;
  const int64_t d0 = (gw - b * rowsPerBatch) * RW;
  const int64_t perGroup = p.dim / p.groups;
  const int64_t g = d0 / perGroup;
  const int64_t L = p.seqlen;
  const int N = (int)p.dstate;
  const int64_t nseg = q.nseg;
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;
  const bool gate = p.z != nullptr;

  float* sU = smem + (size_t)warp * warp_floats(S, SPL, TS);
  float* sDt = sU + RW * P;
  float* sG = sDt + RW * P;
  float* sZ = sG + RW * P;
  float* sSu = sZ + RW * P;   // per (channel, step): y before the gate, then sum_n lam B, then g u
  float* sSd = sSu + RW * P;  // per (channel, step): sum_n lam (u B + A a h_prev), then ddelta
  float* sB = sSd + RW * P;
  float* sC = sB + NP * P;
  float* sDB = sC + NP * P;   // this warp's dB over its channels, (state, step)
  float* sDC = sDB + NP * P;
  float* sH = sDC + NP * P;   // states at sub-tile starts, [m][j][lane]

  const int r = lane / S, s = lane % S, n0 = s * SPL;
  const int64_t d = d0 + r;
  const int64_t row = b * p.dim + d;
  float A2[SPL], An[SPL], Bc[SPL], Cc[SPL], h[SPL];
#pragma unroll
  for (int j = 0; j < SPL; ++j) {
    const int n = n0 + j;
    const bool live = n < N;
    // Padding states: A 0 (a = 1), B and C 0: their state and its gradient stay 0.
    An[j] = live ? __ldg(p.A + d * p.A_dim_stride + n * p.A_state_stride) : 0.f;
    A2[j] = An[j] * 1.4426950408889634f;
    Bc[j] = (!varB && live) ? __ldg(p.B + d * p.B_group_stride + n * p.B_state_stride) : 0.f;
    Cc[j] = (!varC && live) ? __ldg(p.C + d * p.C_group_stride + n * p.C_state_stride) : 0.f;
    h[j] = 0.f;
  }
  float* ckpt = q.ckpt + (size_t)row * nseg * N;

  // ---- phase 1: forward recurrence, the state entering every segment after the first
  for (int64_t seg = 0; seg + 1 < nseg; ++seg) {
    load_segment<S, SPL>(p, q, sU, sDt, sG, sZ, sB, sC, b, d0, g, seg * TS, TS, lane, false);
    __syncwarp();
    for (int t = 0; t < TS; ++t) {
      const float dt = sDt[r * P + t], du = dt * sU[r * P + t];
#pragma unroll
      for (int j = 0; j < SPL; ++j) h[j] = fmaf(ex2(dt * A2[j]), h[j], du * (varB ? sB[(n0 + j) * P + t] : Bc[j]));
    }
#pragma unroll
    for (int j = 0; j < SPL; ++j) if (n0 + j < N) ckpt[(seg + 1) * N + n0 + j] = h[j];
    __syncwarp();
  }

  // ---- phase 2: segments last to first
  float carry[SPL];  // a_{t+1} lam_{t+1}: the gradient flowing into h_t from later steps
#pragma unroll
  for (int j = 0; j < SPL; ++j) carry[j] = (q.dlast && n0 + j < N) ? __ldg(q.dlast + row * N + n0 + j) : 0.f;
  // Per-state sums over time run in this thread's own row of the workspace, in double (registers stay free);
  // dD and ddelta_bias in registers until the channel's lanes are summed at the end.
  double* rows = q.rows + (size_t)row * (3 * N + 2);
  double accD = 0.0, accBias = 0.0;
  const int64_t blockChannels = (int64_t)W * RW;
  const int64_t slice = ((int64_t)blockIdx.x * W * RW - b * p.dim - g * perGroup) / blockChannels;

  for (int64_t seg = nseg - 1; seg >= 0; --seg) {
    const int64_t t0 = seg * TS;
    load_segment<S, SPL>(p, q, sU, sDt, sG, sZ, sB, sC, b, d0, g, t0, TS, lane, true);
    __syncwarp();

    // Steps of this segment inside the sequence. Past L, a = 1 is set, not computed: ex2(0 * A) is NaN for an
    // infinite A, and that NaN would reach every earlier step through the reverse carry (the float64 adjoint has
    // no such steps; exp(dt * -inf) = 0 on the real ones keeps their gradients finite).
    const int valid = (int)min((int64_t)TS, L - t0);
    // forward over the segment from its saved state: sub-tile start states, and y (before the gate) when z
#pragma unroll
    for (int j = 0; j < SPL; ++j) h[j] = seg > 0 && n0 + j < N ? ckpt[seg * N + n0 + j] : 0.f;
    for (int m = 0; m < M; ++m) {
#pragma unroll
      for (int j = 0; j < SPL; ++j) sH[(m * SPL + j) * 32 + lane] = h[j];
#pragma unroll
      for (int k = 0; k < SUB; ++k) {
        const int t = m * SUB + k;
        const float dt = sDt[r * P + t], du = dt * sU[r * P + t];
        float y = 0.f;
#pragma unroll
        for (int j = 0; j < SPL; ++j) {
          h[j] = fmaf(t < valid ? ex2(dt * A2[j]) : 1.f, h[j], du * (varB ? sB[(n0 + j) * P + t] : Bc[j]));
          if (gate) y = fmaf(varC ? sC[(n0 + j) * P + t] : Cc[j], h[j], y);
        }
        if (gate) {
#pragma unroll
          for (int off = 1; off < S; off <<= 1) y += __shfl_xor_sync(0xffffffffu, y, off);
          if (s == 0) sSu[r * P + t] = y;
        }
      }
    }
    if (gate) {  // dz and g = dout silu(z), per (channel, step)
      __syncwarp();
      for (int i = lane; i < RW * TS; i += 32) {
        const int rr = i / TS, c = i - rr * TS;
        if (t0 + c < L) {
          const float y = fmaf(p.D ? __ldg(p.D + d0 + rr) : 0.f, sU[rr * P + c], sSu[rr * P + c]);
          const float zv = sZ[rr * P + c], dout = sG[rr * P + c];
          const float sg = 1.f / (1.f + expf(-zv));
          sZ[rr * P + c] = dout * y * sg * (1.f + zv * (1.f - sg));
          sG[rr * P + c] = dout * zv * sg;
        }
      }
    }
    __syncwarp();

    // reverse over the sub-tiles
    float fA[SPL], fB[SPL], fC[SPL];
#pragma unroll
    for (int j = 0; j < SPL; ++j) fA[j] = fB[j] = fC[j] = 0.f;
    for (int m = M - 1; m >= 0; --m) {
      float hk[SUB][SPL], ak[SUB][SPL], h0[SPL];
#pragma unroll
      for (int j = 0; j < SPL; ++j) h0[j] = sH[(m * SPL + j) * 32 + lane];
#pragma unroll
      for (int k = 0; k < SUB; ++k) {
        const int t = m * SUB + k;
        const float dt = sDt[r * P + t], du = dt * sU[r * P + t];
#pragma unroll
        for (int j = 0; j < SPL; ++j) {
          ak[k][j] = t < valid ? ex2(dt * A2[j]) : 1.f;
          hk[k][j] = fmaf(ak[k][j], k > 0 ? hk[k - 1][j] : h0[j], du * (varB ? sB[(n0 + j) * P + t] : Bc[j]));
        }
      }
#pragma unroll
      for (int k = SUB - 1; k >= 0; --k) {
        const int t = m * SUB + k;
        const float dt = sDt[r * P + t], u = sU[r * P + t], gv = sG[r * P + t];
        float su = 0.f, sd = 0.f;
#pragma unroll
        for (int j = 0; j < SPL; ++j) {
          const float Bt = varB ? sB[(n0 + j) * P + t] : Bc[j];
          const float Ct = varC ? sC[(n0 + j) * P + t] : Cc[j];
          const float lam = fmaf(Ct, gv, carry[j]);
          const float ah = ak[k][j] * (k > 0 ? hk[k - 1][j] : h0[j]);
          su = fmaf(lam, Bt, su);
          sd = fmaf(lam, fmaf(An[j], ah, u * Bt), sd);
          const float ldt = lam * dt;
          fA[j] = fmaf(ldt, ah, fA[j]);
          float vB = ldt * u, vC = gv * hk[k][j];
          if (varB) {
#pragma unroll
            for (int off = S; off < 32; off <<= 1) vB += __shfl_xor_sync(0xffffffffu, vB, off);
            if (r == 0) sDB[(n0 + j) * P + t] = vB;
          } else {
            fB[j] += vB;
          }
          if (varC) {
#pragma unroll
            for (int off = S; off < 32; off <<= 1) vC += __shfl_xor_sync(0xffffffffu, vC, off);
            if (r == 0) sDC[(n0 + j) * P + t] = vC;
          } else {
            fC[j] += vC;
          }
          carry[j] = ak[k][j] * lam;
        }
#pragma unroll
        for (int off = 1; off < S; off <<= 1) {
          su += __shfl_xor_sync(0xffffffffu, su, off);
          sd += __shfl_xor_sync(0xffffffffu, sd, off);
        }
        if (s == 0) {
          sSu[r * P + t] = su;
          sSd[r * P + t] = sd;
        }
      }
    }
#pragma unroll
    for (int j = 0; j < SPL; ++j) {
      const int n = n0 + j;
      if (n < N) {
        const bool first = seg == nseg - 1;
        rows[n] = (first ? 0.0 : rows[n]) + fA[j];
        rows[N + n] = (first ? 0.0 : rows[N + n]) + fB[j];
        rows[2 * N + n] = (first ? 0.0 : rows[2 * N + n]) + fC[j];
      }
    }
    __syncwarp();

    // finish the segment's per-step gradients (coalesced rows), keep g u and ddelta for the channel sums
    for (int i = lane; i < RW * TS; i += 32) {
      const int rr = i / TS, c = i - rr * TS;
      const int64_t t = t0 + c;
      float gu = 0.f, dd = 0.f;
      if (t < L) {
        const int64_t dd0 = d0 + rr;
        const int64_t oi = b * p.u_batch_stride + dd0 * p.u_dim_stride + t;
        const float dt = sDt[rr * P + c], u = sU[rr * P + c], gv = sG[rr * P + c];
        const float Dv = p.D ? __ldg(p.D + dd0) : 0.f;
        q.du[oi] = fmaf(dt, sSu[rr * P + c], Dv * gv);
        // softplus'(x) = sigmoid(x) = 1 - exp(-softplus(x)); past the threshold 20 it is 1 in float either way
        dd = softplus ? sSd[rr * P + c] * -expm1f(-dt) : sSd[rr * P + c];
        q.ddelta[oi] = dd;
        if (gate) q.dz[oi] = sZ[rr * P + c];
        gu = gv * u;
      }
      sSu[rr * P + c] = gu;
      sSd[rr * P + c] = dd;
    }
    __syncwarp();
    {
      float fD = 0.f, fBias = 0.f;
      for (int c = s; c < TS; c += S) {
        fD += sSu[r * P + c];
        fBias += sSd[r * P + c];
      }
      accD += fD;
      accBias += fBias;
    }

    // variable dB/dC: this block's sum over its warps, in warp order, into its slice
    if (varB || varC) {
      __syncthreads();
      const int64_t per = (int64_t)N * TS;
      const int wf = warp_floats(S, SPL, TS);
      const float* base = smem + 6 * RW * P + 2 * NP * P;  // warp 0's sDB
      for (int64_t i = threadIdx.x; i < per; i += blockDim.x) {
        const int n = (int)(i / TS), c = (int)(i - (int64_t)n * TS);
        const int64_t t = t0 + c;
        if (t >= L) continue;
        if (varB) {
          float v = 0.f;
          for (int w = 0; w < W; ++w) v += base[(size_t)w * wf + n * P + c];
          q.dB[slice * q.b_slice_stride + b * p.B_batch_stride + g * p.B_group_stride + n * p.B_state_stride + t] = v;
        }
        if (varC) {
          float v = 0.f;
          for (int w = 0; w < W; ++w) v += base[(size_t)w * wf + NP * P + n * P + c];
          q.dC[slice * q.c_slice_stride + b * p.C_batch_stride + g * p.C_group_stride + n * p.C_state_stride + t] = v;
        }
      }
      __syncthreads();
    } else {
      __syncwarp();
    }
  }

  // ---- dD and ddelta_bias: the S lanes of the channel summed (a butterfly: every lane gets the same bits)
#pragma unroll
  for (int off = 1; off < S; off <<= 1) {
    accD += __shfl_xor_sync(0xffffffffu, accD, off);
    accBias += __shfl_xor_sync(0xffffffffu, accBias, off);
  }
  if (s == 0) {
    rows[3 * N] = accD;
    rows[3 * N + 1] = accBias;
  }
}

}  // namespace bwd
}  // namespace ss2d

// ss2d_scan_bwd_l<S>_s<SPL>: S lanes per channel, SPL states per lane (ScanLauncher.backwardPlan picks one).
// At most 256 threads; 2 blocks per SM caps SPL 1 and 4 at 128 registers with no spills (ptxas, sm_90); SPL 8
// (dstate > 32) keeps its hk/ak tiles in up to 255 registers instead of spilling ~600 bytes at 128.
#define SS2D_BWD_KERNEL(S, SPL, MINB)                                                           \
  extern "C" __global__ void __launch_bounds__(256, MINB)                                       \
      ss2d_scan_bwd_l##S##_s##SPL(const ScanParams p, const ScanBwdParams q) {                  \
    extern __shared__ __align__(16) float ss2d_smem_bwd[];                                      \
    ss2d::bwd::scan_bwd<S, SPL>(p, q, ss2d_smem_bwd);                                           \
  }

SS2D_BWD_KERNEL(1, 1, 2)
SS2D_BWD_KERNEL(2, 1, 2)
SS2D_BWD_KERNEL(4, 1, 2)
SS2D_BWD_KERNEL(8, 1, 2)
SS2D_BWD_KERNEL(16, 1, 2)
SS2D_BWD_KERNEL(32, 1, 2)
SS2D_BWD_KERNEL(1, 4, 2)
SS2D_BWD_KERNEL(2, 4, 2)
SS2D_BWD_KERNEL(4, 4, 2)
SS2D_BWD_KERNEL(8, 4, 2)
SS2D_BWD_KERNEL(16, 4, 2)
SS2D_BWD_KERNEL(32, 4, 2)
SS2D_BWD_KERNEL(8, 8, 1)
SS2D_BWD_KERNEL(16, 8, 1)
SS2D_BWD_KERNEL(32, 8, 1)

// The per-row sums over the batch, in batch order (double): rows (batch, dim, 3N+2) doubles = [dA | dB | dC | dD | dbias]
// per (batch, channel) row. One thread per (channel, column); dB/dC only when constant (else null), dD and
// dbias only when present.
extern "C" __global__ void __launch_bounds__(256)
ss2d_scan_bwd_rows(const double* __restrict__ rows, float* dA, float* dB, float* dC, float* dD, float* dbias,
                   int64_t batch, int64_t dim, int64_t dstate) {
  const int64_t cols = 3 * dstate + 2;
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= dim * cols) return;
  const int64_t d = i / cols, j = i - d * cols;
  double acc = 0.0;
  for (int64_t b = 0; b < batch; ++b) acc += rows[b * dim * cols + i];
  const float v = (float)acc;
  if (j < dstate) dA[d * dstate + j] = v;
  else if (j < 2 * dstate) { if (dB) dB[d * dstate + j - dstate] = v; }
  else if (j < 3 * dstate) { if (dC) dC[d * dstate + j - 2 * dstate] = v; }
  else if (j == 3 * dstate) { if (dD) dD[d] = v; }
  else if (dbias) dbias[d] = v;
}

// out[i] = sum over the slices of part[slice * n + i], in slice order (double): variable dB/dC from the blocks'
// slices.
extern "C" __global__ void __launch_bounds__(256)
ss2d_scan_bwd_slices(const float* __restrict__ part, float* __restrict__ out, int64_t n, int64_t slices) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  double acc = 0.0;
  for (int64_t k = 0; k < slices; ++k) acc += part[k * n + i];
  out[i] = (float)acc;
}
