package org.ss2d.cuda;

import org.ss2d.validate.LimitExceededException;

/**
 * Chooses and launches one of the scan kernels of {@code selective_scan.cuh},
 * {@code selective_scan_pipe.cuh} and {@code selective_scan_states.cuh}, with the rules of
 * {@code src/test/cuda/launch.h} (the harness measures exactly these choices; H100 figures):
 * <ul>
 *   <li>dstate 1, contiguous rows, 16-byte path: {@code n1seg}, RS rows scanned as one virtual row
 *       with a reset at each row start, RS the largest power of two with RS*L &lt;= 3200 that leaves
 *       64 warps per SM; the next chunk prefetched to L2, a fast softplus (S1 rs1 0.328 ms, S3 rs4
 *       0.178, S4 rs8 0.092, against 0.349 / 0.194 / 0.108 for {@code n1});</li>
 *   <li>other dstate 1 layouts: {@code n1}, 2 rows per warp, 4 items per lane;</li>
 *   <li>dstate 2..64 with enough channels for 4 warps per SM: {@code pipe}, each lane runs the
 *       recurrence over the whole sequence for 4 states of one channel (8 when the warps at 4 do not
 *       fit in one wave of 16 per SM), software-pipelined (S5 0.63 ms, S2 0.67 ms; the unpipelined
 *       states kernel took 1.37 / 1.32);</li>
 *   <li>dstate 65..256 with enough channels: {@code states} (8 states per lane);</li>
 *   <li>otherwise {@code n0}: chunked warp scan, 4 rows per warp, 4 items per lane;</li>
 *   <li>fewer rows when batch*dim/rows would leave an SM with under 8 warps, or rows do not divide
 *       the channels of a group;</li>
 *   <li>16-byte path when seqlen, every stride and every pointer allow it.</li>
 * </ul>
 * Before launch it checks dstate against MAX_DSTATE and the block's shared memory against the
 * device's opt-in limit, raising the kernel's dynamic limit above 48 KiB.
 */
final class ScanLauncher {
    private ScanLauncher() {}

    /**
     * {@code extraArg} &gt; 0 is the kernel's second argument: lanes per channel for {@code states},
     * rows per virtual row for {@code n1seg}; {@code pipe} and {@code n0}/{@code n1} take none.
     */
    record Plan(String kernel, int rows, int items, boolean vec, long blocks, int threads, int sharedBytes,
                int extraArg) {}

    private static final int TILE_T = 16;
    /** Row stride of the pipe kernels' shared-memory tiles (selective_scan_pipe.cuh: TP). */
    private static final int PIPE_TP = TILE_T + 4;

    /** Lanes a channel's dstate needs at {@code spl} states per lane (a power of two). */
    private static int lanesFor(long dstate, int spl) {
        int s = 1;
        while ((long) s * spl < dstate) s *= 2;
        return s;
    }

    /** Floats of shared memory one warp of the states kernel uses (states_smem_floats). */
    static int statesSmemFloats(int lanes, int spl) {
        int section = ((32 / lanes) * (TILE_T + 1) + 3) & ~3;
        return 3 * section + 2 * TILE_T * lanes * spl;
    }

    /** Floats of shared memory one warp of the pipe kernel uses (ss2d::pipe::warp_floats). */
    static int pipeSmemFloats(int lanes, int spl) {
        int bc = lanes * spl * PIPE_TP + lanes * 4;
        int buf = 3 * (32 / lanes) * PIPE_TP + 2 * bc;
        return 2 * buf + 32 * PIPE_TP;
    }

    /** The pipe kernel at {@code spl} states per lane, or null when none is built for it (launch.h plan_pipe). */
    private static Plan pipePlan(long batch, long dim, long perGroup, long dstate, int spl, boolean vec) {
        int lanes = lanesFor(dstate, spl);
        if (lanes > 8 || (spl == 8 && lanes == 1)) return null;
        int rw = 32 / lanes;
        if (perGroup % rw != 0) return null;
        int perWarp = 4 * pipeSmemFloats(lanes, spl);
        int wpb = perWarp <= 24 * 1024 ? 2 : 1;
        long warps = batch * (dim / rw);
        return new Plan("ss2d_scan_fwd_pipe_l" + lanes + "_s" + spl + "_v" + (vec ? 1 : 0), rw, spl, vec,
                (warps + wpb - 1) / wpb, 32 * wpb, perWarp * wpb, 0);
    }

