// Selective scan forward (Mamba's selective_scan_fn semantics, fp32).
//
// Mapping: one warp owns R channels (rows) of one batch element that share a B/C group, and walks
// the sequence in steps of 32 lanes x 4 consecutive time steps. Each lane scans its 4 items
// sequentially, the warp combines the lanes with a shuffle scan of (a, h) pairs, and the state at
// the end of the step is carried to the next step (chunked scan with a carried prefix). States never
// leave registers / shared memory; u, delta, z, out are each touched once in HBM.
//
// Why R rows per warp: B and C rows are shared by all dim/groups channels of a group. Reading them
// once per warp for R channels cuts the L2 traffic for B/C by R, which is what limits dstate=16.
// Why 4 or 8 items per lane: one or two 16-byte loads per tensor per step (VEC path); 8 halves
// the shuffles per element of the warp scan, which is what bounds dstate > 1 once B/C come from L2.
#include "ss2d_params.h"

#define SS2D_LOG2E 1.4426950408889634f

namespace ss2d {

__device__ __forceinline__ float softplus20(float x) {
  // torch.nn.functional.softplus(beta=1, threshold=20)
  return x <= 20.f ? log1pf(expf(x)) : x;
}

// 2^x with the hardware approximation (rel. error ~2^-22, flushes denormals to 0): the same
// instruction mamba's kernels get from --use_fast_math, without making the whole file fast-math.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// K consecutive items of a row starting at t; 0 past L. VEC: L % 4 == 0 and the row is 16-byte
// aligned, so each group of 4 is either wholly inside or wholly past L.
template <int K, bool VEC>
__device__ __forceinline__ void loadK(const float* row, int64_t t, int64_t L, float (&v)[K]) {
#pragma unroll
  for (int j = 0; j < K; j += 4) {
    if (VEC) {
      if (t + j < L) {
        const float4 q = __ldg(reinterpret_cast<const float4*>(row + t + j));
        v[j] = q.x; v[j + 1] = q.y; v[j + 2] = q.z; v[j + 3] = q.w;
      } else {
        v[j] = v[j + 1] = v[j + 2] = v[j + 3] = 0.f;
      }
    } else {
#pragma unroll
      for (int k = j; k < j + 4; ++k) v[k] = (t + k < L) ? __ldg(row + t + k) : 0.f;
    }
  }
}

template <int K, bool VEC>
__device__ __forceinline__ void storeK(float* row, int64_t t, int64_t L, const float (&v)[K]) {
#pragma unroll
  for (int j = 0; j < K; j += 4) {
    if (VEC) {
      if (t + j < L) *reinterpret_cast<float4*>(row + t + j) = make_float4(v[j], v[j + 1], v[j + 2], v[j + 3]);
    } else {
#pragma unroll
      for (int k = j; k < j + 4; ++k) if (t + k < L) row[t + k] = v[k];
    }
  }
}

// NS > 0: dstate known at compile time, carried state in registers.
// NS == 0: dstate from p.dstate (<= SS2D_MAX_DSTATE), carried state in dynamic shared memory,
//          SS2D_SCAN_WARPS * R * dstate floats per block.
// One chunk of the chunked scan: lane-local aggregate of its K steps (h_out = Ap h_in + Hp), an
// inclusive warp scan of the aggregates, applied to the state carried into the chunk. Returns the
// state entering this lane's first step; hLane is the state after its last (lane 31's ends the chunk).
template <int K>
__device__ __forceinline__ float chunk_entry_state(const float (&a)[K], const float (&bb)[K], float carry,
                                                   int lane, float& hLane) {
  float Ap = a[0], Hp = bb[0];
#pragma unroll
  for (int k = 1; k < K; ++k) { Hp = fmaf(a[k], Hp, bb[k]); Ap *= a[k]; }
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const float Ao = __shfl_up_sync(0xffffffffu, Ap, off);
    const float Ho = __shfl_up_sync(0xffffffffu, Hp, off);
    if (lane >= off) { Hp = fmaf(Ap, Ho, Hp); Ap *= Ao; }
  }
  hLane = fmaf(Ap, carry, Hp);
  const float h = __shfl_up_sync(0xffffffffu, hLane, 1);
  return lane == 0 ? carry : h;
}

