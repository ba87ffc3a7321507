// Host-side launch rules for the scan kernel, mirrored by org.ss2d.cuda.ScanLauncher (Java).
// Kept here so that the harness tests exactly the choices the backend makes.
#pragma once
#include <cstdint>
#include <string>
#include "../../main/cuda/ss2d_params.h"
#include "../../main/cuda/selective_scan_pipe.cuh"

struct ScanLaunch {
  std::string kernel;   // e.g. ss2d_scan_fwd_n1_r2_k4_v1 or ss2d_scan_fwd_states_s8_v1
  bool states = false;  // states-across-lanes kernel (second argument: lanes per channel)
  bool pipe = false;    // pipelined states kernel (lanes per channel and states per lane in its name)
  int lanesPerChannel = 0;
  int threads = SS2D_SCAN_WARPS * 32;
  int rows;             // R: channels per warp
  int items;            // K: consecutive time steps per lane
  bool vec;             // 16-byte path
  int64_t blocks;
  size_t smem;          // dynamic shared memory bytes
  int64_t extra = 0;    // 16-bit kernels (plan_half): the second argument (rows per virtual row, or the mode bits)
};

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// rowsOverride / itemsOverride: 0 = heuristic, else force R in {1,2,4} / K in {4,8}
// (the harness times every choice; only instantiated pairs exist, see selective_scan.cuh).
// algo: 0 = heuristic, 1 = chunked warp scan (selective_scan.cuh), 2 = states across lanes
// (selective_scan_states.cuh, dstate > 1 only), 3 = pipelined states across lanes
// (selective_scan_pipe.cuh; itemsOverride = states per lane 4 or 8), 4 = dstate 1 on
// contiguous rows (scan_fwd_seg; itemsOverride = rows per virtual row).

// 16-byte path of every scan kernel: seqlen, every row stride and every pointer allow float4
// (ScanLauncher.vectorizable in Java).
inline bool vec16(const ScanParams& p) {
  bool vec = p.seqlen % 4 == 0 && aligned16(p.u) && aligned16(p.delta) && aligned16(p.out) && (!p.z || aligned16(p.z));
  const int64_t strides[] = {p.u_batch_stride, p.u_dim_stride, p.delta_batch_stride, p.delta_dim_stride,
                             p.z_batch_stride, p.z_dim_stride, p.out_batch_stride, p.out_dim_stride};
  for (int64_t st : strides) vec = vec && (st % 4 == 0);
  if (p.flags & SS2D_VARIABLE_B) vec = vec && p.B_batch_stride % 4 == 0 && p.B_group_stride % 4 == 0 && p.B_state_stride % 4 == 0 && aligned16(p.B);
  if (p.flags & SS2D_VARIABLE_C) vec = vec && p.C_batch_stride % 4 == 0 && p.C_group_stride % 4 == 0 && p.C_state_stride % 4 == 0 && aligned16(p.C);
  return vec;
}

// The pipelined kernel for SPL states per lane, or kernel "none" when no instantiation fits
// (S = lanes per channel in {1, 2, 4, 8}; no S = 1 at SPL 8) or the
// channels of a group do not fill whole warps.
inline ScanLaunch plan_pipe(const ScanParams& p, int spl) {
  ScanLaunch s;
  s.kernel = "none";
  int S = 1;
  while ((int64_t)S * spl < p.dstate) S *= 2;
  if (S > 8 || (spl == 8 && S == 1)) return s;
  const int RW = 32 / S;
  if ((p.dim / p.groups) % RW != 0) return s;
  const bool vec = vec16(p);
  const size_t perWarp = (size_t)ss2d::pipe::warp_floats(S, spl) * sizeof(float);
  const int wpb = perWarp <= 24 * 1024 ? 2 : 1;
  const int64_t warps = p.batch * (p.dim / RW);
  s.kernel = "ss2d_scan_fwd_pipe_l" + std::to_string(S) + "_s" + std::to_string(spl) + "_v" + (vec ? "1" : "0");
  s.pipe = true; s.lanesPerChannel = S; s.rows = RW; s.items = spl; s.vec = vec;
  s.threads = 32 * wpb;
  s.blocks = (warps + wpb - 1) / wpb;
  s.smem = perWarp * wpb;
  return s;
}

