// Selective scan backward at dstate 1, parallel over time (v2; selective_scan_bwd.cuh is v1, kept selectable).
// Included by ss2d_kernels.cu after selective_scan.cuh, whose loadK/storeK/chunk_entry_state/fast_exp2/softplus20_fast
// it uses.
//
// Why: v1 gives a lane a whole row at dstate 1, so S1 runs 24,576 threads (~186 per SM), far too few to cover memory
// latency. Here a warp owns R channels of one (batch, group), as the forward's n1 kernels do, and walks each row in
// chunks of 32 lanes x K = 4 consecutive steps:
//   pass 1, chunks first to last but the last: the lanes' (prod a, local h) pairs composed over the warp give the
//     state at every chunk start, kept in the workspace (1 float per 128 steps, written and read by the same warp);
//   pass 2, chunks last to first: a_t computed once (one ex2 per step), the forward states inside the lanes recomputed
//     from the chunk-start state with the forward's warp scan; the reverse recurrence lam_t = C_t g_t + a_{t+1} lam_{t+1}
//     the same way mirrored: each lane's (prod a, local reverse partial) pair, a suffix scan over the lanes (shfl_down),
//     the carry from the later chunk applied, then every step's lam in registers; du, ddelta, dz stored directly.
// Steps past seqlen take a = 1, dt = 0 and no gradient (as v1: ex2(0 * A) is NaN for an infinite A).
//
// Sums, fixed order, no atomics: dA, dD, ddelta_bias and constant dB/dC per lane in float over a chunk, in double
// across chunks, then a xor butterfly over the warp (every lane the same bits), one row of the workspace per (batch,
// channel) for ss2d_scan_bwd_rows. Variable dB/dC: over the R channels of a warp in channel order (registers), over the
// W warps of a block in warp order (shared memory, 2 x 128 floats a warp), over the blocks of a group in block order
// (ss2d_scan_bwd_slices, as v1).
#pragma once
#include "ss2d_params.h"

namespace ss2d {
namespace bwd1 {

constexpr int K = 4;         // consecutive steps of a lane
constexpr int CH = 32 * K;   // steps of a warp chunk (ScanBackwardLauncher.N1_CHUNK)

template <int R, bool VEC>
__device__ __forceinline__ void scan_bwd_n1(const ScanParams& p, const ScanBwdParams& q, float* smem) {
  const unsigned full = 0xffffffffu;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, W = blockDim.x >> 5;
  // The launcher makes the grid exact (every warp has R channels, W x R channels divide a group), so every thread
  // reaches the block barriers below.
  const int64_t rowsPerBatch = p.dim / R;
  const int64_t gw = (int64_t)blockIdx.x * W + warp;
  const int64_t b = gw / rowsPerBatch;
  const int64_t d0 = (gw - b * rowsPerBatch) * R;
  const int64_t perGroup = p.dim / p.groups;
  const int64_t g = d0 / perGroup;
  const int64_t L = p.seqlen;
  const int64_t nch = q.nseg;
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;
  const bool gate = p.z != nullptr;
  const float* Bg = varB ? p.B + b * p.B_batch_stride + g * p.B_group_stride : nullptr;
  const float* Cg = varC ? p.C + b * p.C_batch_stride + g * p.C_group_stride : nullptr;

  float An[R], A2[R], Dv[R], bias[R], Bc[R], Cc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t d = d0 + r;
    An[r] = __ldg(p.A + d * p.A_dim_stride);
    A2[r] = An[r] * SS2D_LOG2E;
    Dv[r] = p.D ? __ldg(p.D + d) : 0.f;
    bias[r] = p.delta_bias ? __ldg(p.delta_bias + d) : 0.f;
    Bc[r] = varB ? 0.f : __ldg(p.B + d * p.B_group_stride);
    Cc[r] = varC ? 0.f : __ldg(p.C + d * p.C_group_stride);
  }
  auto uRow = [&](int r) { return p.u + b * p.u_batch_stride + (d0 + r) * p.u_dim_stride; };
  auto dRow = [&](int r) { return p.delta + b * p.delta_batch_stride + (d0 + r) * p.delta_dim_stride; };
  auto oOff = [&](int r) { return b * p.u_batch_stride + (d0 + r) * p.u_dim_stride; };  // dout, du, ddelta, dz
  auto zRow = [&](int r) { return p.z + b * p.z_batch_stride + (d0 + r) * p.z_dim_stride; };
  float* ck = q.ckpt + (b * p.dim + d0) * nch;  // chunk-start states, row r at ck + r * nch