template <int NS, int R, int K, bool VEC>
__device__ __forceinline__ void scan_fwd(const ScanParams& p, float* smem) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t rowsPerBatch = p.dim / R;
  const int64_t gw = (int64_t)blockIdx.x * SS2D_SCAN_WARPS + warp;
  if (gw >= p.batch * rowsPerBatch) return;  // uniform per warp
  const int64_t b = gw / rowsPerBatch;
  const int64_t d0 = (gw - b * rowsPerBatch) * R;
  const int64_t L = p.seqlen;
  const int N = NS > 0 ? NS : (int)p.dstate;
  const int64_t g = d0 / (p.dim / p.groups);  // R divides dim/groups: all R rows share g
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0;
  const bool varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;

  const float* uRow[R];
  const float* dRow[R];
  float* oRow[R];
  float Dv[R], bias[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t d = d0 + r;
    uRow[r] = p.u + b * p.u_batch_stride + d * p.u_dim_stride;
    dRow[r] = p.delta + b * p.delta_batch_stride + d * p.delta_dim_stride;
    oRow[r] = p.out + b * p.out_batch_stride + d * p.out_dim_stride;
    Dv[r] = p.D ? __ldg(p.D + d) : 0.f;
    bias[r] = p.delta_bias ? __ldg(p.delta_bias + d) : 0.f;
  }
  const float* Bg = varB ? p.B + b * p.B_batch_stride + g * p.B_group_stride : nullptr;
  const float* Cg = varC ? p.C + b * p.C_batch_stride + g * p.C_group_stride : nullptr;

  float carryReg[R][NS > 0 ? NS : 1];
  float* carrySmem = smem + (size_t)warp * R * (NS > 0 ? 0 : N);
  if (NS > 0) {
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int n = 0; n < (NS > 0 ? NS : 1); ++n) carryReg[r][n] = 0.f;
  } else {
    for (int i = lane; i < R * N; i += 32) carrySmem[i] = 0.f;
    __syncwarp();
  }

  for (int64_t t0 = 0; t0 < L; t0 += 32 * K) {
    const int64_t t = t0 + (int64_t)lane * K;
    // y in double: D*u plus a sum over states of C*h can pass float's range on the way and come back
    // into it (or be brought back by the gate); in float that is an infinity where the float64 answer is
    // finite. This kernel serves the shapes too small for the pipe/states/n1seg kernels, so the double
    // accumulation costs none of the large shapes anything.
    float dl[R][K], du[R][K];
    double y[R][K];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float uv[K];
      loadK<K, VEC>(uRow[r], t, L, uv);
      loadK<K, VEC>(dRow[r], t, L, dl[r]);
#pragma unroll
      for (int k = 0; k < K; ++k) {
        float dv = dl[r][k] + bias[r];
        if (softplus) dv = softplus20(dv);
        dl[r][k] = dv;
        du[r][k] = dv * uv[k];   // 0 past L because u was loaded as 0
        y[r][k] = (double)Dv[r] * (double)uv[k];
      }
    }
    bool valid[K];
#pragma unroll
    for (int k = 0; k < K; ++k) valid[k] = t + k < L;

    // B/C (and A) of state n+1 are loaded while state n is computed: the loop is latency-bound
    // on these L2 reads otherwise.
    float Bk[K], Ck[K], A2[R], Bc[R], Cc[R];
    auto fetch = [&](int n, float (&bk)[K], float (&ck)[K], float (&a2)[R], float (&bc)[R], float (&cc)[R]) {
      if (varB) loadK<K, VEC>(Bg + n * p.B_state_stride, t, L, bk);
      if (varC) loadK<K, VEC>(Cg + n * p.C_state_stride, t, L, ck);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int64_t d = d0 + r;
        a2[r] = __ldg(p.A + d * p.A_dim_stride + n * p.A_state_stride) * SS2D_LOG2E;
        bc[r] = varB ? 0.f : __ldg(p.B + d * p.B_group_stride + n * p.B_state_stride);
        cc[r] = varC ? 0.f : __ldg(p.C + d * p.C_group_stride + n * p.C_state_stride);
      }
    };
    fetch(0, Bk, Ck, A2, Bc, Cc);
