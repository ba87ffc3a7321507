package org.ss2d.cuda;

import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanShape;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.MemoryBudget;

/**
 * Launch geometry and workspace of the selective scan backward ({@code selective_scan_bwd.cuh}): which
 * {@code ss2d_scan_bwd_l<S>_s<SPL>} kernel, segment length, warps per block, the grid, shared memory, and the
 * workspace (segment-start states, per-row sums, the blocks' slices of variable dB/dC). Plain Java so that the
 * choices and byte counts are tested without a GPU ({@code ScanBackwardPlanTest}).
 *
 * <p>Three kernel families; {@code -Dss2d.cuda.scanBackward=v1|v2|v3} names the newest one allowed: {@code v3} (default)
 * v2 at dstate 1 and v3 at 2..16, {@code v2} v2 at dstate 1 only, {@code v1} v1 at every dstate (v1 everywhere else;
 * an unknown value is an error):
 * <ul>
 *   <li>{@code v2}, dstate 1 only: {@code ss2d_scan_bwd_n1_r<R>_v<VEC>} ({@code selective_scan_bwd_n1.cuh}), parallel over
 *       time: a warp owns R channels (2 with variable B/C when a group's channel count is even, else 1) and walks their
 *       rows in chunks of 128 steps (32 lanes x 4), one chunk-start state saved per 128 steps; W warps a block (8,
 *       halved while W x R does not divide a group's channels or there would be fewer blocks than SMs); the blocks of a
 *       group each write a slice of variable dB/dC ({@code slices = channels per group / (W * R)}); VEC, the 16-byte
 *       path, when seqlen, every row stride and every base pointer allow it (decided at launch);</li>
 *   <li>v3, dstate 2..{@value #V3_MAX_DSTATE}: {@code ss2d_scan_bwd_v3_bounds_v<VEC>} (a warp per row: the state entering
 *       and the reverse carry leaving every 128-step chunk) then {@code ss2d_scan_bwd_v3_v<VEC>}
 *       ({@code selective_scan_bwd_v3.cuh}), a block per (batch, tile, chunk) whose W warps (4, halved while more than
 *       the tile's channels or past the shared memory) walk the tile's channels; the tile is a group when B or C is
 *       variable (dB/dC summed in the block and written once: no slices), else {@value #V3_TILE} channels;
 *       {@code ss2d_scan_bwd_parts} sums the per-(batch, chunk) partial sums ({@link #v3Columns} a channel);</li>
 *   <li>{@code v1}, every dstate, the rules below.</li>
 * </ul>
 * v1:
 * <ul>
 *   <li>States per lane SPL: 1 for dstate 1, 4 up to 32, 8 above; lanes per channel S the power of two with
 *       {@code S * SPL >= dstate}, doubled until the warp's {@code 32 / S} channels divide the channels of a group
 *       (S = 32 always does);</li>
 *   <li>segment TS (steps between saved states): 32, else 16, else 8, the first whose warp needs at most 24 KiB of
 *       shared memory (dstate / TS floats per element are saved);</li>
 *   <li>warps per block W: 8 (4 at SPL 8, up to 255 registers a thread), halved while the block's channels do not divide the group's, its shared memory passes
 *       160 KiB (or the device's opt-in limit), or there would be fewer blocks than SMs. The blocks of a group each write a slice of the
 *       variable dB/dC, summed in order afterwards: {@code slices = channels per group / (W * 32 / S)}.</li>
 * </ul>
 */
final class ScanBackwardLauncher {
    private ScanBackwardLauncher() {}

    /** Sub-tile steps (bwd::SUB). */
    static final int SUB = 4;
    private static final int WARP_SMEM_TARGET = 24 * 1024;
    private static final int BLOCK_SMEM_MAX = 160 * 1024;