  // ---- pass 1: the state entering every chunk after the first
  {
    float h[R];
#pragma unroll
    for (int r = 0; r < R; ++r) h[r] = 0.f;
    for (int64_t c = 0; c + 1 < nch; ++c) {
      const int64_t t = c * CH + (int64_t)lane * K;
      const int64_t tn = t + CH;  // one lane in 8 touches each 128-byte line of the next chunk
      if ((lane & 7) == 0 && tn < L) {
        if (varB) asm volatile("prefetch.global.L2 [%0];" ::"l"(Bg + tn));
#pragma unroll
        for (int r = 0; r < R; ++r) {
          asm volatile("prefetch.global.L2 [%0];" ::"l"(uRow(r) + tn));
          asm volatile("prefetch.global.L2 [%0];" ::"l"(dRow(r) + tn));
        }
      }
      float Bk[K];
      if (varB) loadK<K, VEC>(Bg, t, L, Bk);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float uv[K], dl[K];
        loadK<K, VEC>(uRow(r), t, L, uv);
        loadK<K, VEC>(dRow(r), t, L, dl);
        float P = 1.f, Q = 0.f;
#pragma unroll
        for (int k = 0; k < K; ++k) {
          const bool valid = t + k < L;
          float dv = dl[k] + bias[r];
          if (softplus) dv = softplus20_fast(dv);
          const float a = valid ? fast_exp2(dv * A2[r]) : 1.f;
          const float bb = valid ? dv * uv[k] * (varB ? Bk[k] : Bc[r]) : 0.f;
          Q = fmaf(a, Q, bb);
          P *= a;
        }
        // lane l ends with the composition of lanes l..31 (later lanes applied after): lane 0 has the chunk's
#pragma unroll
        for (int off = 1; off < 32; off <<= 1) {
          const float Po = __shfl_down_sync(full, P, off), Qo = __shfl_down_sync(full, Q, off);
          if (lane + off < 32) { Q = fmaf(Po, Q, Qo); P *= Po; }
        }
        h[r] = __shfl_sync(full, fmaf(P, h[r], Q), 0);
        if (lane == 0) ck[r * nch + c + 1] = h[r];
      }
    }
  }
  __syncwarp();  // lane 0's chunk-start states are read by every lane below