#pragma unroll (NS > 0 ? NS : 1)
    for (int n = 0; n < N; ++n) {
      float Bn[K], Cn[K], A2n[R], Bcn[R], Ccn[R];
      if (n + 1 < N) fetch(n + 1, Bn, Cn, A2n, Bcn, Ccn);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float a[K], bb[K];
#pragma unroll
        for (int k = 0; k < K; ++k) {
          // Items past L are the identity (1, 0) so that the carried state ends at h_{L-1}.
          a[k] = valid[k] ? fast_exp2(dl[r][k] * A2[r]) : 1.f;
          bb[k] = du[r][k] * (varB ? Bk[k] : Bc[r]);
        }
        const float h0 = NS > 0 ? carryReg[r][NS > 0 ? n : 0] : carrySmem[r * N + n];
        float hLane;
        float h = chunk_entry_state<K>(a, bb, h0, lane, hLane);
#pragma unroll
        for (int k = 0; k < K; ++k) {
          h = fmaf(a[k], h, bb[k]);
          y[r][k] = fma((double)(varC ? Ck[k] : Cc[r]), (double)h, y[r][k]);
        }
        const float hEnd = __shfl_sync(0xffffffffu, hLane, 31);
        if (NS > 0) {
          carryReg[r][NS > 0 ? n : 0] = hEnd;
        } else {
          __syncwarp();  // every lane has read h0 before lane 0 overwrites it
          if (lane == 0) carrySmem[r * N + n] = hEnd;
        }
      }
      if (NS == 0) __syncwarp();
      if (n + 1 < N) {
#pragma unroll
        for (int k = 0; k < K; ++k) { Bk[k] = Bn[k]; Ck[k] = Cn[k]; }
#pragma unroll
        for (int r = 0; r < R; ++r) { A2[r] = A2n[r]; Bc[r] = Bcn[r]; Cc[r] = Ccn[r]; }
      }
    }

    if (p.z) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float zv[K];
        loadK<K, VEC>(p.z + b * p.z_batch_stride + (d0 + r) * p.z_dim_stride, t, L, zv);
#pragma unroll
        for (int k = 0; k < K; ++k) y[r][k] *= (double)(zv[k] / (1.f + expf(-zv[k])));
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float yo[K];
#pragma unroll
      for (int k = 0; k < K; ++k) yo[k] = (float)y[r][k];  // round once; beyond float's range: +-inf, as IEEE
      storeK<K, VEC>(oRow[r], t, L, yo);
    }
  }

  if (p.last_state) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float* ls = p.last_state + (b * p.dim + d0 + r) * (int64_t)N;
      if (NS > 0) {
        if (lane == 0)
#pragma unroll
          for (int n = 0; n < (NS > 0 ? NS : 1); ++n) ls[n] = carryReg[r][n];
      } else {
        for (int n = lane; n < N; n += 32) ls[n] = carrySmem[r * N + n];
      }
    }
  }
}


// dstate 1 on contiguous rows ("seg"), the main dstate-1 path. Three differences from scan_fwd:
// * Short rows: a warp's lanes walk 32*K steps at a time, so a row of L steps wastes the end of its
//   last chunk (S4, L = 196: 60 of 256 lane-steps idle, 23%) and pays the per-row start for few
//   bytes. RS consecutive channels of one group form one virtual row of RS*L steps: the scan resets
//   at every row start (a = 0 there, so h = b and the carry dies) and each 4-step piece reads its
//   channel's A, D and bias (L % 4 == 0 keeps a piece inside one row; B/C are indexed by the step
//   within the row). The last state of a channel is the h of the piece that ends its row.
// * The next chunk's lines are prefetched into L2 while this chunk computes (no registers).
// * softplus20_fast: the accurate log1pf(expf(x)) was most of the per-element instructions, and
//   this memory-bound kernel was measurably issue-limited by them (H100: S4 0.101 -> 0.092 ms,
//   S3 0.187 -> 0.178, S1 0.350 -> 0.328).
// Measured alternatives (NOTES-perf.md): a chunk loaded a chunk ahead into registers (slower:
// 78 registers), the channels' constants held by lanes and shuffled (no gain), 2 rows per warp.