    /**
     * @param kernel        entry point
     * @param lanes         S, lanes per channel
     * @param spl           states per lane
     * @param seg           TS, steps per segment
     * @param nseg          segments, ceil(seqlen / seg)
     * @param warpsPerBlock W
     * @param blocks        grid size (exact: every warp has channels)
     * @param sharedBytes   dynamic shared memory of a block
     * @param slices        blocks per (batch, group): slices of variable dB/dC
     */
    record Plan(String kernel, int lanes, int spl, int seg, long nseg, int warpsPerBlock, long blocks, int sharedBytes,
                long slices, int tile) {
        Plan(String kernel, int lanes, int spl, int seg, long nseg, int warpsPerBlock, long blocks, int sharedBytes,
             long slices) {
            this(kernel, lanes, spl, seg, nseg, warpsPerBlock, blocks, sharedBytes, slices, 0);
        }

        /** The kernel family: v1, v2 (dstate 1, parallel over time) or v3 (dstate 2..16, parallel over time). */
        String family() {
            return kernel.startsWith(N1_PREFIX) ? "v2" : kernel.startsWith(V3_PREFIX) ? "v3" : "v1";
        }

        /** v3's first kernel (chunk-entering states and carries), with the same 16-byte choice. */
        String boundsKernel() {
            return V3_BOUNDS_PREFIX + kernel.charAt(kernel.length() - 1);
        }

        /** Channels of a warp: 32 / S for v1; R for v2 (lanes = 32 there: a channel spans the warp). */
        int rowsPerWarp() {
            return timeParallel() ? rowsN1() : 32 / lanes;
        }

        /** The v2 (dstate 1, parallel over time) family. */
        boolean timeParallel() {
            return kernel.startsWith(N1_PREFIX);
        }

        /** The v3 family (dstate 2..16, chunks of 128 steps, a block per (batch, tile, chunk)). */
        boolean chunked() {
            return kernel.startsWith(V3_PREFIX);
        }

        private int rowsN1() {
            return kernel.charAt(N1_PREFIX.length()) - '0';
        }

        /** The same plan with the 16-byte path (v2's {@code _v1} suffix) on or off. */
        Plan vectorized(boolean vec) {
            if (!timeParallel() && !chunked()) return this;
            return new Plan(kernel.substring(0, kernel.length() - 1) + (vec ? 1 : 0), lanes, spl, seg, nseg, warpsPerBlock,
                    blocks, sharedBytes, slices, tile);
        }
    }

    /** System property naming the newest kernel family allowed: {@code v3} (default), {@code v2} or {@code v1}. */
    static final String PROPERTY = "ss2d.cuda.scanBackward";
    /** Steps of a v2 warp chunk (bwd1::CH: 32 lanes x 4). */
    static final int N1_CHUNK = 128;
    private static final String N1_PREFIX = "ss2d_scan_bwd_n1_r";
    /** Largest dstate of v3 (larger stays on v1). */
    static final int V3_MAX_DSTATE = 16;
    /** Channels of a v3 block when B and C are both constant (bwd_model.py's V3_TILE). */
    static final int V3_TILE = 32;
    private static final String V3_PREFIX = "ss2d_scan_bwd_v3_v";
    private static final String V3_BOUNDS_PREFIX = "ss2d_scan_bwd_v3_bounds_v";

    /** The family named by {@link #PROPERTY}. */
    static String variant() {
        return CudaSettings.choice(PROPERTY, "v3", "v1", "v2", "v3");
    }

    /** Floats of shared memory of one warp (bwd::warp_floats). */
    static int warpFloats(int lanes, int spl, int seg) {
        int rw = 32 / lanes;
        return 6 * rw * (seg + 1) + 4 * lanes * spl * (seg + 1) + (seg / SUB) * spl * 32;
    }

    static Plan plan(ScanShape s, int smCount) {
        return plan(s, smCount, BLOCK_SMEM_MAX);
    }

    static Plan plan(ScanShape s, int smCount, long sharedPerBlock) {
        return plan(s, smCount, sharedPerBlock, variant());
    }

    /**
     * v2 at dstate 1 unless {@code variant} is v1, v3 at dstate 2..16 when it is v3, else v1 (16-byte path assumed:
     * {@link Plan#vectorized} at launch). The workspace is {@link #workspaceBytes}: v1 and v2 chunk- or segment-start
     * states, per-row sums, slices; v3 states, carries and partial sums per (row, chunk).
     */
    static Plan plan(ScanShape s, int smCount, long sharedPerBlock, String variant) {
        if (!variant.equals("v1") && s.dstate() == 1) return planN1(s, smCount);
        if (variant.equals("v3") && s.dstate() <= V3_MAX_DSTATE) return planV3(s, sharedPerBlock);
        return planV1(s, smCount, sharedPerBlock);
    }

