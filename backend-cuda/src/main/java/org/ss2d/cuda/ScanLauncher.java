package org.ss2d.cuda;

import org.ss2d.validate.LimitExceededException;

/**
 * Chooses and launches one of the scan kernels of {@code selective_scan.cuh}, with the rules of
 * {@code src/test/cuda/launch.h} (the harness measures exactly these choices):
 * <ul>
 *   <li>dstate 1: {@code n1}, 2 rows per warp, 4 items per lane (memory-bound; fastest on S1, S3, S4);</li>
 *   <li>dstate &gt; 1: {@code n0}, 4 rows per warp (B/C read once for 4 channels), 4 items per lane;</li>
 *   <li>fewer rows when batch*dim/rows would leave an SM with under 8 warps, or rows do not divide
 *       the channels of a group;</li>
 *   <li>16-byte path when seqlen, every stride and every pointer allow it.</li>
 * </ul>
 * Before launch it checks dstate against MAX_DSTATE and the block's shared memory against the
 * device's opt-in limit, raising the kernel's dynamic limit above 48 KiB.
 */
final class ScanLauncher {
    private ScanLauncher() {}

    record Plan(String kernel, int rows, int items, boolean vec, long blocks, int sharedBytes) {}

    static Plan plan(long[] p, int smCount) {
        long batch = p[ScanParams.BATCH], dim = p[ScanParams.DIM], seqlen = p[ScanParams.SEQLEN];
        long dstate = p[ScanParams.DSTATE], groups = p[ScanParams.GROUPS], flags = p[ScanParams.FLAGS];
        long perGroup = dim / groups;
        boolean n1 = dstate == 1;
        int rows = n1 ? 2 : 4;
        int items = 4;
        while (rows > 1 && batch * (dim / rows) < (long) smCount * 8) rows /= 2;
        while (rows > 1 && perGroup % rows != 0) rows /= 2;
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
        String kernel = "ss2d_scan_fwd_n" + (n1 ? 1 : 0) + "_r" + rows + "_k" + items + "_v" + (vec ? 1 : 0);
        long warps = batch * (dim / rows);
        long blocks = (warps + ScanParams.WARPS - 1) / ScanParams.WARPS;
        int smem = n1 ? 0 : Math.toIntExact(4L * ScanParams.WARPS * rows * dstate);
        return new Plan(kernel, rows, items, vec, blocks, smem);
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
        try (Launch l = new Launch(1)) {
            l.struct(p).run(dev, plan.kernel(), plan.blocks(), 32 * ScanParams.WARPS, 1, plan.sharedBytes());
        }
        return plan;
    }
}
