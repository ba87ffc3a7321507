// Selective scan backward at dstate 2..16, parallel over time (v3; selective_scan_bwd.cuh is v1, kept selectable).
// Included by ss2d_kernels.cu after selective_scan.cuh (loadK/storeK/chunk_entry_state/fast_exp2/softplus20_fast).
//
// Why: v1 makes a lane walk a whole row, three ex2 per (step, state) and a segment-start state per 32 steps; its
// variable dB/dC go through one slice per block of a group (1.9 GiB of workspace at S5). Here rows are cut in chunks
// of 32 lanes x K = 4 steps (v2's), and a block owns a (batch, channel tile, chunk):
//   bounds (ss2d_scan_bwd_v3_bounds_v<VEC>), a warp per (batch, channel) row: chunks first to last, each state's lane
//     pairs (prod a, local h) composed over the warp, lane n keeping state n, writes the state entering every chunk;
//     chunks last to first, the reverse pairs (prod a, local lam) the same way, writes the carry a_{t+1} lam_{t+1}
//     leaving every chunk's last step (dlast_state at the last chunk);
//   main (ss2d_scan_bwd_v3_v<VEC>), a block per (batch, tile, chunk), its W warps taking the tile's channels in turn:
//     per channel the states in order, each a forward warp scan from the chunk's entering state and a reverse one from
//     its carry (v2's scans); du, ddelta and y (for dz) summed over the states in registers and stored once.
// A tile is a group when B or C is variable: the block loads the chunk's B/C once into shared memory, and dB/dC of
// every (state, step) sum over the warp's channels in its own shared region (lane-private, channel order), then over
// the warps in warp order, and are written once: no slices, no atomics. dA, constant dB/dC, dD and ddelta_bias: a
// float per (batch, chunk, channel) from a xor butterfly, summed over (batch, chunk) in order in double by
// ss2d_scan_bwd_parts.
// Workspace (ScanBackwardLauncher.workspaceBytes): states and carries, 2 x dstate floats per (row, chunk) (q.ckpt, the
// carries after the states), and dstate + 2 floats per (row, chunk) of partial sums, dstate more for each constant B,
// C (q.rows, read as floats).
// Steps past seqlen take a = 1, dt = 0 and add nothing (ex2(0 * A) is NaN for an infinite A).
#pragma once
#include "ss2d_params.h"