    private static Plan planV3(ScanShape s, long sharedPerBlock) {
        boolean variable = s.bMode() != BCMode.CONSTANT || s.cMode() != BCMode.CONSTANT;
        long perGroup = s.channelsPerGroup();
        int tile = (int) (variable ? perGroup : Math.min(s.dim(), V3_TILE));
        long tiles = (s.dim() + tile - 1) / tile;
        long nch = (s.seqlen() + N1_CHUNK - 1) / N1_CHUNK;
        int w = 4;
        while (w > 1 && (w > tile || (variable && v3SharedBytes(s.dstate(), w) > sharedPerBlock))) w /= 2;
        return new Plan(V3_PREFIX + 1, 32, s.dstate(), N1_CHUNK, nch, w, (long) s.batch() * tiles * nch,
                variable ? v3SharedBytes(s.dstate(), w) : 0, 0, tile);
    }

    /** v3's partial sums of a (batch, chunk, channel): dA, dD, ddelta_bias, and dB, dC where constant. */
    static long v3Columns(ScanShape s) {
        return s.dstate() + 2L + (s.bMode() == BCMode.CONSTANT ? s.dstate() : 0)
                + (s.cMode() == BCMode.CONSTANT ? s.dstate() : 0);
    }

    /** v3's block with variable B/C: the chunk's B and C, and each warp's dB and dC, dstate x 128 floats each. */
    static int v3SharedBytes(int dstate, int warps) {
        return (2 + 2 * warps) * dstate * N1_CHUNK * 4;
    }

    private static Plan planN1(ScanShape s, int smCount) {
        long perGroup = s.channelsPerGroup();
        boolean variable = s.bMode() != BCMode.CONSTANT || s.cMode() != BCMode.CONSTANT;
        // two channels a warp share the loads of B/C and halve the slices of dB/dC; constant B/C gain nothing from it
        int r = variable && perGroup % 2 == 0 ? 2 : 1;
        long warps = (long) s.batch() * (s.dim() / r);
        int w = 8;
        while (w > 1 && (perGroup % ((long) w * r) != 0 || warps / w < smCount)) w /= 2;
        long nseg = (s.seqlen() + N1_CHUNK - 1) / N1_CHUNK;
        return new Plan(N1_PREFIX + r + "_v1", 32, 1, N1_CHUNK, nseg, w, warps / w, w * 2 * N1_CHUNK * 4,
                perGroup / ((long) w * r));
    }

    /**
     * As {@link #plan(ScanShape, int)} on a device that gives a block at most {@code sharedPerBlock} bytes of shared
     * memory (its opt-in limit: 227 KiB on the H100, 163 KiB on the A100, 99 KiB on sm_86/89): fewer warps per block
     * where 160 KiB would not fit.
     */
    private static Plan planV1(ScanShape s, int smCount, long sharedPerBlock) {
        // the backend's SPI asks for working bytes with this too: past MAX_DSTATE no kernel has enough lanes (32 / S
        // would be 0), so say so rather than divide by zero
        if (s.dstate() > ScanParams.MAX_DSTATE) {
            throw new LimitExceededException("A", "dstate=" + s.dstate() + " exceeds the CUDA backend's MAX_DSTATE="
                    + ScanParams.MAX_DSTATE);
        }
        long blockSmemMax = Math.min(BLOCK_SMEM_MAX, sharedPerBlock);
        long perGroup = s.channelsPerGroup();
        int n = s.dstate();
        int spl = n <= 1 ? 1 : n <= 32 ? 4 : 8;
        int lanes = 1;
        while ((long) lanes * spl < n) lanes *= 2;
        while (lanes < 32 && perGroup % (32 / lanes) != 0) lanes *= 2;
        int rw = 32 / lanes;
        int seg = 32;
        while (seg > 8 && 4L * warpFloats(lanes, spl, seg) > WARP_SMEM_TARGET) seg /= 2;
        int warpBytes = 4 * warpFloats(lanes, spl, seg);
        long warps = (long) s.batch() * (s.dim() / rw);
        int w = spl == 8 ? 4 : 8;  // SPL 8 takes up to 255 registers a thread: 8 warps would fill the register file
        while (w > 1 && (perGroup % ((long) w * rw) != 0 || (long) w * warpBytes > blockSmemMax
                || warps / w < smCount)) {
            w /= 2;
        }
        long nseg = (s.seqlen() + seg - 1) / seg;
        return new Plan("ss2d_scan_bwd_l" + lanes + "_s" + spl, lanes, spl, seg, nseg, w, warps / w, w * warpBytes,
                perGroup / ((long) w * rw));
    }

    /** Elements of a variable B or C of {@code s} (its gradient's size). */
    static long bcElements(ScanShape s, BCMode mode) {
        long g = mode == BCMode.GROUPED ? s.groups() : 1;
        return MemoryBudget.product(s.batch(), g, s.dstate(), s.seqlen(), 1);
    }

