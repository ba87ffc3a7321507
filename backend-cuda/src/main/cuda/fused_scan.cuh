// The middle of the v05_noz SS2D block at d_state 1, fused: CrossScan + dt projection + selective scan + CrossMerge.
//
// Why it can be fused: route k's x_dbl at scan step t is W_k . x[:, pos_k(t)], a per-pixel projection, so one GEMM
// on the spatial-order map (the four routes' x_proj weights stacked) gives every route's dt-low-rank, B and C at every
// pixel; nothing needs the four permuted copies of x. What the unfused path materialises and this kernel does not:
// xs (4 copies of x), dts (4 maps, the dt projection), ys (4 maps, the scan's output); it reads x once, writes y once.
//
// Mapping: one warp per (image, channel) plane; the warps of a block are independent (no block barrier) and take
// consecutive channels of one image, so they read the same x_dbl lines at about the same time (L1 hits). A warp
// stages its plane of x in shared memory (row pitch W + 1, so that column walks do not hit one bank), then runs the
// four routes one after the other, each as a chunked warp scan (shuffle scans of (a, h) pairs, the state carried
// across chunks; see walk), and accumulates the routes' y in a second shared plane in spatial order (the CrossMerge). Order: route 1 (columns) stores, route 3 adds, route 0 adds,
// route 2 adds and writes y to global memory. Per step, delta = softplus(bias + sum_r W_dt[k,d,r] dtlow[k,r,pos])
// (the dt projection, R FMAs with the channel's weights in shared memory), a = exp(delta A), h = a h + delta B u,
// y = C h + D u.
//
// x_dbl of routes 0 and 2 is read in spatial order from the GEMM's output; routes 1 and 3 walk columns, so their
// rows are first transposed (ss2d_fused_transpose, a small map: R + 2 rows per route) and every x_dbl read of a
// chunk is contiguous. Only the shared planes are read at permuted positions.
#pragma once
#include "ss2d_params.h"

#define SS2D_FUSED_TILE 32