// dstate 1 on contiguous rows: one virtual row of RS channels per warp (kernel ss2d_scan_fwd_n1seg_k4,
// second argument RS), or "none" when the layout does not allow it.
inline ScanLaunch plan_seg(const ScanParams& p, int RS) {
  ScanLaunch s;
  s.kernel = "none";
  const int64_t L = p.seqlen;
  bool ok = p.dstate == 1 && L % 4 == 0 && vec16(p) && p.u_dim_stride == L && p.delta_dim_stride == L &&
            p.out_dim_stride == L && (!p.z || p.z_dim_stride == L) && (p.dim / p.groups) % RS == 0 &&
            L * RS < (1ll << 30);
  if (!ok) return s;
  s.kernel = "ss2d_scan_fwd_n1seg_k4";
  s.states = true; s.lanesPerChannel = RS; s.rows = 1; s.items = 4; s.vec = true;
  const int64_t warps = p.batch * (p.dim / RS);
  s.blocks = (warps + SS2D_SCAN_WARPS - 1) / SS2D_SCAN_WARPS;
  s.smem = 0;
  return s;
}

inline ScanLaunch plan_scan(const ScanParams& p, int rowsOverride, int itemsOverride, int smCount, int algo = 0) {
  ScanLaunch s;
  const int64_t perGroup = p.dim / p.groups;
  const bool n1 = p.dstate == 1;
  if (algo == 4) return plan_seg(p, itemsOverride ? itemsOverride : 1);
  if (algo == 3) return plan_pipe(p, itemsOverride ? itemsOverride : 4);
  if (algo == 0 && !rowsOverride && !itemsOverride && !n1 && p.dstate <= 64) {
    // Pipelined states kernel. 4 states per lane when its warps fit in one wave (16 per SM),
    // else 8 (fewer, longer warps; no tail wave). H100: S5 (2048 warps at 4) 0.63 ms at 4 vs 0.69
    // at 8; S2 (3072 warps at 4) 0.77 at 4 vs 0.67 at 8. Too few warps for 4 per SM: n0 below.
    const int64_t sm4 = (int64_t)smCount * 4, wave = (int64_t)smCount * 16;
    ScanLaunch p4 = plan_pipe(p, 4), p8 = plan_pipe(p, 8);
    const int64_t w4 = p4.kernel != "none" ? p.batch * (p.dim / p4.rows) : 0;
    const int64_t w8 = p8.kernel != "none" ? p.batch * (p.dim / p8.rows) : 0;
    if (w4 >= sm4 && (w4 <= wave || w8 < sm4)) return p4;
    if (w8 >= sm4) return p8;
  }
  if (algo == 0 && !rowsOverride && !itemsOverride && n1) {
    // Contiguous rows: n1seg, RS rows per virtual row, RS the largest power of two with RS*L <= 3200
    // that still leaves 64 warps per SM (two waves of 32). H100: S4 (L 196) rs8 0.092 ms, S3
    // (L 784) rs4 0.178, S1 (L 3136) rs1 0.328, against 0.108 / 0.194 / 0.349 for n1_r2_k4.
    int RS = 1;
    while ((int64_t)RS * 2 * p.seqlen <= 3200 && perGroup % (RS * 2) == 0 &&
           p.batch * (p.dim / (RS * 2)) >= (int64_t)smCount * 64) RS *= 2;
    ScanLaunch sg = plan_seg(p, RS);
    if (sg.kernel != "none") return sg;
  }
  if (!n1 && algo != 1) {
    // States across lanes: SPL states per lane, S lanes per channel, RW = 32/S channels per warp.
    // Latency-bound (each lane walks the whole sequence): prefer 8 states per lane, but split a
    // channel over twice the lanes (4 states each) when 8 would leave under 8 warps per SM
    // (H100: S5, 7.8 warps/SM: 1.37 ms at 4 vs 1.46 at 8; S2, 11.6 warps/SM: 2.06 at 4 vs 1.32 at 8).
    auto lanesFor = [&](int spl) { int S = 1; while (S * spl < p.dstate) S *= 2; return S; };
    int spl = itemsOverride ? itemsOverride : (p.dstate <= 4 ? 4 : 8);
    if (!itemsOverride && spl == 8 && lanesFor(4) <= 32 && perGroup % (32 / lanesFor(4)) == 0 &&
        p.batch * (p.dim / (32 / lanesFor(8))) < (int64_t)smCount * 8) spl = 4;
    if (lanesFor(spl) > 32) spl = 8;
    const int S = lanesFor(spl);
    const int RW = 32 / S;
    const int64_t warps = perGroup % RW == 0 ? p.batch * (p.dim / RW) : 0;
    if (algo == 2 || (warps >= (int64_t)smCount * 4)) {
      if (warps == 0) { s.kernel = "none"; return s; }
      const bool vec = vec16(p);
      const size_t perWarp = (size_t)ss2d::states_smem_floats(S, spl) * sizeof(float);
      const int wpb = perWarp <= 24 * 1024 ? 2 : 1;
      s.kernel = "ss2d_scan_fwd_states_s" + std::to_string(spl) + "_v" + (vec ? "1" : "0");
      s.states = true; s.lanesPerChannel = S; s.rows = RW; s.items = spl; s.vec = vec;
      s.threads = 32 * wpb;
      s.blocks = (warps + wpb - 1) / wpb;
      s.smem = perWarp * wpb;
      return s;
    }
  }
  // dstate 1 is bandwidth-bound: 2 rows per warp halves the B/C reads and keeps 64 registers
  // (R=4 needs 128 and loses occupancy; measured on the H100: R=2 fastest on S1, S3, S4).
  // dstate > 1 is bound by the per-state work: more rows and items per warp amortise B/C
  // loads and shuffles.
  int R = rowsOverride ? rowsOverride : (n1 ? 2 : 4);
  int K = itemsOverride ? itemsOverride : 4;  // K=8 measured slower for dstate 1 and 16
  // Fewer rows when batch*dim/R would not give every SM 8 warps.
  while (!rowsOverride && R > 1 && p.batch * (p.dim / R) < (int64_t)smCount * 8) R /= 2;
  while (R > 1 && perGroup % R != 0) R /= 2;
  if (n1 && K == 8 && R != 2) K = 4;
  const bool vec = vec16(p);
  const int ns = p.dstate == 1 ? 1 : 0;
  s.kernel = "ss2d_scan_fwd_n" + std::to_string(ns) + "_r" + std::to_string(R) + "_k" + std::to_string(K) + "_v" + (vec ? "1" : "0");
  s.rows = R;
  s.items = K;
  s.vec = vec;
  const int64_t warps = p.batch * (p.dim / R);
  s.blocks = (warps + SS2D_SCAN_WARPS - 1) / SS2D_SCAN_WARPS;
  s.smem = ns ? 0 : (size_t)SS2D_SCAN_WARPS * R * p.dstate * sizeof(float);
  return s;
}