    /** Workspace of {@code plan}: segment-start states, per-row sums (doubles), and slices of variable dB/dC when more than one. */
    static long workspaceBytes(ScanShape s, Plan plan) {
        long rows = MemoryBudget.product(s.batch(), s.dim(), 1, 1, 1);
        if (plan.chunked()) {  // v3: states and carries (2 x dstate floats) and partial sums per (row, chunk)
            return MemoryBudget.product(rows, plan.nseg(), 2L * s.dstate() + v3Columns(s), 1, 4);
        }
        long bytes = MemoryBudget.product(rows, plan.nseg(), s.dstate(), 1, 4);
        bytes = MemoryBudget.saturatingAdd(bytes, MemoryBudget.product(rows, 3L * s.dstate() + 2, 1, 1, 8));
        if (plan.slices() > 1) {
            if (s.bMode() != BCMode.CONSTANT) {
                bytes = MemoryBudget.saturatingAdd(bytes, MemoryBudget.product(plan.slices(), bcElements(s, s.bMode()), 1, 1, 4));
            }
            if (s.cMode() != BCMode.CONSTANT) {
                bytes = MemoryBudget.saturatingAdd(bytes, MemoryBudget.product(plan.slices(), bcElements(s, s.cMode()), 1, 1, 4));
            }
        }
        return bytes;
    }

    /**
     * Runs the backward: {@code p} is the forward's parameter block (inputs filled, out and last_state 0), {@code q}
     * the backward's with dout, dlast, du, ddelta, dz filled; the gradients' addresses of A, B, C, D and delta_bias
     * (0 when absent). The workspace comes from {@code ws}.
     */
    static Plan launch(CudaDevice dev, ScanShape s, long[] p, long[] q, long dA, long dB, long dC, long dD, long dBias,
                       Workspace ws) {
        Plan plan = plan(s, dev.smCount, dev.sharedPerBlockOptin) // refuses dstate > MAX_DSTATE
                .vectorized(vectorizable(p, q, s));
        if (!dev.ensureSharedMemory(plan.kernel(), dev.function(plan.kernel()), plan.sharedBytes())) {
            throw new LimitExceededException("A", "the scan backward at dstate=" + s.dstate() + " needs "
                    + plan.sharedBytes() + " bytes of shared memory per block, " + dev.describe() + " allows "
                    + dev.sharedPerBlockOptin);
        }
        if (plan.blocks() > dev.maxGridX) {
            throw new LimitExceededException("u", "batch*dim=" + (long) s.batch() * s.dim() + " needs " + plan.blocks()
                    + " blocks, the grid allows " + dev.maxGridX);
        }
        long rows = (long) s.batch() * s.dim();
        boolean varB = s.bMode() != BCMode.CONSTANT, varC = s.cMode() != BCMode.CONSTANT;
        if (plan.chunked()) {
            launchV3(dev, s, plan, p, q, dA, dB, dC, dD, dBias, ws);
            return plan;
        }
        long bElems = varB ? bcElements(s, s.bMode()) : 0, cElems = varC ? bcElements(s, s.cMode()) : 0;
        q[ScanParams.BWD_CKPT] = ws.floats(rows * plan.nseg() * s.dstate());
        q[ScanParams.BWD_ROWS] = ws.floats(2 * rows * (3L * s.dstate() + 2));
        boolean sliced = plan.slices() > 1;
        q[ScanParams.BWD_DB] = varB ? (sliced ? ws.floats(plan.slices() * bElems) : dB) : 0;
        q[ScanParams.BWD_DC] = varC ? (sliced ? ws.floats(plan.slices() * cElems) : dC) : 0;
        q[ScanParams.BWD_B_SLICE_STRIDE] = sliced ? bElems : 0;
        q[ScanParams.BWD_C_SLICE_STRIDE] = sliced ? cElems : 0;
        q[ScanParams.BWD_SEG] = plan.seg();
        q[ScanParams.BWD_NSEG] = plan.nseg();
        try (Launch l = new Launch(2)) {
            l.struct(p).struct(q).run(dev, plan.kernel(), plan.blocks(), 32 * plan.warpsPerBlock(), 1, plan.sharedBytes());
        }
        long cols = s.dim() * (3L * s.dstate() + 2);
        try (Launch l = new Launch(9)) {
            l.arg(q[ScanParams.BWD_ROWS]).arg(dA).arg(varB ? 0L : dB).arg(varC ? 0L : dC).arg(dD).arg(dBias)
                    .arg((long) s.batch()).arg((long) s.dim()).arg((long) s.dstate())
                    .run(dev, "ss2d_scan_bwd_rows", (cols + 255) / 256, 256, 1, 0);
        }
        if (sliced && varB) slices(dev, q[ScanParams.BWD_DB], dB, bElems, plan.slices());
        if (sliced && varC) slices(dev, q[ScanParams.BWD_DC], dC, cElems, plan.slices());
        return plan;
    }