namespace ss2d {
namespace bwd3 {

constexpr int K = 4;         // consecutive steps of a lane
constexpr int CH = 32 * K;   // steps of a chunk (ScanBackwardLauncher.V3_CHUNK)

// Lane l ends with the composition of lanes l..31 (forward maps h -> P h + Q, later lanes applied after l's): lane 0
// holds the chunk's.
__device__ __forceinline__ void compose_fwd(float& P, float& Q, int lane) {
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const float Po = __shfl_down_sync(0xffffffffu, P, off), Qo = __shfl_down_sync(0xffffffffu, Q, off);
    if (lane + off < 32) { Q = fmaf(Po, Q, Qo); P *= Po; }
  }
}

// The reverse maps x -> P x + Q of lanes l..31 composed, lane l's applied last (it is the earliest step).
__device__ __forceinline__ void compose_rev(float& P, float& Q, int lane) {
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const float Po = __shfl_down_sync(0xffffffffu, P, off), Qo = __shfl_down_sync(0xffffffffu, Q, off);
    if (lane + off < 32) { Q = fmaf(P, Qo, Q); P *= Po; }
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// dt of the lane's K steps (0 past L) and, for softplus's derivative, the argument x.
__device__ __forceinline__ void delta_steps(const float (&dl)[K], float bias, bool softplus, int64_t t, int64_t L,
                                            float (&x)[K], float (&dt)[K]) {
#pragma unroll
  for (int k = 0; k < K; ++k) {
    x[k] = dl[k] + bias;
    const float dv = softplus ? softplus20_fast(x[k]) : x[k];
    dt[k] = t + k < L ? dv : 0.f;
  }
}

template <bool VEC>
__device__ __forceinline__ void bounds(const ScanParams& p, const ScanBwdParams& q) {
  const unsigned full = 0xffffffffu;
  const int lane = threadIdx.x & 31;
  const int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= p.batch * p.dim) return;  // uniform per warp; no block barrier below
  const int64_t b = row / p.dim, d = row - b * p.dim;
  const int64_t g = d / (p.dim / p.groups);
  const int64_t L = p.seqlen, nch = q.nseg;
  const int N = (int)p.dstate;
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;
  const float bias = p.delta_bias ? __ldg(p.delta_bias + d) : 0.f;
  const float* Bg = varB ? p.B + b * p.B_batch_stride + g * p.B_group_stride : p.B + d * p.B_group_stride;
  const float* Cg = varC ? p.C + b * p.C_batch_stride + g * p.C_group_stride : p.C + d * p.C_group_stride;
  const float* Ad = p.A + d * p.A_dim_stride;
  const float* uRow = p.u + b * p.u_batch_stride + d * p.u_dim_stride;
  const float* dRow = p.delta + b * p.delta_batch_stride + d * p.delta_dim_stride;
  const int64_t oOff = b * p.u_batch_stride + d * p.u_dim_stride;
  float* H = q.ckpt + row * nch * N;
  float* X = q.ckpt + p.batch * p.dim * nch * N + row * nch * N;
  // lane n holds state n's A (log2 e folded in) and constant B, C: one load each, broadcast by a shuffle per state
  const float A2m = lane < N ? __ldg(Ad + lane * p.A_state_stride) * SS2D_LOG2E : 0.f;
  const float Bm = !varB && lane < N ? __ldg(Bg + lane * p.B_state_stride) : 0.f;
  const float Cm = !varC && lane < N ? __ldg(Cg + lane * p.C_state_stride) : 0.f;

  // forward: lane n keeps state n entering the chunk
  float hm = 0.f;
  for (int64_t c = 0;; ++c) {
    if (lane < N) H[c * N + lane] = hm;
    if (c + 1 >= nch) break;
    const int64_t t = c * CH + (int64_t)lane * K;
    float uv[K], dl[K], x[K], dt[K];
    loadK<K, VEC>(uRow, t, L, uv);
    loadK<K, VEC>(dRow, t, L, dl);
    delta_steps(dl, bias, softplus, t, L, x, dt);
    float Bk[K];  // state n's variable B, the next state's loaded while this one is composed
    if (varB) loadK<K, false>(Bg, t, L, Bk);
#pragma unroll 1
    for (int n = 0; n < N; ++n) {
      const float A2 = __shfl_sync(full, A2m, n);
      const float Bc = __shfl_sync(full, Bm, n);
      float Bnext[K];
      if (varB && n + 1 < N) loadK<K, false>(Bg + (n + 1) * p.B_state_stride, t, L, Bnext);
      float P = 1.f, Q = 0.f;
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const float a = t + k < L ? fast_exp2(dt[k] * A2) : 1.f;
        Q = fmaf(a, Q, dt[k] * uv[k] * (varB ? Bk[k] : Bc));
        P *= a;
      }
      compose_fwd(P, Q, lane);
      const float P0 = __shfl_sync(full, P, 0), Q0 = __shfl_sync(full, Q, 0);
      if (lane == n) hm = fmaf(P0, hm, Q0);
      if (varB && n + 1 < N) {
#pragma unroll
        for (int k = 0; k < K; ++k) Bk[k] = Bnext[k];
      }
    }
  }
  // reverse: lane n keeps the carry of state n leaving the chunk's last step
  float xm = (q.dlast && lane < N) ? __ldg(q.dlast + row * N + lane) : 0.f;
  for (int64_t c = nch - 1;; --c) {
    if (lane < N) X[c * N + lane] = xm;
    if (c == 0) break;
    const int64_t t = c * CH + (int64_t)lane * K;
    float dl[K], x[K], dt[K], gk[K];
    loadK<K, VEC>(dRow, t, L, dl);
    loadK<K, VEC>(q.dout + oOff, t, L, gk);
    delta_steps(dl, bias, softplus, t, L, x, dt);
    if (p.z) {
      float zv[K];
      loadK<K, VEC>(p.z + b * p.z_batch_stride + d * p.z_dim_stride, t, L, zv);
#pragma unroll
      for (int k = 0; k < K; ++k) gk[k] = gk[k] * zv[k] * (1.f / (1.f + __expf(-zv[k])));
    }
    float Ck[K];
    if (varC) loadK<K, false>(Cg, t, L, Ck);
#pragma unroll 1
    for (int n = 0; n < N; ++n) {
      const float A2 = __shfl_sync(full, A2m, n);
      const float Cc = __shfl_sync(full, Cm, n);
      float Cnext[K];
      if (varC && n + 1 < N) loadK<K, false>(Cg + (n + 1) * p.C_state_stride, t, L, Cnext);
      float P = 1.f, Q = 0.f;
#pragma unroll
      for (int k = K - 1; k >= 0; --k) {
        const float a = t + k < L ? fast_exp2(dt[k] * A2) : 1.f;
        Q = a * fmaf(varC ? Ck[k] : Cc, gk[k], Q);
        P *= a;
      }
      compose_rev(P, Q, lane);
      const float P0 = __shfl_sync(full, P, 0), Q0 = __shfl_sync(full, Q, 0);
      if (lane == n) xm = fmaf(P0, xm, Q0);
      if (varC && n + 1 < N) {
#pragma unroll
        for (int k = 0; k < K; ++k) Ck[k] = Cnext[k];
      }
    }
  }
}

