// Selective scan forward, "states across lanes" with a software pipeline ("pipe" kernels).
//
// Same mapping as selective_scan_states.cuh: a lane runs the recurrence over the whole sequence
// for SPL states of one channel, S lanes per channel, RW = 32/S channels per warp. What differs is
// the schedule, because that kernel was measured latency-bound (NOTES-perf.md: halving its
// shared-memory reads or adding warps did not help; the per-step chain LDS -> ex2 -> FFMA(h) ->
// FFMA(y) -> log2(S) shuffles -> STS with 2 steps unrolled and a runtime shuffle loop was the limit):
//
// * S and SPL are template constants and the T = 16 steps of a tile are fully unrolled, so the
//   only true dependency left is h's one FFMA per step; the ex2, the products and the y sums of
//   different steps are independent and interleave.
// * y is not reduced per step with shuffles: every lane writes its 16 partial sums with four
//   16-byte stores, and the store pass adds the S partials of a channel (one pass per tile).
// * Global loads are cp.async into a second shared-memory buffer while the current tile computes
//   (two stages), so a warp never waits on a global round trip after the first tile; zero fill
//   past L, so padded steps and states need no branches (delta 0 -> a = 1, b = 0).
//
// Layout per warp (floats), two buffers of [u | delta | z: RW rows of TP] [B | C: NP rows of TP plus
// a 4-float skew per lane group], then the partials (32 rows of TP). TP = T + 4 keeps rows 16-byte
// aligned and puts 8 consecutive rows on distinct banks; the skew does the same for the B/C rows
// that lanes of different state groups read at once (without it rows SPL*TP apart share banks).
//
// 16-bit inputs (HALF, the "_h" kernels): u, delta, z and variable B/C are float16 or bfloat16 (the type and the
// out type are runtime bits of the kernel's second argument, since they only touch the load and store passes).
// cp.async copies them as they are into one of two 16-bit staging buffers (rows of T halves; pieces of W = 8, 4
// halves, 16/8 bytes, a kernel each, with the copy's source size cutting the last piece of a row, so any length
// works; W = 1, for strides or pointers that allow neither, uses plain loads); a pass after the wait widens the tile into a single float
// buffer laid out as the float kernels' (delta's bias, softplus and the past-L zeros applied on the way), and
// from there the recurrence and the y pass are the float kernels' code. Out is written in the input type or as
// float32. The float instantiations compile exactly as before (the HALF code is all under if constexpr).
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include "ss2d_params.h"