    /** Rows of L steps contiguous in u, delta, out (and z): the n1seg kernel's layout (launch.h plan_seg). RS*L stays tiny. */
    private static boolean contiguousRows(long[] p, long seqlen) {
        return p[ScanParams.U_DIM_STRIDE] == seqlen && p[ScanParams.DELTA_DIM_STRIDE] == seqlen
                && p[ScanParams.OUT_DIM_STRIDE] == seqlen && (p[ScanParams.Z] == 0 || p[ScanParams.Z_DIM_STRIDE] == seqlen);
    }

    static Plan plan(long[] p, int smCount) {
        long batch = p[ScanParams.BATCH], dim = p[ScanParams.DIM], seqlen = p[ScanParams.SEQLEN];
        long dstate = p[ScanParams.DSTATE], groups = p[ScanParams.GROUPS], flags = p[ScanParams.FLAGS];
        long perGroup = dim / groups;
        boolean n1 = dstate == 1;
        boolean vec = vectorizable(p, seqlen, flags);
        if (!n1 && dstate <= 64) {
            // pipe: 4 states per lane when its warps fit in one wave (16 per SM), else 8
            long sm4 = 4L * smCount, wave = 16L * smCount;
            Plan p4 = pipePlan(batch, dim, perGroup, dstate, 4, vec), p8 = pipePlan(batch, dim, perGroup, dstate, 8, vec);
            long w4 = p4 != null ? batch * (dim / p4.rows()) : 0, w8 = p8 != null ? batch * (dim / p8.rows()) : 0;
            if (w4 >= sm4 && (w4 <= wave || w8 < sm4)) return p4;
            if (w8 >= sm4) return p8;
        }
        if (n1 && vec && contiguousRows(p, seqlen)) {
            // n1seg: RS rows per virtual row, one virtual row per warp
            int rs = 1;
            while (2L * rs * seqlen <= 3200 && perGroup % (2L * rs) == 0 && batch * (dim / (2L * rs)) >= 64L * smCount) {
                rs *= 2;
            }
            long warps = batch * (dim / rs);
            return new Plan("ss2d_scan_fwd_n1seg_k4", 1, 4, true, (warps + ScanParams.WARPS - 1) / ScanParams.WARPS,
                    32 * ScanParams.WARPS, 0, rs);
        }
        if (!n1) {
            int spl = dstate <= 4 ? 4 : 8;
            int s4 = lanesFor(dstate, 4);
            if (spl == 8 && s4 <= 32 && perGroup % (32 / s4) == 0
                    && batch * (dim / (32 / lanesFor(dstate, 8))) < (long) smCount * 8) {
                spl = 4;
            }
            int lanes = lanesFor(dstate, spl);
            int rw = 32 / lanes;
            long warps = perGroup % rw == 0 ? batch * (dim / rw) : 0;
            if (warps >= (long) smCount * 4) {
                int perWarp = 4 * statesSmemFloats(lanes, spl);
                int wpb = perWarp <= 24 * 1024 ? 2 : 1;
                return new Plan("ss2d_scan_fwd_states_s" + spl + "_v" + (vec ? 1 : 0), rw, spl, vec,
                        (warps + wpb - 1) / wpb, 32 * wpb, perWarp * wpb, lanes);
            }
        }
        int rows = n1 ? 2 : 4;
        int items = 4;
        while (rows > 1 && batch * (dim / rows) < (long) smCount * 8) rows /= 2;
        while (rows > 1 && perGroup % rows != 0) rows /= 2;
        String kernel = "ss2d_scan_fwd_n" + (n1 ? 1 : 0) + "_r" + rows + "_k" + items + "_v" + (vec ? 1 : 0);
        long warps = batch * (dim / rows);
        long blocks = (warps + ScanParams.WARPS - 1) / ScanParams.WARPS;
        int smem = n1 ? 0 : Math.toIntExact(4L * ScanParams.WARPS * rows * dstate);
        return new Plan(kernel, rows, items, vec, blocks, 32 * ScanParams.WARPS, smem, 0);
    }