template <bool VEC>
__device__ __forceinline__ void scan_bwd_v3(const ScanParams& p, const ScanBwdParams& q, float* smem) {
  const unsigned full = 0xffffffffu;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, W = blockDim.x >> 5;
  const int64_t nch = q.nseg, tile = q.seg, L = p.seqlen;
  const int64_t tiles = (p.dim + tile - 1) / tile;
  const int64_t c = blockIdx.x % nch, bt = blockIdx.x / nch;
  const int64_t ti = bt % tiles, b = bt / tiles;
  const int64_t d0 = ti * tile, d1 = min(p.dim, d0 + tile);
  const int64_t perGroup = p.dim / p.groups;
  const int64_t g = d0 / perGroup;  // the whole tile when B or C is variable (tile = a group)
  const int N = (int)p.dstate;
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;
  // partial sums of a (batch, chunk, channel): [dA | dD | dbias | dB if constant | dC if constant]
  const int cols = N + 2 + (varB ? 0 : N) + (varC ? 0 : N);
  const bool gate = p.z != nullptr;
  const int64_t t0 = c * CH, t = t0 + (int64_t)lane * K;
  const float* X = q.ckpt + p.batch * p.dim * nch * N;
  float* parts = reinterpret_cast<float*>(q.rows);

  // shared memory (variable B/C): the chunk's B and C [n][step], then per warp its dB and dC [n][k][lane]
  float* sB = smem;
  float* sC = smem + N * CH;
  float* accB = smem + (2 + 2 * warp) * N * CH;
  float* accC = accB + N * CH;
  if (varB || varC) {
    const float* Bg = p.B + b * p.B_batch_stride + g * p.B_group_stride;
    const float* Cg = p.C + b * p.C_batch_stride + g * p.C_group_stride;
    for (int i = threadIdx.x; i < N * CH; i += blockDim.x) {
      const int n = i / CH, tl = i - n * CH;
      const bool in = t0 + tl < L;
      if (varB) sB[i] = in ? __ldg(Bg + n * p.B_state_stride + t0 + tl) : 0.f;
      if (varC) sC[i] = in ? __ldg(Cg + n * p.C_state_stride + t0 + tl) : 0.f;
    }
    for (int i = lane; i < 2 * N * CH; i += 32) accB[i] = 0.f;
    __syncthreads();
  }

  for (int64_t d = d0 + warp; d < d1; d += W) {  // uniform per warp
    const int64_t row = b * p.dim + d;
    const int64_t oOff = b * p.u_batch_stride + d * p.u_dim_stride;  // dout, du, ddelta, dz
    const float bias = p.delta_bias ? __ldg(p.delta_bias + d) : 0.f;
    const float Dv = p.D ? __ldg(p.D + d) : 0.f;
    float uv[K], dl[K], x[K], dt[K], gk[K], fz[K];
    loadK<K, VEC>(p.u + b * p.u_batch_stride + d * p.u_dim_stride, t, L, uv);
    loadK<K, VEC>(p.delta + b * p.delta_batch_stride + d * p.delta_dim_stride, t, L, dl);
    loadK<K, VEC>(q.dout + oOff, t, L, gk);
    delta_steps(dl, bias, softplus, t, L, x, dt);
    if (gate) {  // g = dout silu(z) for the recurrence; dz = fz y once y is known
      float zv[K];
      loadK<K, VEC>(p.z + b * p.z_batch_stride + d * p.z_dim_stride, t, L, zv);
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const float z = zv[k], sg = 1.f / (1.f + __expf(-z));
        fz[k] = gk[k] * sg * (1.f + z * (1.f - sg));
        gk[k] = gk[k] * z * sg;
      }
    }
    float su[K], sd[K], ys[K];
#pragma unroll
    for (int k = 0; k < K; ++k) su[k] = sd[k] = ys[k] = 0.f;
    // lane n loads state n's entering state, carry, A and constant B, C (issued together, not one state at a time),
    // broadcast by a shuffle per state
    const bool ln = lane < N;
    const float Hm = ln ? __ldg(q.ckpt + (row * nch + c) * N + lane) : 0.f;
    const float Xm = ln ? __ldg(X + (row * nch + c) * N + lane) : 0.f;
    const float Am = ln ? __ldg(p.A + d * p.A_dim_stride + lane * p.A_state_stride) : 0.f;
    const float Bm = !varB && ln ? __ldg(p.B + d * p.B_group_stride + lane * p.B_state_stride) : 0.f;
    const float Cm = !varC && ln ? __ldg(p.C + d * p.C_group_stride + lane * p.C_state_stride) : 0.f;
    float* prow = parts + ((b * nch + c) * p.dim + d) * cols;

#pragma unroll 2
    for (int n = 0; n < N; ++n) {
      const float An = __shfl_sync(full, Am, n), A2 = An * SS2D_LOG2E;
      float Bt[K], Ct[K];
      if (varB) {
        const float4 v = *reinterpret_cast<const float4*>(sB + n * CH + lane * K);
        Bt[0] = v.x; Bt[1] = v.y; Bt[2] = v.z; Bt[3] = v.w;
      } else {
        const float v = __shfl_sync(full, Bm, n);
#pragma unroll
        for (int k = 0; k < K; ++k) Bt[k] = v;
      }
      if (varC) {
        const float4 v = *reinterpret_cast<const float4*>(sC + n * CH + lane * K);
        Ct[0] = v.x; Ct[1] = v.y; Ct[2] = v.z; Ct[3] = v.w;
      } else {
        const float v = __shfl_sync(full, Cm, n);
#pragma unroll
        for (int k = 0; k < K; ++k) Ct[k] = v;
      }
      float a[K], bb[K];
#pragma unroll
      for (int k = 0; k < K; ++k) {
        a[k] = t + k < L ? fast_exp2(dt[k] * A2) : 1.f;
        bb[k] = dt[k] * uv[k] * Bt[k];
      }
      // forward states of the lane's steps from the chunk's entering state
      float hLane;
      const float hin = chunk_entry_state<K>(a, bb, __shfl_sync(full, Hm, n), lane, hLane);
      float hs[K];
#pragma unroll
      for (int k = 0; k < K; ++k) {
        hs[k] = fmaf(a[k], k > 0 ? hs[k - 1] : hin, bb[k]);
        ys[k] = fmaf(Ct[k], hs[k], ys[k]);
      }
      // reverse: the lane's partial from a zero carry, composed over lanes l..31, the chunk's carry applied
      float P = 1.f, Q = 0.f;
#pragma unroll
      for (int k = K - 1; k >= 0; --k) {
        Q = a[k] * fmaf(Ct[k], gk[k], Q);
        P *= a[k];
      }
      compose_rev(P, Q, lane);
      const float Xc = __shfl_sync(full, Xm, n);
      float xin = __shfl_down_sync(full, fmaf(P, Xc, Q), 1);
      if (lane == 31) xin = Xc;
      float fA = 0.f, fB = 0.f, fC = 0.f;
#pragma unroll
      for (int k = K - 1; k >= 0; --k) {
        const bool valid = t + k < L;
        const float lam = fmaf(Ct[k], gk[k], xin);
        const float ah = a[k] * (k > 0 ? hs[k - 1] : hin);
        const float ldt = lam * dt[k];
        su[k] = fmaf(lam, Bt[k], su[k]);
        sd[k] = fmaf(lam, fmaf(An, ah, uv[k] * Bt[k]), sd[k]);
        if (valid) {
          fA = fmaf(ldt, ah, fA);
          const float vB = ldt * uv[k], vC = gk[k] * hs[k];
          if (varB) accB[n * CH + k * 32 + lane] += vB; else fB += vB;
          if (varC) accC[n * CH + k * 32 + lane] += vC; else fC += vC;
        }
        xin = a[k] * lam;
      }
      fA = warp_sum(fA);
      if (!varB) fB = warp_sum(fB);
      if (!varC) fC = warp_sum(fC);
      if (lane == 0) {
        prow[n] = fA;
        if (!varB) prow[N + 2 + n] = fB;
        if (!varC) prow[(varB ? N + 2 : 2 * N + 2) + n] = fC;
      }
    }

    float duk[K], ddk[K];
    float fD = 0.f, fBias = 0.f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      duk[k] = fmaf(dt[k], su[k], Dv * gk[k]);
      float dd = sd[k];
      // softplus'(x) = sigmoid(x); past the threshold 20 it is 1 in float either way
      if (softplus && x[k] <= 20.f) dd *= 1.f / (1.f + __expf(-x[k]));
      ddk[k] = dd;
      if (t + k < L) {
        fD = fmaf(gk[k], uv[k], fD);
        fBias += dd;
      }
      if (gate) fz[k] *= fmaf(Dv, uv[k], ys[k]);  // dz
    }
    storeK<K, VEC>(q.du + oOff, t, L, duk);
    storeK<K, VEC>(q.ddelta + oOff, t, L, ddk);
    if (gate) storeK<K, VEC>(q.dz + oOff, t, L, fz);
    fD = warp_sum(fD);
    fBias = warp_sum(fBias);
    if (lane == 0) {
      prow[N] = fD;
      prow[N + 1] = fBias;
    }
  }

  // variable dB/dC: the warps' sums in warp order, written once
  if (varB || varC) {
    __syncthreads();
    const float* acc0 = smem + 2 * N * CH;
    for (int i = threadIdx.x; i < N * CH; i += blockDim.x) {
      const int n = i / CH, tl = i - n * CH;
      const int64_t tt = t0 + tl;
      if (tt >= L) continue;
      const int idx = n * CH + (tl % K) * 32 + tl / K;
      if (varB) {
        float v = 0.f;
        for (int w = 0; w < W; ++w) v += acc0[w * 2 * N * CH + idx];
        q.dB[b * p.B_batch_stride + g * p.B_group_stride + n * p.B_state_stride + tt] = v;
      }
      if (varC) {
        float v = 0.f;
        for (int w = 0; w < W; ++w) v += acc0[w * 2 * N * CH + N * CH + idx];
        q.dC[b * p.C_batch_stride + g * p.C_group_stride + n * p.C_state_stride + tt] = v;
      }
    }
  }
}

}  // namespace bwd3
}  // namespace ss2d