namespace ss2d {
namespace pipe {

constexpr int T = 16;
constexpr int TP = T + 4;

__host__ __device__ constexpr int bc_floats(int S, int SPL) { return S * SPL * TP + S * 4; }
__host__ __device__ constexpr int buf_floats(int S, int SPL) { return 3 * (32 / S) * TP + 2 * bc_floats(S, SPL); }
// Dynamic shared memory of one warp, in floats (mirrored by ScanLauncher.pipeSmemFloats in Java).
__host__ __device__ constexpr int warp_floats(int S, int SPL) { return 2 * buf_floats(S, SPL) + 32 * TP; }
// 16-bit staging of one tile (HALF kernels), in floats: u, delta, z rows then B, C rows, T halves each.
__host__ __device__ constexpr int stage_floats(int S, int SPL) { return (3 * (32 / S) + 2 * S * SPL) * T / 2; }
// HALF: one float buffer, two staging buffers, the partials (mirrored by ScanLauncher.pipeHalfSmemFloats).
__host__ __device__ constexpr int warp_floats_half(int S, int SPL) {
  return buf_floats(S, SPL) + 2 * stage_floats(S, SPL) + 32 * TP;
}
// The HALF kernels' second argument: bits 0-1 input type, 2-3 out type (0 float32, 1 float16, 2 bfloat16),
// bit 8: out pieces of 4 steps are whole aligned words (L % 4 == 0, out's strides and pointer allow it).
constexpr int HM_IN_SHIFT = 0, HM_OUT_SHIFT = 2, HM_OUTVEC = 1 << 8;
// Row of state n in a B/C tile.
__device__ __forceinline__ int bc_row(int n, int SPL) { return n * TP + (n / SPL) * 4; }

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// cp.async with a source size: 0 copies nothing and zero-fills the destination.
__device__ __forceinline__ void cp16(float* dst, const float* src, bool in) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(in ? 16 : 0));
}
__device__ __forceinline__ void cp4(float* dst, const float* src, bool in) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(in ? 4 : 0));
}
__device__ __forceinline__ void cp_bytes16(void* dst, const void* src, int n) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_bytes8(void* dst, const void* src, int n) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_bytes4(void* dst, const void* src, int n) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_wait_prev() { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float at(const float4& v, int k) { return k == 0 ? v.x : k == 1 ? v.y : k == 2 ? v.z : v.w; }

// One tile's global reads (u, raw delta, z, B and C) issued as cp.async into buf.
template <int S, int SPL, bool VEC>
__device__ __forceinline__ void load_tile(const ScanParams& p, float* buf, int64_t b, int64_t d0, int64_t g,
                                          int64_t t0, int lane) {
  constexpr int RW = 32 / S, NP = S * SPL;
  const int64_t L = p.seqlen;
  const int N = (int)p.dstate;
  float* sU = buf;
  float* sDl = sU + RW * TP;
  float* sZ = sDl + RW * TP;
  float* sB = sZ + RW * TP;
  float* sC = sB + bc_floats(S, SPL);
  const float* u = p.u + b * p.u_batch_stride + d0 * p.u_dim_stride + t0;
  const float* dl = p.delta + b * p.delta_batch_stride + d0 * p.delta_dim_stride + t0;
  const float* z = p.z ? p.z + b * p.z_batch_stride + d0 * p.z_dim_stride + t0 : nullptr;
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const float* Bg = p.B + b * p.B_batch_stride + g * p.B_group_stride + t0;
  const float* Cg = p.C + b * p.C_batch_stride + g * p.C_group_stride + t0;
  if (VEC) {  // seqlen % 4 == 0: a 4-step piece is wholly inside or wholly past L
#pragma unroll
    for (int i = lane; i < RW * (T / 4); i += 32) {
      const int rr = i / (T / 4), c = (i % (T / 4)) * 4;
      const bool in = t0 + c < L;
      cp16(sU + rr * TP + c, in ? u + rr * p.u_dim_stride + c : p.u, in);
      cp16(sDl + rr * TP + c, in ? dl + rr * p.delta_dim_stride + c : p.delta, in);
      if (z) cp16(sZ + rr * TP + c, in ? z + rr * p.z_dim_stride + c : p.z, in);
    }
#pragma unroll
    for (int i = lane; i < NP * (T / 4); i += 32) {
      const int n = i / (T / 4), c = (i % (T / 4)) * 4;
      const bool in = n < N && t0 + c < L;
      if (varB) cp16(sB + bc_row(n, SPL) + c, in ? Bg + n * p.B_state_stride + c : p.B, in);
      if (varC) cp16(sC + bc_row(n, SPL) + c, in ? Cg + n * p.C_state_stride + c : p.C, in);
    }
  } else {
#pragma unroll 4
    for (int i = lane; i < RW * T; i += 32) {
      const int rr = i / T, c = i % T;
      const bool in = t0 + c < L;
      cp4(sU + rr * TP + c, in ? u + rr * p.u_dim_stride + c : p.u, in);
      cp4(sDl + rr * TP + c, in ? dl + rr * p.delta_dim_stride + c : p.delta, in);
      if (z) cp4(sZ + rr * TP + c, in ? z + rr * p.z_dim_stride + c : p.z, in);
    }
#pragma unroll 4
    for (int i = lane; i < NP * T; i += 32) {
      const int n = i / T, c = i % T;
      const bool in = n < N && t0 + c < L;
      if (varB) cp4(sB + bc_row(n, SPL) + c, in ? Bg + n * p.B_state_stride + c : p.B, in);
      if (varC) cp4(sC + bc_row(n, SPL) + c, in ? Cg + n * p.C_state_stride + c : p.C, in);
    }
  }
}


// One piece of W halves of a row (its first `valid` halves, 0 <= valid <= W, read; the rest zero-filled).
template <int W>
__device__ __forceinline__ void stage_piece(unsigned short* dst, const unsigned short* src, const unsigned short* any,
                                            int valid) {
  const int v = valid < 0 ? 0 : valid > W ? W : valid;
  if (W == 8) cp_bytes16(dst, v ? src : any, 2 * v);
  else if (W == 4) cp_bytes8(dst, v ? src : any, 2 * v);
  else if (W == 2) cp_bytes4(dst, v ? src : any, 2 * v);
  else *dst = v ? *src : (unsigned short)0;  // odd strides or pointers: a plain load
}

// HALF: one tile's 16-bit reads into a staging buffer (rows of T halves), pieces of W halves.
template <int S, int SPL, int W>
__device__ __forceinline__ void load_tile_half(const ScanParams& p, unsigned short* st, int64_t b, int64_t d0, int64_t g,
                                               int64_t t0, int lane) {
  constexpr int RW = 32 / S, NP = S * SPL, PR = T / W;  // pieces per row
  const int64_t L = p.seqlen;
  const int N = (int)p.dstate;
  unsigned short* sU = st;
  unsigned short* sDl = sU + RW * T;
  unsigned short* sZ = sDl + RW * T;
  unsigned short* sB = sZ + RW * T;
  unsigned short* sC = sB + NP * T;
  const unsigned short* u0 = reinterpret_cast<const unsigned short*>(p.u);
  const unsigned short* dl0 = reinterpret_cast<const unsigned short*>(p.delta);
  const unsigned short* z0 = reinterpret_cast<const unsigned short*>(p.z);
  const unsigned short* B0 = reinterpret_cast<const unsigned short*>(p.B);
  const unsigned short* C0 = reinterpret_cast<const unsigned short*>(p.C);
  const unsigned short* u = u0 + b * p.u_batch_stride + d0 * p.u_dim_stride + t0;
  const unsigned short* dl = dl0 + b * p.delta_batch_stride + d0 * p.delta_dim_stride + t0;
  const unsigned short* z = z0 ? z0 + b * p.z_batch_stride + d0 * p.z_dim_stride + t0 : nullptr;
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const unsigned short* Bg = B0 + b * p.B_batch_stride + g * p.B_group_stride + t0;
  const unsigned short* Cg = C0 + b * p.C_batch_stride + g * p.C_group_stride + t0;
#pragma unroll(W == 1 ? 2 : 16)  // W = 1: all unrolled held every address at once and spilled
  for (int i = lane; i < RW * PR; i += 32) {
    const int rr = i / PR, c = (i % PR) * W;
    const int valid = (int)(L - t0 - c < W ? L - t0 - c : W);
    stage_piece<W>(sU + rr * T + c, u + rr * p.u_dim_stride + c, u0, valid);
    stage_piece<W>(sDl + rr * T + c, dl + rr * p.delta_dim_stride + c, dl0, valid);
    if (z) stage_piece<W>(sZ + rr * T + c, z + rr * p.z_dim_stride + c, z0, valid);
  }
#pragma unroll(W == 1 ? 2 : 16)
  for (int i = lane; i < NP * PR; i += 32) {
    const int n = i / PR, c = (i % PR) * W;
    const int valid = n < N ? (int)(L - t0 - c < W ? L - t0 - c : W) : 0;
    if (varB) stage_piece<W>(sB + n * T + c, Bg + n * p.B_state_stride + c, B0, valid);
    if (varC) stage_piece<W>(sC + n * T + c, Cg + n * p.C_state_stride + c, C0, valid);
  }
}


// 8 halves of a 16-byte word to float, bfloat16 (kind 2) by shifts, float16 by conversion.
__device__ __forceinline__ void widen8h(const uint4& q, int kind, float (&v)[8]) {
  const unsigned w[4] = {q.x, q.y, q.z, q.w};
  if (kind == 2) {
#pragma unroll
    for (int i = 0; i < 4; ++i) { v[2 * i] = __uint_as_float(w[i] << 16); v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u); }
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      v[2 * i] = __half2float(__ushort_as_half((unsigned short)(w[i] & 0xffffu)));
      v[2 * i + 1] = __half2float(__ushort_as_half((unsigned short)(w[i] >> 16)));
    }
  }
}