namespace ss2d {
namespace fused {

// One route's walk. COL: column-major order (routes 1, 3), else row-major (0, 2); REV: reversed (routes 2, 3).
// dbl: the route's R + 2 rows of L floats in walk order (q = walk index before reversal). MODE 0: sy = y,
// 1: sy += y, 2: out[pixel] = sy + y.
//
// A chunk is K sub-chunks of 32 consecutive steps, lane i taking step i of each (not K consecutive steps of its
// own): consecutive lanes then read consecutive x_dbl floats (one 128-byte line per load) and consecutive shared
// words, row-wise or down a column (pitch W + 1 is odd), so no bank conflicts; all K x (R + 3) loads of a chunk are
// in flight together, and the K warp scans are independent (ILP), joined by a short chain of carries.
template <int K, bool COL, bool REV, int MODE>
__device__ __forceinline__ void walk(const float* __restrict__ dbl, const float* w, int R, float bias, float A2,
                                     float Dv, const float* su, float* sy, float* __restrict__ out, int H, int W,
                                     int P, int lane) {
  const int L = H * W;
  const int M = COL ? H : W;                 // the walk's inner extent
  const int d32 = 32 / M, m32 = 32 % M;      // a step of 32 in (outer, inner)
  const float* Brow = dbl + (int64_t)R * L;
  const float* Crow = Brow + L;
  float carry = 0.f;
  for (int c0 = 0; c0 < L; c0 += 32 * K) {
    bool valid[K];
    int q[K], addr[K];
    {
      const int t0 = c0 + lane;
      const int q0 = REV ? L - 1 - t0 : t0;  // only used while valid: steps past L come after every valid one
      int inner = q0 % M, outer = q0 / M;
#pragma unroll
      for (int j = 0; j < K; ++j) {
        valid[j] = t0 + 32 * j < L;
        q[j] = REV ? q0 - 32 * j : q0 + 32 * j;
        addr[j] = COL ? inner * P + outer : outer * P + inner;
        if (REV) { inner -= m32; outer -= d32; if (inner < 0) { inner += M; --outer; } }
        else { inner += m32; outer += d32; if (inner >= M) { inner -= M; ++outer; } }
      }
    }
    // B, C and u first, then the dt rows four at a time: loads issued together, not one latency per row
    float dt[K], bv[K], cc[K], uu[K];
#pragma unroll
    for (int j = 0; j < K; ++j) {
      dt[j] = bias;
      bv[j] = valid[j] ? __ldg(Brow + q[j]) : 0.f;
      cc[j] = valid[j] ? __ldg(Crow + q[j]) : 0.f;
      uu[j] = valid[j] ? su[addr[j]] : 0.f;
    }
#pragma unroll 4
    for (int r = 0; r < R; ++r) {
      const float wr = w[r];
      const float* row = dbl + (int64_t)r * L;
#pragma unroll
      for (int j = 0; j < K; ++j) if (valid[j]) dt[j] = fmaf(wr, __ldg(row + q[j]), dt[j]);
    }
    float Ap[K], Hp[K];
#pragma unroll
    for (int j = 0; j < K; ++j) {
      if (valid[j]) {
        const float delta = softplus20_fast(dt[j]);
        Ap[j] = fast_exp2(delta * A2);
        Hp[j] = delta * uu[j] * bv[j];
      } else {
        Ap[j] = 1.f;                         // the identity step (1, 0): the carried state ends at h_{L-1}
        Hp[j] = 0.f;
      }
    }
    // K independent inclusive warp scans of (a, b) pairs: lane i holds the composition of steps 0..i of its sub-chunk
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
#pragma unroll
      for (int j = 0; j < K; ++j) {
        const float Ao = __shfl_up_sync(0xffffffffu, Ap[j], off);
        const float Ho = __shfl_up_sync(0xffffffffu, Hp[j], off);
        if (lane >= off) { Hp[j] = fmaf(Ap[j], Ho, Hp[j]); Ap[j] *= Ao; }
      }
    }
    float TA[K], TH[K];
#pragma unroll
    for (int j = 0; j < K; ++j) {
      TA[j] = __shfl_sync(0xffffffffu, Ap[j], 31);
      TH[j] = __shfl_sync(0xffffffffu, Hp[j], 31);
    }
#pragma unroll
    for (int j = 0; j < K; ++j) {
      const float h = fmaf(Ap[j], carry, Hp[j]);
      const float y = fmaf(cc[j], h, Dv * uu[j]);
      carry = fmaf(TA[j], carry, TH[j]);     // the state after the sub-chunk's last step
      if (valid[j]) {
        if (MODE == 0) sy[addr[j]] = y;
        else if (MODE == 1) sy[addr[j]] += y;
        else out[q[j]] = sy[addr[j]] + y;    // MODE 2 walks rows: q is the pixel
      }
    }
  }
}

// Floats of shared memory per warp: the x plane and the y plane (H rows of pitch W + 1) and 4 routes x R weights.
__host__ __device__ inline int64_t warp_floats(int64_t H, int64_t W, int64_t R) { return 2 * H * (W + 1) + 4 * R; }

template <int K>
__device__ __forceinline__ void fused_scan(const float* __restrict__ u, const float* __restrict__ xdbl,
                                           const float* __restrict__ xdblT, const float* __restrict__ wdt,
                                           const float* __restrict__ dtBias, const float* __restrict__ A,
                                           const float* __restrict__ Ds, float* __restrict__ out, int64_t Bn,
                                           int64_t D, int64_t H, int64_t W, int64_t R, float* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int64_t plane = (int64_t)blockIdx.x * nw + warp;
  if (plane >= Bn * D) return;               // warps are independent: no block barrier follows
  const int Hi = (int)H, Wi = (int)W, Ri = (int)R, P = Wi + 1, L = Hi * Wi;
  const int64_t b = plane / D, d = plane - b * D;
  float* su = smem + (int64_t)warp * warp_floats(H, W, R);
  float* sy = su + Hi * P;
  float* sw = sy + Hi * P;
  const float* up = u + plane * L;
  for (int i = lane; i < L; i += 32) {
    const int hh = i / Wi;
    su[hh * P + (i - hh * Wi)] = __ldg(up + i);
  }
  for (int i = lane; i < 4 * Ri; i += 32) {
    const int k = i / Ri;
    sw[i] = __ldg(wdt + ((int64_t)k * D + d) * R + (i - k * Ri));
  }
  __syncwarp();
  const int64_t rowsL = (R + 2) * (int64_t)L;  // one route's x_dbl
  const float* dbl = xdbl + b * 4 * rowsL;
  const float* dblT = xdblT + b * 2 * rowsL;
  float bias[4], A2[4], Dv[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t ch = k * D + d;
    bias[k] = dtBias ? __ldg(dtBias + ch) : 0.f;
    A2[k] = __ldg(A + ch) * SS2D_LOG2E;
    Dv[k] = Ds ? __ldg(Ds + ch) : 0.f;
  }
  walk<K, true, false, 0>(dblT, sw + Ri, Ri, bias[1], A2[1], Dv[1], su, sy, nullptr, Hi, Wi, P, lane);
  __syncwarp();
  walk<K, true, true, 1>(dblT + rowsL, sw + 3 * Ri, Ri, bias[3], A2[3], Dv[3], su, sy, nullptr, Hi, Wi, P, lane);
  __syncwarp();
  walk<K, false, false, 1>(dbl, sw, Ri, bias[0], A2[0], Dv[0], su, sy, nullptr, Hi, Wi, P, lane);
  __syncwarp();
  walk<K, false, true, 2>(dbl + 2 * rowsL, sw + 2 * Ri, Ri, bias[2], A2[2], Dv[2], su, sy, out + plane * L, Hi, Wi,
                          P, lane);
}

}  // namespace fused
}  // namespace ss2d