  // ---- pass 2: chunks last to first
  float X[R];  // a_{t+1} lam_{t+1} at the chunk's end: the gradient flowing into the state before from later steps
  double sA[R], sB[R], sC[R], sD[R], sBias[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    X[r] = q.dlast ? __ldg(q.dlast + b * p.dim + d0 + r) : 0.f;
    sA[r] = sB[r] = sC[r] = sD[r] = sBias[r] = 0.0;
  }
  for (int64_t c = nch - 1; c >= 0; --c) {
    const int64_t t = c * CH + (int64_t)lane * K;
    const int64_t tp = t - CH;  // the previous chunk, next in this order
    if ((lane & 7) == 0 && tp >= 0) {
      if (varB) asm volatile("prefetch.global.L2 [%0];" ::"l"(Bg + tp));
      if (varC) asm volatile("prefetch.global.L2 [%0];" ::"l"(Cg + tp));
#pragma unroll
      for (int r = 0; r < R; ++r) {
        asm volatile("prefetch.global.L2 [%0];" ::"l"(uRow(r) + tp));
        asm volatile("prefetch.global.L2 [%0];" ::"l"(dRow(r) + tp));
        asm volatile("prefetch.global.L2 [%0];" ::"l"(q.dout + oOff(r) + tp));
        if (gate) asm volatile("prefetch.global.L2 [%0];" ::"l"(zRow(r) + tp));
      }
    }
    float Bk[K], Ck[K];
    if (varB) loadK<K, VEC>(Bg, t, L, Bk);
    if (varC) loadK<K, VEC>(Cg, t, L, Ck);
    float* mine = smem + warp * 2 * CH;  // this warp's dB, dC of the chunk, summed over its channels in order
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float uv[K], dl[K], gk[K], zv[K];
      loadK<K, VEC>(uRow(r), t, L, uv);
      loadK<K, VEC>(dRow(r), t, L, dl);
      loadK<K, VEC>(q.dout + oOff(r), t, L, gk);
      if (gate) loadK<K, VEC>(zRow(r), t, L, zv);
      float dt[K], a[K], bb[K];
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const bool valid = t + k < L;
        float dv = dl[k] + bias[r];
        if (softplus) dv = softplus20_fast(dv);
        dt[k] = valid ? dv : 0.f;
        a[k] = valid ? fast_exp2(dv * A2[r]) : 1.f;
        bb[k] = dt[k] * uv[k] * (varB ? Bk[k] : Bc[r]);
      }
      // forward states of the lane's steps from the chunk-start state
      const float h0 = c > 0 ? ck[r * nch + c] : 0.f;
      float hLane;
      const float hin = chunk_entry_state<K>(a, bb, h0, lane, hLane);
      float hs[K];
#pragma unroll
      for (int k = 0; k < K; ++k) hs[k] = fmaf(a[k], k > 0 ? hs[k - 1] : hin, bb[k]);
      // the gate: dz, and g = dout silu(z) in gk
      if (gate) {
#pragma unroll
        for (int k = 0; k < K; ++k) {
          const float y = fmaf(varC ? Ck[k] : Cc[r], hs[k], Dv[r] * uv[k]);
          const float z = zv[k], sg = 1.f / (1.f + __expf(-z));
          zv[k] = gk[k] * y * sg * (1.f + z * (1.f - sg));  // dz
          gk[k] = gk[k] * z * sg;
        }
        storeK<K, VEC>(q.dz + oOff(r), t, L, zv);
      }
      // reverse: the lane's own partial from a zero carry, composed over lanes l..31, the chunk's carry applied
      float P = 1.f, Q = 0.f;
#pragma unroll
      for (int k = K - 1; k >= 0; --k) {
        Q = a[k] * fmaf(varC ? Ck[k] : Cc[r], gk[k], Q);
        P *= a[k];
      }
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const float Po = __shfl_down_sync(full, P, off), Qo = __shfl_down_sync(full, Q, off);
        if (lane + off < 32) { Q = fmaf(P, Qo, Q); P *= Po; }
      }
      const float xl = fmaf(P, X[r], Q);  // leaves this lane's first step
      float xin = __shfl_down_sync(full, xl, 1);
      if (lane == 31) xin = X[r];
      X[r] = __shfl_sync(full, xl, 0);
      float duk[K], ddk[K];
      float fA = 0.f, fB = 0.f, fC = 0.f, fD = 0.f, fBias = 0.f;