// softplus(x) = max(x, 0) + log1p(exp(-|x|)) with the hardware ex2/lg2: absolute error ~2e-7
// (1 + e rounds, lg2.approx), against ~40 instructions for log1pf(expf(x)). Threshold 20 kept.
__device__ __forceinline__ float softplus20_fast(float x) {
  if (x > 20.f) return x;
  return fmaxf(x, 0.f) + __logf(1.f + __expf(-fabsf(x)));
}

// chunk_entry_state for virtual rows of several channels, where a row start inside the chunk resets the scan (a = 0
// there). 0 times the state of the row before is 0 only while that state is finite: after a NaN or an infinity in a
// row's inputs it is NaN, and would leak into the rows after it. So when some lane's aggregate or the carry is not
// finite (a warp vote, uniform), the combine skips what lies before a reset (aggregate Ap == 0) instead of
// multiplying it by 0; otherwise it runs as chunk_entry_state. resetFree: the exact old path may be used.
template <int K>
__device__ __forceinline__ float chunk_entry_state_seg(const float (&a)[K], const float (&bb)[K], float carry,
                                                       int lane, float& hLane, bool& resetFree) {
  float Ap = a[0], Hp = bb[0];
#pragma unroll
  for (int k = 1; k < K; ++k) { Hp = fmaf(a[k], Hp, bb[k]); Ap *= a[k]; }
  resetFree = __all_sync(0xffffffffu, isfinite(Hp)) && isfinite(carry);
  if (resetFree) {
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const float Ao = __shfl_up_sync(0xffffffffu, Ap, off);
      const float Ho = __shfl_up_sync(0xffffffffu, Hp, off);
      if (lane >= off) { Hp = fmaf(Ap, Ho, Hp); Ap *= Ao; }
    }
    hLane = fmaf(Ap, carry, Hp);
  } else {
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const float Ao = __shfl_up_sync(0xffffffffu, Ap, off);
      const float Ho = __shfl_up_sync(0xffffffffu, Hp, off);
      if (lane >= off && Ap != 0.f) { Hp = fmaf(Ap, Ho, Hp); Ap *= Ao; }
    }
    hLane = Ap != 0.f ? fmaf(Ap, carry, Hp) : Hp;
  }
  const float h = __shfl_up_sync(0xffffffffu, hLane, 1);
  return lane == 0 ? carry : h;
}