__device__ __forceinline__ unsigned short narrow1h(float x, int kind) {
  return kind == 2 ? __bfloat16_as_ushort(__float2bfloat16_rn(x)) : __half_as_ushort(__float2half_rn(x));
}

__device__ __forceinline__ void put8(float* dst, const float (&v)[8]) {
  reinterpret_cast<float4*>(dst)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(dst)[1] = make_float4(v[4], v[5], v[6], v[7]);
}

// HALF: the staged tile widened into the float buffer, delta transformed (bias, softplus, 0 past L) on the way.
template <int S, int SPL>
__device__ __forceinline__ void widen_tile(const ScanParams& p, const unsigned short* st, float* buf, int64_t d0,
                                           int64_t t0, int lane, int kind, bool softplus) {
  constexpr int RW = 32 / S, NP = S * SPL;
  const int64_t L = p.seqlen;
  const unsigned short* sU = st;
  const unsigned short* sDl = sU + RW * T;
  const unsigned short* sZ = sDl + RW * T;
  const unsigned short* sB = sZ + RW * T;
  const unsigned short* sC = sB + NP * T;
  float* fU = buf;
  float* fDl = fU + RW * TP;
  float* fZ = fDl + RW * TP;
  float* fB = fZ + RW * TP;
  float* fC = fB + bc_floats(S, SPL);
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0, varC = (p.flags & SS2D_VARIABLE_C) != 0;
#pragma unroll
  for (int i = lane; i < RW * (T / 8); i += 32) {
    const int rr = i / (T / 8), c = (i % (T / 8)) * 8;
    float v[8];
    widen8h(*reinterpret_cast<const uint4*>(sU + rr * T + c), kind, v);
    put8(fU + rr * TP + c, v);
    widen8h(*reinterpret_cast<const uint4*>(sDl + rr * T + c), kind, v);
    const float bias = p.delta_bias ? __ldg(p.delta_bias + d0 + rr) : 0.f;
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      float x = v[e] + bias;
      if (softplus) x = x <= 20.f ? log1pf(expf(x)) : x;
      v[e] = t0 + c + e < L ? x : 0.f;
    }
    put8(fDl + rr * TP + c, v);
    if (p.z) {
      widen8h(*reinterpret_cast<const uint4*>(sZ + rr * T + c), kind, v);
      put8(fZ + rr * TP + c, v);
    }
  }