#pragma unroll
      for (int k = K - 1; k >= 0; --k) {
        const bool valid = t + k < L;
        const float Bt = varB ? Bk[k] : Bc[r];
        const float lam = fmaf(varC ? Ck[k] : Cc[r], gk[k], xin);
        const float ah = a[k] * (k > 0 ? hs[k - 1] : hin);
        const float ldt = lam * dt[k];
        duk[k] = fmaf(ldt, Bt, Dv[r] * gk[k]);
        float dd = lam * fmaf(An[r], ah, uv[k] * Bt);
        if (softplus) {  // softplus'(x) = sigmoid(x); past the threshold 20 it is 1 in float either way
          const float x = dl[k] + bias[r];
          if (x <= 20.f) dd *= 1.f / (1.f + __expf(-x));
        }
        ddk[k] = dd;
        if (valid) {
          fA = fmaf(ldt, ah, fA);
          const float vB = ldt * uv[k], vC = gk[k] * hs[k];
          if (varB) mine[lane * K + k] = r == 0 ? vB : mine[lane * K + k] + vB; else fB += vB;
          if (varC) mine[CH + lane * K + k] = r == 0 ? vC : mine[CH + lane * K + k] + vC; else fC += vC;
          fD = fmaf(gk[k], uv[k], fD);
          fBias += dd;
        }
        xin = a[k] * lam;
      }
      storeK<K, VEC>(q.du + oOff(r), t, L, duk);
      storeK<K, VEC>(q.ddelta + oOff(r), t, L, ddk);
      sA[r] += fA; sB[r] += fB; sC[r] += fC; sD[r] += fD; sBias[r] += fBias;
    }
    // variable dB/dC: the block's warps in warp order, into the block's slice
    if (varB || varC) {
      __syncthreads();
      const int64_t slice = ((int64_t)blockIdx.x * W * R - b * p.dim - g * perGroup) / ((int64_t)W * R);
      for (int i = threadIdx.x; i < 2 * CH; i += blockDim.x) {
        const int which = i / CH, tl = i - which * CH;
        const int64_t tt = c * CH + tl;
        if (tt < L && (which == 0 ? varB : varC)) {
          float v = 0.f;
          for (int w = 0; w < W; ++w) v += smem[w * 2 * CH + which * CH + tl];
          if (which == 0) q.dB[slice * q.b_slice_stride + b * p.B_batch_stride + g * p.B_group_stride + tt] = v;
          else q.dC[slice * q.c_slice_stride + b * p.C_batch_stride + g * p.C_group_stride + tt] = v;
        }
      }
      __syncthreads();
    }
  }

  // ---- per-row sums over the warp's lanes (a butterfly: every lane the same bits), [dA | dB | dC | dD | dbias]
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      sA[r] += __shfl_xor_sync(full, sA[r], off);
      sB[r] += __shfl_xor_sync(full, sB[r], off);
      sC[r] += __shfl_xor_sync(full, sC[r], off);
      sD[r] += __shfl_xor_sync(full, sD[r], off);
      sBias[r] += __shfl_xor_sync(full, sBias[r], off);
    }
    if (lane == 0) {
      double* row = q.rows + (b * p.dim + d0 + r) * 5;
      row[0] = sA[r]; row[1] = sB[r]; row[2] = sC[r]; row[3] = sD[r]; row[4] = sBias[r];
    }
  }
}

}  // namespace bwd1
}  // namespace ss2d

// ss2d_scan_bwd_n1_r<R>_v<VEC>: dstate 1, R channels a warp, VEC = the 16-byte path (ScanBackwardLauncher.plan).
// Dynamic shared memory: 2 x 128 floats a warp (variable dB/dC), 256 threads at most. ptxas (sm_90, 2 blocks of 256
// threads an SM: at most 128 registers): r1 109/112 registers (v1/v0), r2 127/128, no spills; R = 4 took 167-180 and
// spilled at 128, so it is not instantiated.
#define SS2D_BWD_N1_KERNEL(R, VEC)                                                \
  extern "C" __global__ void __launch_bounds__(256, 2)                            \
      ss2d_scan_bwd_n1_r##R##_v##VEC(const ScanParams p, const ScanBwdParams q) { \
    extern __shared__ __align__(16) float ss2d_smem_bwd1[];                       \
    ss2d::bwd1::scan_bwd_n1<R, VEC>(p, q, ss2d_smem_bwd1);                        \
  }

SS2D_BWD_N1_KERNEL(1, 0)
SS2D_BWD_N1_KERNEL(1, 1)
SS2D_BWD_N1_KERNEL(2, 0)
SS2D_BWD_N1_KERNEL(2, 1)
