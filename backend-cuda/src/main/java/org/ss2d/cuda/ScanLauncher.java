package org.ss2d.cuda;

import org.ss2d.validate.LimitExceededException;

/**
 * Chooses and launches one of the scan kernels of {@code selective_scan.cuh} and
 * {@code selective_scan_states.cuh}, with the rules of {@code src/test/cuda/launch.h} (the harness
 * measures exactly these choices):
 * <ul>
 *   <li>dstate 1: {@code n1}, 2 rows per warp, 4 items per lane (memory-bound; fastest on S1, S3, S4);</li>
 *   <li>dstate &gt; 1 with enough channels for 4 warps per SM: {@code states}, each lane runs the
 *       recurrence over the whole sequence for 8 states of one channel (4 when 8 would leave under
 *       8 warps per SM: S5 1.37 ms instead of 1.46; S2 stays at 8, 1.32 ms against 2.06 at 4);</li>
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

    /** {@code lanesPerChannel} &gt; 0 marks the states kernel (its second argument). */
    record Plan(String kernel, int rows, int items, boolean vec, long blocks, int threads, int sharedBytes,
                int lanesPerChannel) {}

    private static final int TILE_T = 16;

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

    static Plan plan(long[] p, int smCount) {
        long batch = p[ScanParams.BATCH], dim = p[ScanParams.DIM], seqlen = p[ScanParams.SEQLEN];
        long dstate = p[ScanParams.DSTATE], groups = p[ScanParams.GROUPS], flags = p[ScanParams.FLAGS];
        long perGroup = dim / groups;
        boolean n1 = dstate == 1;
        boolean vec = vectorizable(p, seqlen, flags);
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
            if (plan.lanesPerChannel() > 0) l.arg((long) plan.lanesPerChannel());
            l.run(dev, plan.kernel(), plan.blocks(), plan.threads(), 1, plan.sharedBytes());
        }
        return plan;
    }
}