#pragma unroll
  for (int i = lane; i < NP * (T / 8); i += 32) {
    const int n = i / (T / 8), c = (i % (T / 8)) * 8;
    float v[8];
    if (varB) { widen8h(*reinterpret_cast<const uint4*>(sB + n * T + c), kind, v); put8(fB + bc_row(n, SPL) + c, v); }
    if (varC) { widen8h(*reinterpret_cast<const uint4*>(sC + n * T + c), kind, v); put8(fC + bc_row(n, SPL) + c, v); }
  }
}

// HALF: W (8, 4 or 1 halves per load piece) is a template constant, as one kernel holding all three spilled.
template <int S, int SPL, bool VEC, bool VB, bool VC, bool HALF = false, int W = 8>
__device__ __forceinline__ void scan_pipe(const ScanParams& p, float* smem, int64_t hmode = 0) {
  constexpr int RW = 32 / S;
  constexpr int DL_PER_LANE = (RW * T + 31) / 32;    // delta elements a lane transforms per tile
  constexpr int OUT_PER_LANE = (RW * (T / 4) + 31) / 32;  // 4-step output pieces a lane stores
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t rowsPerBatch = p.dim / RW;
  const int64_t gw = (int64_t)blockIdx.x * (blockDim.x >> 5) + warp;
  if (gw >= p.batch * rowsPerBatch) return;
  const int64_t b = gw / rowsPerBatch;
  const int64_t d0 = (gw - b * rowsPerBatch) * RW;
  const int64_t g = d0 / (p.dim / p.groups);
  const int64_t L = p.seqlen;
  const int N = (int)p.dstate;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;

  float* bufs = smem + (size_t)warp * (HALF ? warp_floats_half(S, SPL) : warp_floats(S, SPL));
  float* sYp = bufs + (HALF ? buf_floats(S, SPL) + 2 * stage_floats(S, SPL) : 2 * buf_floats(S, SPL));
  // HALF: the two staging buffers after the float buffer; the mode bits
  unsigned short* stage = reinterpret_cast<unsigned short*>(bufs + buf_floats(S, SPL));
  const int inKind = (int)(hmode >> HM_IN_SHIFT) & 3, outKind = (int)(hmode >> HM_OUT_SHIFT) & 3;
  const bool outVec = (hmode & HM_OUTVEC) != 0;

  // This lane's channel row r, its states n0 .. n0+SPL-1 (padding states: A 0, B 0, C 0 stay 0).
  const int r = lane / S, s = lane % S, n0 = s * SPL;
  const int64_t d = d0 + r;
  float A2[SPL], h[SPL], Bc[SPL], Cc[SPL];
#pragma unroll
  for (int j = 0; j < SPL; ++j) {
    const int n = n0 + j;
    const bool live = n < N;
    A2[j] = live ? __ldg(p.A + d * p.A_dim_stride + n * p.A_state_stride) * 1.4426950408889634f : 0.f;
    Bc[j] = (!VB && live) ? __ldg(p.B + d * p.B_group_stride + n * p.B_state_stride) : 0.f;
    Cc[j] = (!VC && live) ? __ldg(p.C + d * p.C_group_stride + n * p.C_state_stride) : 0.f;
    h[j] = 0.f;
  }
  // Per-channel constants of the delta elements and output pieces this lane handles.
  float bias[DL_PER_LANE], Dv[OUT_PER_LANE];
#pragma unroll
  for (int k = 0; k < DL_PER_LANE; ++k) {
    const int i = lane + 32 * k;
    bias[k] = (p.delta_bias && i < RW * T) ? __ldg(p.delta_bias + d0 + i / T) : 0.f;
  }
#pragma unroll
  for (int k = 0; k < OUT_PER_LANE; ++k) {
    const int i = lane + 32 * k;
    Dv[k] = (p.D && i < RW * (T / 4)) ? __ldg(p.D + d0 + i / (T / 4)) : 0.f;
  }

  if constexpr (HALF) load_tile_half<S, SPL, W>(p, stage, b, d0, g, 0, lane);
  else load_tile<S, SPL, VEC>(p, bufs, b, d0, g, 0, lane);
  cp_commit();
  int cur = 0;
  for (int64_t t0 = 0; t0 < L; t0 += T, cur ^= 1) {
    float* buf = HALF ? bufs : bufs + cur * buf_floats(S, SPL);
    if constexpr (HALF) {
      if (t0 + T < L) load_tile_half<S, SPL, W>(p, stage + (cur ^ 1) * 2 * stage_floats(S, SPL), b, d0, g, t0 + T, lane);
    } else {
      if (t0 + T < L) load_tile<S, SPL, VEC>(p, bufs + (cur ^ 1) * buf_floats(S, SPL), b, d0, g, t0 + T, lane);
    }
    cp_commit();     // possibly empty: keeps "all but the newest group" = this tile
    cp_wait_prev();
    __syncwarp();
    if constexpr (HALF) {
      widen_tile<S, SPL>(p, stage + cur * 2 * stage_floats(S, SPL), buf, d0, t0, lane, inKind, softplus);
      __syncwarp();
    }
    float* sU = buf;
    float* sDl = sU + RW * TP;
    float* sZ = sDl + RW * TP;
    float* sB = sZ + RW * TP;
    float* sC = sB + bc_floats(S, SPL);

    // ---- delta -> softplus(delta + bias), 0 past L (a = 1, b = 0: h carries through unchanged)
#pragma unroll
    for (int k = 0; k < (HALF ? 0 : DL_PER_LANE); ++k) {
      const int i = lane + 32 * k;
      if (i < RW * T) {
        const int rr = i / T, c = i % T;
        float x = sDl[rr * TP + c] + bias[k];
        if (softplus) x = x <= 20.f ? log1pf(expf(x)) : x;
        sDl[rr * TP + c] = t0 + c < L ? x : 0.f;
      }
    }
    __syncwarp();

    // ---- recurrence over the tile: partial y of this lane's states per step
    const float* myU = sU + r * TP;
    const float* myDl = sDl + r * TP;
    const float* myB = sB + bc_row(n0, SPL);
    const float* myC = sC + bc_row(n0, SPL);
#pragma unroll
    for (int q = 0; q < T / 4; ++q) {
      const float4 dl4 = *reinterpret_cast<const float4*>(myDl + 4 * q);
      const float4 u4 = *reinterpret_cast<const float4*>(myU + 4 * q);
      float4 b4[SPL], c4[SPL];
#pragma unroll
      for (int j = 0; j < SPL; ++j) {
        if (VB) b4[j] = *reinterpret_cast<const float4*>(myB + j * TP + 4 * q);
        if (VC) c4[j] = *reinterpret_cast<const float4*>(myC + j * TP + 4 * q);
      }
      float y[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float dlk = at(dl4, k), du = dlk * at(u4, k);
        float acc = 0.f;
#pragma unroll
        for (int j = 0; j < SPL; ++j) {
          const float a = ex2(dlk * A2[j]);
          h[j] = fmaf(a, h[j], du * (VB ? at(b4[j], k) : Bc[j]));
          acc = fmaf(VC ? at(c4[j], k) : Cc[j], h[j], acc);
        }
        y[k] = acc;
      }
      *reinterpret_cast<float4*>(sYp + lane * TP + 4 * q) = make_float4(y[0], y[1], y[2], y[3]);
    }
    __syncwarp();

    // ---- y = sum of the S partials + D u, gated by silu(z); 4 steps per piece
#pragma unroll
    for (int k = 0; k < OUT_PER_LANE; ++k) {
      const int i = lane + 32 * k;
      if (i < RW * (T / 4)) {
        const int rr = i / (T / 4), c = (i % (T / 4)) * 4;
        float4 acc = *reinterpret_cast<const float4*>(sYp + (rr * S) * TP + c);
#pragma unroll
        for (int ss = 1; ss < S; ++ss) {
          const float4 v = *reinterpret_cast<const float4*>(sYp + (rr * S + ss) * TP + c);
          acc.x += v.x; acc.y += v.y; acc.z += v.z; acc.w += v.w;
        }
        const float4 uu = *reinterpret_cast<const float4*>(sU + rr * TP + c);
        float o[4] = {fmaf(Dv[k], uu.x, acc.x), fmaf(Dv[k], uu.y, acc.y), fmaf(Dv[k], uu.z, acc.z), fmaf(Dv[k], uu.w, acc.w)};
        if (p.z) {
          const float4 zz = *reinterpret_cast<const float4*>(sZ + rr * TP + c);
          const float zv[4] = {zz.x, zz.y, zz.z, zz.w};
#pragma unroll
          for (int e = 0; e < 4; ++e) o[e] *= zv[e] / (1.f + expf(-zv[e]));
        }
        if constexpr (HALF) {
          const int64_t oi = b * p.out_batch_stride + (d0 + rr) * p.out_dim_stride + t0 + c;
          if (outKind == 0) {
            float* orow = p.out + oi;
            if (outVec) {
              if (t0 + c < L) *reinterpret_cast<float4*>(orow) = make_float4(o[0], o[1], o[2], o[3]);
            } else {
#pragma unroll
              for (int e = 0; e < 4; ++e) if (t0 + c + e < L) orow[e] = o[e];
            }
          } else {
            unsigned short* orow = reinterpret_cast<unsigned short*>(p.out) + oi;
            unsigned short h4[4];
#pragma unroll
            for (int e = 0; e < 4; ++e) h4[e] = narrow1h(o[e], outKind);
            if (outVec) {
              if (t0 + c < L)
                *reinterpret_cast<uint2*>(orow) = make_uint2(h4[0] | ((unsigned)h4[1] << 16), h4[2] | ((unsigned)h4[3] << 16));
            } else {
#pragma unroll
              for (int e = 0; e < 4; ++e) if (t0 + c + e < L) orow[e] = h4[e];
            }
          }
          continue;
        }
        float* orow = p.out + b * p.out_batch_stride + (d0 + rr) * p.out_dim_stride + t0 + c;
        if (VEC) {
          if (t0 + c < L) *reinterpret_cast<float4*>(orow) = make_float4(o[0], o[1], o[2], o[3]);
        } else {
#pragma unroll
          for (int e = 0; e < 4; ++e) if (t0 + c + e < L) orow[e] = o[e];
        }
      }
    }
    __syncwarp();  // this buffer is the target of the load two tiles on
  }

  if (p.last_state) {
    float* ls = p.last_state + (b * p.dim + d) * (int64_t)N;
#pragma unroll
    for (int j = 0; j < SPL; ++j) if (n0 + j < N) ls[n0 + j] = h[j];
  }
}