// ss2d_scan_bwd_v3_bounds_v<VEC>: a warp per (batch, channel) row, 256 threads a block, no shared memory.
// ss2d_scan_bwd_v3_v<VEC>: a block per (batch, tile, chunk), 32 W threads; dynamic shared memory (2 + 2 W) dstate x 128
// floats when B or C is variable, else none. VEC: the 16-byte path for u, delta, dout, z, du, ddelta, dz.
#define SS2D_BWD_V3_KERNELS(VEC)                                                                   \
  extern "C" __global__ void __launch_bounds__(256, 2)                                             \
      ss2d_scan_bwd_v3_bounds_v##VEC(const ScanParams p, const ScanBwdParams q) {                  \
    ss2d::bwd3::bounds<VEC>(p, q);                                                                 \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(128, 2)                                             \
      ss2d_scan_bwd_v3_v##VEC(const ScanParams p, const ScanBwdParams q) {                         \
    extern __shared__ __align__(16) float ss2d_smem_bwd3[];                                        \
    ss2d::bwd3::scan_bwd_v3<VEC>(p, q, ss2d_smem_bwd3);                                            \
  }

SS2D_BWD_V3_KERNELS(0)
SS2D_BWD_V3_KERNELS(1)

// Partial sums of v3 over (batch, chunk) in that order (double): parts (count, dim, cols) floats = [dA | dD | dbias |
// dB | dC], dB and dC only when constant (given, else null: cols = dstate + 2 + dstate for each given); one thread per
// (channel, column); dD and dbias written when present.
extern "C" __global__ void __launch_bounds__(256)
ss2d_scan_bwd_parts(const float* __restrict__ parts, float* dA, float* dB, float* dC, float* dD, float* dbias,
                    int64_t count, int64_t dim, int64_t dstate) {
  const int64_t cols = dstate + 2 + (dB ? dstate : 0) + (dC ? dstate : 0);
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= dim * cols) return;
  const int64_t d = i / cols, j = i - d * cols;
  double acc = 0.0;
  for (int64_t r = 0; r < count; ++r) acc += parts[r * dim * cols + i];
  const float v = (float)acc;
  if (j < dstate) dA[d * dstate + j] = v;
  else if (j == dstate) { if (dD) dD[d] = v; }
  else if (j == dstate + 1) { if (dbias) dbias[d] = v; }
  else if (dB && j < 2 * dstate + 2) dB[d * dstate + j - dstate - 2] = v;
  else dC[d * dstate + j - (dB ? 2 * dstate + 2 : dstate + 2)] = v;
}