    /** {@code -Dss2d.cuda.half=widen}: every 16-bit scan takes the widened float32 path (to compare, or to fall back). */
    static final String HALF_PROPERTY = "ss2d.cuda.half";

    /** False when {@link #HALF_PROPERTY} is {@code widen}; read per call so that one JVM can run both paths. */
    static boolean halfKernelsOn() {
        return !"widen".equals(System.getProperty(HALF_PROPERTY));
    }

    /** Floats of shared memory one warp of a 16-bit pipe kernel uses (ss2d::pipe::warp_floats_half). */
    static int pipeHalfSmemFloats(int lanes, int spl) {
        int bc = lanes * spl * PIPE_TP + lanes * 4;
        int buf = 3 * (32 / lanes) * PIPE_TP + 2 * bc;
        int stage = (3 * (32 / lanes) + 2 * lanes * spl) * TILE_T / 2;
        return buf + 2 * stage + 32 * PIPE_TP;
    }

    /** Mode bits of the 16-bit pipe kernels' second argument (selective_scan_pipe.cuh, HM_*). */
    private static final int HM_OUT_SHIFT = 2, HM_OUTVEC = 1 << 8;

    /**
     * The kernel for 16-bit u, delta, z and variable B, C of type {@code kind} (1 float16, 2 bfloat16), out 16-bit
     * ({@code outHalf}) or float32, float32 arithmetic; null where none applies and the caller widens the inputs to
     * float32 for the float32 kernels.
     * <ul>
     *   <li>dstate 1 ({@code selective_scan_half.cuh}): {@code n1seg_k8} on contiguous rows with L % 8 == 0 and
     *       every 16-bit access a whole 16-byte word (8 halves); {@code n1seg_k4} with L % 4 == 0 and 8-byte words
     *       (S4's L = 196); RS rows per virtual row as for the float32 n1seg; otherwise {@code n1row_k8}, one channel
     *       per warp through its strides with 16-bit loads, any L, stride or pointer;</li>
     *   <li>dstate 2..64 ({@code selective_scan_pipe.cuh}, {@code pipe_l<S>_s<SPL>_h<W>}): the float32 pipe choice
     *       of S and SPL (or whichever fits where too few channels would send float32 elsewhere), loads of W = 8 or 4
     *       halves where every 16-bit stride and pointer allow it, else 1;</li>
     *   <li>null (widened): dstate above 64, channels of a group that fill no warp of the pipe kernel, or a grid
     *       too large for the dstate-1 kernels' 32-bit step index.</li>
     * </ul>
     * The second argument ({@code extraArg}): rows per virtual row for dstate 1, the mode bits for the pipe.
     */
    static Plan planHalf(long[] p, long kind, boolean outHalf, int smCount) {
        long batch = p[ScanParams.BATCH], dim = p[ScanParams.DIM], seqlen = p[ScanParams.SEQLEN];
        long dstate = p[ScanParams.DSTATE], perGroup = dim / p[ScanParams.GROUPS];
        String suffix = (kind == 1 ? "f16" : "bf16") + "_o" + (outHalf ? "h" : "f");
        if (dstate == 1) {
            boolean contiguous = contiguousRows(p, seqlen);
            int k = seqlen % 8 == 0 && halfPieces(p, 8, outHalf) ? 8 : seqlen % 4 == 0 && halfPieces(p, 4, outHalf) ? 4 : 0;
            if (contiguous && k > 0) {
                int rs = 1;
                while (2L * rs * seqlen <= 3200 && perGroup % (2L * rs) == 0 && batch * (dim / (2L * rs)) >= 64L * smCount) {
                    rs *= 2;
                }
                long warps = batch * (dim / rs);
                return new Plan("ss2d_scan_fwd_n1seg_k" + k + "_" + suffix, 1, k, true,
                        (warps + ScanParams.WARPS - 1) / ScanParams.WARPS, 32 * ScanParams.WARPS, 0, rs);
            }
            if (seqlen >= 1L << 30) return null;
            long warps = batch * dim;
            return new Plan("ss2d_scan_fwd_n1row_k8_" + suffix, 1, 8, false, (warps + ScanParams.WARPS - 1) / ScanParams.WARPS,
                    32 * ScanParams.WARPS, 0, 1);
        }
        if (dstate > 64) return null;
        int w = halfPieces(p, 8, outHalf) ? 8 : halfPieces(p, 4, outHalf) ? 4 : 1;
        Plan p4 = pipeHalfPlan(batch, dim, perGroup, dstate, 4, w), p8 = pipeHalfPlan(batch, dim, perGroup, dstate, 8, w);
        long sm4 = 4L * smCount, wave = 16L * smCount;
        long w4 = p4 != null ? batch * (dim / p4.rows()) : 0, w8 = p8 != null ? batch * (dim / p8.rows()) : 0;
        Plan pick = w4 >= sm4 && (w4 <= wave || w8 < sm4) ? p4 : w8 >= sm4 ? p8 : p4 != null ? p4 : p8;
        if (pick == null) return null;
        long outKind = outHalf ? kind : 0;
        boolean outVec = seqlen % 4 == 0 && p[ScanParams.OUT_BATCH_STRIDE] % 4 == 0 && p[ScanParams.OUT_DIM_STRIDE] % 4 == 0
                && (p[ScanParams.OUT] & (outHalf ? 7 : 15)) == 0;
        int mode = (int) (kind | outKind << HM_OUT_SHIFT | (outVec ? HM_OUTVEC : 0));
        return new Plan(pick.kernel(), pick.rows(), pick.items(), pick.vec(), pick.blocks(), pick.threads(),
                pick.sharedBytes(), mode);
    }