    /**
     * v2's 16-byte path: seqlen and every row stride a multiple of 4 floats, every base pointer 16-byte aligned (u,
     * delta, z, variable B/C, and dout, du, ddelta, dz, which use u's strides).
     */
    static boolean vectorizable(long[] p, long[] q, ScanShape s) {
        boolean vec = s.seqlen() % 4 == 0;
        int[] strides = {ScanParams.U_BATCH_STRIDE, ScanParams.U_DIM_STRIDE, ScanParams.DELTA_BATCH_STRIDE,
                ScanParams.DELTA_DIM_STRIDE, ScanParams.Z_BATCH_STRIDE, ScanParams.Z_DIM_STRIDE};
        for (int i : strides) vec &= p[i] % 4 == 0;
        for (long a : new long[] {p[ScanParams.U], p[ScanParams.DELTA], p[ScanParams.Z], q[ScanParams.BWD_DOUT],
                q[ScanParams.BWD_DU], q[ScanParams.BWD_DDELTA], q[ScanParams.BWD_DZ]}) {
            vec &= (a & 15) == 0;
        }
        if (s.bMode() != BCMode.CONSTANT) {
            vec &= p[ScanParams.B_BATCH_STRIDE] % 4 == 0 && p[ScanParams.B_GROUP_STRIDE] % 4 == 0
                    && (p[ScanParams.B] & 15) == 0;
        }
        if (s.cMode() != BCMode.CONSTANT) {
            vec &= p[ScanParams.C_BATCH_STRIDE] % 4 == 0 && p[ScanParams.C_GROUP_STRIDE] % 4 == 0
                    && (p[ScanParams.C] & 15) == 0;
        }
        return vec;
    }

    private static void launchV3(CudaDevice dev, ScanShape s, Plan plan, long[] p, long[] q, long dA, long dB, long dC,
                                 long dD, long dBias, Workspace ws) {
        long rows = (long) s.batch() * s.dim();
        boolean varB = s.bMode() != BCMode.CONSTANT, varC = s.cMode() != BCMode.CONSTANT;
        long cols = v3Columns(s);
        q[ScanParams.BWD_CKPT] = ws.floats(2 * rows * plan.nseg() * s.dstate());  // states, then carries
        q[ScanParams.BWD_ROWS] = ws.floats(rows * plan.nseg() * cols);            // partial sums, floats
        q[ScanParams.BWD_DB] = varB ? dB : 0;
        q[ScanParams.BWD_DC] = varC ? dC : 0;
        q[ScanParams.BWD_B_SLICE_STRIDE] = 0;
        q[ScanParams.BWD_C_SLICE_STRIDE] = 0;
        q[ScanParams.BWD_SEG] = plan.tile();  // the main kernel reads its channel tile here
        q[ScanParams.BWD_NSEG] = plan.nseg();
        try (Launch l = new Launch(2)) {
            l.struct(p).struct(q).run(dev, plan.boundsKernel(), (rows + 7) / 8, 256, 1, 0);
        }
        try (Launch l = new Launch(2)) {
            l.struct(p).struct(q).run(dev, plan.kernel(), plan.blocks(), 32 * plan.warpsPerBlock(), 1, plan.sharedBytes());
        }
        try (Launch l = new Launch(9)) {
            l.arg(q[ScanParams.BWD_ROWS]).arg(dA).arg(varB ? 0L : dB).arg(varC ? 0L : dC).arg(dD).arg(dBias)
                    .arg((long) s.batch() * plan.nseg()).arg((long) s.dim()).arg((long) s.dstate())
                    .run(dev, "ss2d_scan_bwd_parts", (s.dim() * cols + 255) / 256, 256, 1, 0);
        }
    }

    private static void slices(CudaDevice dev, long part, long out, long n, long slices) {
        try (Launch l = new Launch(4)) {
            l.arg(part).arg(out).arg(n).arg(slices).run(dev, "ss2d_scan_bwd_slices", (n + 255) / 256, 256, 1, 0);
        }
    }
}