template <int S, int SPL, int W>
__device__ __forceinline__ void scan_pipe_dispatch_half(const ScanParams& p, float* smem, int64_t hmode) {
  const bool vb = (p.flags & SS2D_VARIABLE_B) != 0, vc = (p.flags & SS2D_VARIABLE_C) != 0;
  if (vb && vc) scan_pipe<S, SPL, false, true, true, true, W>(p, smem, hmode);
  else if (vb) scan_pipe<S, SPL, false, true, false, true, W>(p, smem, hmode);
  else if (vc) scan_pipe<S, SPL, false, false, true, true, W>(p, smem, hmode);
  else scan_pipe<S, SPL, false, false, false, true, W>(p, smem, hmode);
}

template <int S, int SPL, bool VEC>
__device__ __forceinline__ void scan_pipe_dispatch(const ScanParams& p, float* smem) {
  const bool vb = (p.flags & SS2D_VARIABLE_B) != 0, vc = (p.flags & SS2D_VARIABLE_C) != 0;
  if (vb && vc) scan_pipe<S, SPL, VEC, true, true>(p, smem);
  else if (vb) scan_pipe<S, SPL, VEC, true, false>(p, smem);
  else if (vc) scan_pipe<S, SPL, VEC, false, true>(p, smem);
  else scan_pipe<S, SPL, VEC, false, false>(p, smem);
}

}  // namespace pipe
}  // namespace ss2d