    private static Plan pipeHalfPlan(long batch, long dim, long perGroup, long dstate, int spl, int w) {
        int lanes = lanesFor(dstate, spl);
        if (lanes > 8 || (spl == 8 && lanes == 1)) return null;
        int rw = 32 / lanes;
        if (perGroup % rw != 0) return null;
        int perWarp = 4 * pipeHalfSmemFloats(lanes, spl);
        int wpb = perWarp <= 24 * 1024 ? 2 : 1;
        long warps = batch * (dim / rw);
        return new Plan("ss2d_scan_fwd_pipe_l" + lanes + "_s" + spl + "_h" + w, rw, spl, w == 8, (warps + wpb - 1) / wpb,
                32 * wpb, perWarp * wpb, 0);
    }

    /**
     * Whether every 16-bit access can move {@code k} halves as one word: u, delta, z and variable B, C with strides
     * that are multiples of k and pointers aligned to 2k bytes; out the same when 16-bit, and for a float32 out
     * (stored 4 at a time) strides that are multiples of 4 and a 16-byte aligned pointer.
     */
    private static boolean halfPieces(long[] p, int k, boolean outHalf) {
        long flags = p[ScanParams.FLAGS];
        long mask = 2L * k - 1;
        int[] strides = {ScanParams.U_BATCH_STRIDE, ScanParams.U_DIM_STRIDE, ScanParams.DELTA_BATCH_STRIDE,
                ScanParams.DELTA_DIM_STRIDE, ScanParams.Z_BATCH_STRIDE, ScanParams.Z_DIM_STRIDE};
        for (int i : strides) if (p[i] % k != 0) return false;
        if ((p[ScanParams.U] & mask) != 0 || (p[ScanParams.DELTA] & mask) != 0 || (p[ScanParams.Z] & mask) != 0) return false;
        int outStep = outHalf ? k : 4;
        if (p[ScanParams.OUT_BATCH_STRIDE] % outStep != 0 || p[ScanParams.OUT_DIM_STRIDE] % outStep != 0
                || (p[ScanParams.OUT] & (outHalf ? mask : 15)) != 0) {
            return false;
        }
        if ((flags & ScanParams.VARIABLE_B) != 0 && !halfRows(p, ScanParams.B, ScanParams.B_BATCH_STRIDE,
                ScanParams.B_GROUP_STRIDE, ScanParams.B_STATE_STRIDE, k)) {
            return false;
        }
        return (flags & ScanParams.VARIABLE_C) == 0 || halfRows(p, ScanParams.C, ScanParams.C_BATCH_STRIDE,
                ScanParams.C_GROUP_STRIDE, ScanParams.C_STATE_STRIDE, k);
    }