// 16-bit activations (ScanLauncher.planHalf in Java): every access of k halves whole, i.e. u, delta, z and variable
// B, C strides multiples of k and pointers aligned to 2k bytes; out the same when 16-bit, else strides % 4 and 16 bytes.
inline bool half_pieces(const ScanParams& p, int k, bool outHalf) {
  auto al = [](const void* q, uintptr_t m) { return (reinterpret_cast<uintptr_t>(q) & m) == 0; };
  const uintptr_t mask = 2 * k - 1;
  const int64_t st[] = {p.u_batch_stride, p.u_dim_stride, p.delta_batch_stride, p.delta_dim_stride, p.z_batch_stride, p.z_dim_stride};
  for (int64_t x : st) if (x % k) return false;
  if (!al(p.u, mask) || !al(p.delta, mask) || !al(p.z, mask)) return false;
  const int os = outHalf ? k : 4;
  if (p.out_batch_stride % os || p.out_dim_stride % os || !al(p.out, outHalf ? mask : 15)) return false;
  if ((p.flags & SS2D_VARIABLE_B) && (!al(p.B, mask) || p.B_batch_stride % k || p.B_group_stride % k || p.B_state_stride % k)) return false;
  if ((p.flags & SS2D_VARIABLE_C) && (!al(p.C, mask) || p.C_batch_stride % k || p.C_group_stride % k || p.C_state_stride % k)) return false;
  return true;
}