// u (B, D, H, W): the conv + SiLU map; xdbl (B, 4, R + 2, H*W): x_proj of every route in spatial order (dt-low-rank
// rows, then B, then C); xdblT (B, 2, R + 2, H*W): the rows of routes 1 and 3 transposed (W, H); wdt (4, D, R);
// dtBias, A (= -exp(A_logs)), Ds (4 D); out (B, D, H, W) = the merged y. grid = ceil(B*D / warps), block = 32 * warps threads,
// dynamic shared memory warps * warp_floats * 4 bytes.
#define SS2D_FUSED_KERNEL(K)                                                                                         \
  extern "C" __global__ void __launch_bounds__(256) ss2d_fused_scan_n1_k##K(                                        \
      const float* u, const float* xdbl, const float* xdblT, const float* wdt, const float* dtBias, const float* A,  \
      const float* Ds, float* out, int64_t Bn, int64_t D, int64_t H, int64_t W, int64_t R) {                         \
    extern __shared__ float ss2d_fused_smem[];                                                                      \
    ss2d::fused::fused_scan<K>(u, xdbl, xdblT, wdt, dtBias, A, Ds, out, Bn, D, H, W, R, ss2d_fused_smem);          \
  }
SS2D_FUSED_KERNEL(1)
SS2D_FUSED_KERNEL(2)
SS2D_FUSED_KERNEL(4)
SS2D_FUSED_KERNEL(8)

// The x_dbl rows of routes 1 and 3 transposed: xdbl (B, 4, rows, H, W) -> xdblT (B, 2, rows, W, H), route 1 first.
// 32x32 tiles staged in shared memory (padded by one word), both sides coalesced. grid.x = B * 2 * rows * tiles,
// block (32, 8).
extern "C" __global__ void __launch_bounds__(256)
ss2d_fused_transpose(const float* __restrict__ xdbl, float* __restrict__ xdblT, int64_t Bn, int64_t rows, int64_t H,
                     int64_t W) {
  __shared__ float tile[SS2D_FUSED_TILE][SS2D_FUSED_TILE + 1];
  const int64_t tilesW = (W + SS2D_FUSED_TILE - 1) / SS2D_FUSED_TILE;
  const int64_t tiles = tilesW * ((H + SS2D_FUSED_TILE - 1) / SS2D_FUSED_TILE);
  const int64_t p = blockIdx.x / tiles, tile_id = blockIdx.x - p * tiles;
  if (p >= Bn * 2 * rows) return;
  const int64_t b = p / (2 * rows), j = p - b * 2 * rows;
  const int64_t k = j < rows ? 1 : 3, r = j < rows ? j : j - rows;
  const int64_t L = H * W;
  const float* src = xdbl + ((b * 4 + k) * rows + r) * L;
  float* dst = xdblT + p * L;
  const int64_t h0 = (tile_id / tilesW) * SS2D_FUSED_TILE, w0 = (tile_id % tilesW) * SS2D_FUSED_TILE;
  const int tx = threadIdx.x;
  for (int i = threadIdx.y; i < SS2D_FUSED_TILE; i += blockDim.y) {
    const int64_t h = h0 + i, w = w0 + tx;
    if (h < H && w < W) tile[i][tx] = src[h * W + w];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < SS2D_FUSED_TILE; i += blockDim.y) {
    const int64_t w = w0 + i, h = h0 + tx;
    if (h < H && w < W) dst[w * H + h] = tile[tx][i];
  }
}