    private static boolean halfRows(long[] p, int ptr, int batchStride, int groupStride, int stateStride, int k) {
        return (p[ptr] & (2L * k - 1)) == 0 && p[batchStride] % k == 0 && p[groupStride] % k == 0 && p[stateStride] % k == 0;
    }

    /**
     * Launches {@link #planHalf}'s kernel on {@code p} (16-bit pointers as they are) and returns true, or returns
     * false without launching anything when the case needs the widened float32 path (also under
     * {@code -Dss2d.cuda.half=widen}).
     */
    static boolean launchHalf(CudaDevice dev, long[] p, long kind, boolean outHalf) {
        if (!halfKernelsOn()) return false;
        Plan plan = planHalf(p, kind, outHalf, dev.smCount);
        if (plan == null || plan.blocks() > dev.maxGridX
                || !dev.ensureSharedMemory(plan.kernel(), dev.function(plan.kernel()), plan.sharedBytes())) {
            return false;
        }
        try (Launch l = new Launch(2)) {
            l.struct(p);
            l.arg((long) plan.extraArg());
            l.run(dev, plan.kernel(), plan.blocks(), plan.threads(), 1, plan.sharedBytes());
        }
        return true;
    }

    /** 16-byte path: seqlen, every row stride and every base pointer allow float4 accesses. */
    private static boolean vectorizable(long[] p, long seqlen, long flags) {
        boolean vec = seqlen % 4 == 0;
        int[] strides = {ScanParams.U_BATCH_STRIDE, ScanParams.U_DIM_STRIDE, ScanParams.DELTA_BATCH_STRIDE,
                ScanParams.DELTA_DIM_STRIDE, ScanParams.Z_BATCH_STRIDE, ScanParams.Z_DIM_STRIDE,
                ScanParams.OUT_BATCH_STRIDE, ScanParams.OUT_DIM_STRIDE};
        for (int s : strides) vec &= p[s] % 4 == 0;
        vec &= aligned(p[ScanParams.U]) && aligned(p[ScanParams.DELTA]) && aligned(p[ScanParams.OUT])
                && aligned(p[ScanParams.Z]);
        if ((flags & ScanParams.VARIABLE_B) != 0) {
            vec &= p[ScanParams.B_BATCH_STRIDE] % 4 == 0 && p[ScanParams.B_GROUP_STRIDE] % 4 == 0
                    && p[ScanParams.B_STATE_STRIDE] % 4 == 0 && aligned(p[ScanParams.B]);
        }
        if ((flags & ScanParams.VARIABLE_C) != 0) {
            vec &= p[ScanParams.C_BATCH_STRIDE] % 4 == 0 && p[ScanParams.C_GROUP_STRIDE] % 4 == 0
                    && p[ScanParams.C_STATE_STRIDE] % 4 == 0 && aligned(p[ScanParams.C]);
        }
        return vec;
    }

    private static boolean aligned(long address) {
        return (address & 15) == 0;
    }

    static Plan launch(CudaDevice dev, long[] p) {
        long dstate = p[ScanParams.DSTATE];
        if (dstate > ScanParams.MAX_DSTATE) {
            throw new LimitExceededException("A", "dstate=" + dstate + " exceeds the CUDA backend's MAX_DSTATE="
                    + ScanParams.MAX_DSTATE);
        }
        Plan plan = plan(p, dev.smCount);
        if (!dev.ensureSharedMemory(plan.kernel(), dev.function(plan.kernel()), plan.sharedBytes())) {
            throw new LimitExceededException("A", "dstate=" + dstate + " needs " + plan.sharedBytes()
                    + " bytes of shared memory per block, " + dev.describe() + " allows "
                    + dev.sharedPerBlockOptin + " (MAX_DSTATE=" + ScanParams.MAX_DSTATE + ")");
        }
        if (plan.blocks() > dev.maxGridX) {
            throw new LimitExceededException("u", "batch*dim=" + p[ScanParams.BATCH] * p[ScanParams.DIM]
                    + " needs " + plan.blocks() + " blocks, the grid allows " + dev.maxGridX);
        }
        try (Launch l = new Launch(2)) {
            l.struct(p);
            if (plan.extraArg() > 0) l.arg((long) plan.extraArg());
            l.run(dev, plan.kernel(), plan.blocks(), plan.threads(), 1, plan.sharedBytes());
        }
        return plan;
    }
}