// kind 1 float16, 2 bfloat16; "none" where the backend widens to float32 (dstate > 64, no pipe width fits).
// splOverride 4 or 8: that many states per lane on the pipe kernel (the harness covers both), 0: the heuristic.
inline ScanLaunch plan_half(const ScanParams& p, int kind, bool outHalf, int smCount, int splOverride = 0) {
  ScanLaunch s;
  s.kernel = "none"; s.rows = 1; s.items = 8; s.vec = false; s.smem = 0;
  const int64_t L = p.seqlen, perGroup = p.dim / p.groups;
  const std::string suf = std::string(kind == 1 ? "f16" : "bf16") + "_o" + (outHalf ? "h" : "f");
  if (p.dstate == 1) {
    const bool contiguous = p.u_dim_stride == L && p.delta_dim_stride == L && p.out_dim_stride == L && (!p.z || p.z_dim_stride == L);
    const int k = L % 8 == 0 && half_pieces(p, 8, outHalf) ? 8 : L % 4 == 0 && half_pieces(p, 4, outHalf) ? 4 : 0;
    int64_t rs = 1;
    if (contiguous && k) {
      while (2 * rs * L <= 3200 && perGroup % (2 * rs) == 0 && p.batch * (p.dim / (2 * rs)) >= 64ll * smCount) rs *= 2;
      s.kernel = "ss2d_scan_fwd_n1seg_k" + std::to_string(k) + "_" + suf;
    } else {
      s.kernel = "ss2d_scan_fwd_n1row_k8_" + suf;
    }
    s.extra = rs;
    const int64_t warps = p.batch * (p.dim / rs);
    s.blocks = (warps + SS2D_SCAN_WARPS - 1) / SS2D_SCAN_WARPS;
    return s;
  }
  if (p.dstate > 64) return s;
  const int w = half_pieces(p, 8, outHalf) ? 8 : half_pieces(p, 4, outHalf) ? 4 : 1;
  auto pipe = [&](int spl, ScanLaunch& q) {
    int S = 1;
    while ((int64_t)S * spl < p.dstate) S *= 2;
    if (S > 8 || (spl == 8 && S == 1) || perGroup % (32 / S)) return (int64_t)0;
    const size_t perWarp = (size_t)ss2d::pipe::warp_floats_half(S, spl) * sizeof(float);
    const int wpb = perWarp <= 24 * 1024 ? 2 : 1;
    const int64_t warps = p.batch * (p.dim / (32 / S));
    q.kernel = "ss2d_scan_fwd_pipe_l" + std::to_string(S) + "_s" + std::to_string(spl) + "_h" + std::to_string(w);
    q.pipe = true; q.lanesPerChannel = S; q.rows = 32 / S; q.items = spl; q.vec = w == 8;
    q.threads = 32 * wpb; q.blocks = (warps + wpb - 1) / wpb; q.smem = perWarp * wpb;
    return warps;
  };
  ScanLaunch p4 = s, p8 = s;
  const int64_t w4 = pipe(4, p4), w8 = pipe(8, p8), sm4 = 4ll * smCount, wave = 16ll * smCount;
  ScanLaunch pick = splOverride == 4 ? p4 : splOverride == 8 ? p8
                  : w4 >= sm4 && (w4 <= wave || w8 < sm4) ? p4 : w8 >= sm4 ? p8 : w4 ? p4 : p8;
  if (pick.kernel == "none") return pick;
  const bool outVec = L % 4 == 0 && p.out_batch_stride % 4 == 0 && p.out_dim_stride % 4 == 0 &&
                      (reinterpret_cast<uintptr_t>(p.out) & (outHalf ? 7 : 15)) == 0;
  pick.extra = kind | ((outHalf ? kind : 0) << ss2d::pipe::HM_OUT_SHIFT) | (outVec ? ss2d::pipe::HM_OUTVEC : 0);
  return pick;
}