template <int K>
__device__ __forceinline__ void scan_fwd_seg(const ScanParams& p, int64_t RS) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int L = (int)p.seqlen, Lv = L * (int)RS;     // the launcher keeps RS*L below 2^30
  const int64_t warpsPerBatch = p.dim / RS;
  const int64_t gw = (int64_t)blockIdx.x * SS2D_SCAN_WARPS + warp;
  if (gw >= p.batch * warpsPerBatch) return;
  const int64_t b = gw / warpsPerBatch;
  const int64_t c0 = (gw - b * warpsPerBatch) * RS;
  const int64_t g = c0 / (p.dim / p.groups);
  const bool varB = (p.flags & SS2D_VARIABLE_B) != 0;
  const bool varC = (p.flags & SS2D_VARIABLE_C) != 0;
  const bool softplus = (p.flags & SS2D_SOFTPLUS) != 0;
  const float* Bg = varB ? p.B + b * p.B_batch_stride + g * p.B_group_stride : nullptr;
  const float* Cg = varC ? p.C + b * p.C_batch_stride + g * p.C_group_stride : nullptr;
  const int64_t rowOff = c0 * L;                       // the virtual row starts at channel c0
  const float* uRow = p.u + b * p.u_batch_stride + rowOff;
  const float* dRow = p.delta + b * p.delta_batch_stride + rowOff;
  const float* zRow = p.z ? p.z + b * p.z_batch_stride + rowOff : nullptr;
  float* oRow = p.out + b * p.out_batch_stride + rowOff;
  float carry = 0.f;

  for (int t0 = 0; t0 < Lv; t0 += 32 * K) {
    const int t = t0 + lane * K;
    const bool live = t < Lv;                          // Lv % 4 == 0: a piece is wholly in or out
    const int seg = live ? t / L : 0, tl = live ? t - seg * L : 0;
    // One lane in 8 touches each 128-byte line of the next chunk (K = 4 floats per lane).
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
    if (varB) loadK<K, true>(Bg + tl - t, t, Lv, Bk);
    if (varC) loadK<K, true>(Cg + tl - t, t, Lv, Ck);
    loadK<K, true>(uRow, t, Lv, uv);
    loadK<K, true>(dRow, t, Lv, dl);
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
    if (tl == 0) {                                     // row start: no state flows in (a = 0), but h_0 = a_0 * 0 + b_0
      bb[0] = fmaf(a[0], 0.f, bb[0]);                  // is NaN where a_0 is (a NaN or infinite A), as in float64
      a[0] = 0.f;
    }
    float hLane;
    bool resetFree;
    float h = chunk_entry_state_seg<K>(a, bb, carry, lane, hLane, resetFree);
    if (!resetFree && tl == 0) h = 0.f;                // the row before may have left NaN: 0 * NaN is not 0
#pragma unroll
    for (int k = 0; k < K; ++k) {
      h = fmaf(a[k], h, bb[k]);
      y[k] = fmaf(varC ? Ck[k] : Cc, h, y[k]);
    }
    if (p.last_state && live && tl + K == L) p.last_state[b * p.dim + ch] = h;
    carry = __shfl_sync(0xffffffffu, hLane, 31);
    if (zRow) {
      float zv[K];
      loadK<K, true>(zRow, t, Lv, zv);
#pragma unroll
      for (int k = 0; k < K; ++k) y[k] *= zv[k] / (1.f + expf(-zv[k]));
    }
    storeK<K, true>(oRow, t, Lv, y);
  }
}

}  // namespace ss2d

#define SS2D_SCAN_KERNEL(NS, R, K, VEC)                                                       \
  extern "C" __global__ void __launch_bounds__(SS2D_SCAN_WARPS * 32)                          \
      ss2d_scan_fwd_n##NS##_r##R##_k##K##_v##VEC(const ScanParams p) {                       \
    extern __shared__ float ss2d_smem[];                                                       \
    ss2d::scan_fwd<NS, R, K, VEC>(p, ss2d_smem);                                               \
  }

// n1: dstate == 1 (VMamba's default), n0: any dstate <= SS2D_MAX_DSTATE. r: rows per warp,
// k: items per lane, v1: 16-byte path. The launcher (ScanLauncher.java, launch.h) picks one.
#define SS2D_SCAN_KERNELS_RK(NS, R, K) SS2D_SCAN_KERNEL(NS, R, K, 0) SS2D_SCAN_KERNEL(NS, R, K, 1)
SS2D_SCAN_KERNELS_RK(1, 1, 4)
SS2D_SCAN_KERNELS_RK(1, 2, 4)
SS2D_SCAN_KERNELS_RK(1, 4, 4)
SS2D_SCAN_KERNELS_RK(1, 2, 8)
SS2D_SCAN_KERNELS_RK(0, 1, 4)
SS2D_SCAN_KERNELS_RK(0, 2, 4)
SS2D_SCAN_KERNELS_RK(0, 4, 4)
SS2D_SCAN_KERNELS_RK(0, 1, 8)
SS2D_SCAN_KERNELS_RK(0, 2, 8)
SS2D_SCAN_KERNELS_RK(0, 4, 8)

// n1seg: dstate 1, contiguous rows of L % 4 == 0 steps, RS rows per virtual row (the argument).
extern "C" __global__ void __launch_bounds__(SS2D_SCAN_WARPS * 32)
    ss2d_scan_fwd_n1seg_k4(const ScanParams p, int64_t rowsPerSegment) {
  ss2d::scan_fwd_seg<4>(p, rowsPerSegment);
}