// ss2d_scan_fwd_pipe_l<S>_s<SPL>_v<VEC>: S lanes per channel, SPL states per lane, VEC 16-byte path.
#define SS2D_PIPE_KERNEL(S, SPL, VEC)                                                          \
  extern "C" __global__ void __launch_bounds__(64, 8)                                          \
      ss2d_scan_fwd_pipe_l##S##_s##SPL##_v##VEC(const ScanParams p) {                          \
    extern __shared__ __align__(16) float ss2d_smem_pipe[];                                    \
    ss2d::pipe::scan_pipe_dispatch<S, SPL, VEC>(p, ss2d_smem_pipe);                            \
  }
// ss2d_scan_fwd_pipe_l<S>_s<SPL>_h<W>: 16-bit inputs loaded W halves per piece (8: 16 bytes, 4: 8 bytes,
// 1: any stride or pointer), the second argument the mode bits (HM_* above).
#define SS2D_PIPE_KERNEL_HALF(S, SPL, W)                                                       \
  extern "C" __global__ void __launch_bounds__(64, 8)                                          \
      ss2d_scan_fwd_pipe_l##S##_s##SPL##_h##W(const ScanParams p, int64_t hmode) {             \
    extern __shared__ __align__(16) float ss2d_smem_pipe[];                                    \
    ss2d::pipe::scan_pipe_dispatch_half<S, SPL, W>(p, ss2d_smem_pipe, hmode);                  \
  }
#define SS2D_PIPE_KERNELS(S, SPL) SS2D_PIPE_KERNEL(S, SPL, 0) SS2D_PIPE_KERNEL(S, SPL, 1) \
  SS2D_PIPE_KERNEL_HALF(S, SPL, 8) SS2D_PIPE_KERNEL_HALF(S, SPL, 4) SS2D_PIPE_KERNEL_HALF(S, SPL, 1)

SS2D_PIPE_KERNELS(1, 4)
SS2D_PIPE_KERNELS(2, 4)
SS2D_PIPE_KERNELS(4, 4)
SS2D_PIPE_KERNELS(8, 4)
SS2D_PIPE_KERNELS(2, 8)
SS2D_PIPE_KERNELS(4, 8)
SS2D_PIPE_KERNELS(8, 8)
