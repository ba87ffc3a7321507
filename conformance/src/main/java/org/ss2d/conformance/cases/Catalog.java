package org.ss2d.conformance.cases;

import java.util.ArrayList;
import java.util.List;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.SS2DConfig;
import org.ss2d.ops.BCMode;
import org.ss2d.tensor.DType;

/**
 * The case catalog. The big option matrix is sampled so that the whole suite stays within CI's
 * budget: the full cross product of options at a small shape, then each long or unusual axis
 * (dstate, seqlen, softplus edge, underflow, groups) with a few representative option sets.
 * Seeds are fixed per case, so every run draws the same inputs.
 */
public final class Catalog {
    private Catalog() {}

    public static final int[] DSTATES = {1, 2, 4, 8, 16, 64, 256, 257};
    public static final int[] SEQLENS = {1, 2, 31, 127, 128, 129, 2047, 2048, 2049, 4096, 5000};
    public static final int[][] GRIDS = {{1, 6}, {6, 1}, {3, 3}, {4, 5}, {56, 56}};

    public static List<ConformanceCase> all() {
        List<ConformanceCase> all = new ArrayList<>();
        all.addAll(scans());
        all.addAll(halfScans());
        all.addAll(cross());
        all.addAll(blocks());
        all.addAll(halfBlocks());
        return all;
    }

    /** One small case per op: what {@code ProofOfRun} runs on every backend. */
    public static List<ConformanceCase> smoke() {
        return List.of(
                new ScanCase(2, 4, 17, 3, 2, BCMode.GROUPED, BCMode.GROUPED, true, true, true, true, true,
                        ScanCase.Inputs.NORMAL, 9001),
                new CrossCase(OpKind.CROSS_SCAN, 1, 2, 3, 4, 9002),
                new CrossCase(OpKind.CROSS_MERGE, 1, 2, 3, 4, 9003),
                BlockCase.ss2d(SS2DConfig.of(8, 1, 1.0), 1, 3, 4, 9004),
                BlockCase.vss(SS2DConfig.of(8, 1, 1.0), 1, 3, 4, 9005));
    }

    public static List<ConformanceCase> scans() {
        List<ConformanceCase> c = new ArrayList<>();
        long seed = 1000;
        // 1. Every option combination at a small shape: B, C in each layout (one group), and grouped G = 2, 4.
        for (BCMode bm : BCMode.values()) {
            for (BCMode cm : BCMode.values()) {
                for (int o = 0; o < 32; o++) c.add(options(2, 4, 33, 4, 1, bm, cm, o, ScanCase.Inputs.NORMAL, seed++));
            }
        }
        for (int o = 0; o < 32; o++) c.add(options(2, 4, 33, 4, 2, BCMode.GROUPED, BCMode.GROUPED, o, ScanCase.Inputs.NORMAL, seed++));
        for (int o = 0; o < 32; o++) c.add(options(1, 8, 33, 4, 4, BCMode.GROUPED, BCMode.GROUPED, o, ScanCase.Inputs.NORMAL, seed++));
        // 2. dstate, with all options on (grouped) and with constant B / variable C.
        for (int n : DSTATES) {
            c.add(options(2, 4, 65, n, 2, BCMode.GROUPED, BCMode.GROUPED, 31, ScanCase.Inputs.NORMAL, seed++));
            c.add(new ScanCase(1, 3, 40, n, 1, BCMode.CONSTANT, BCMode.VARIABLE, true, false, false, true, true,
                    ScanCase.Inputs.NORMAL, seed++));
        }
        // 3. seqlen, VMamba-like (4 groups, N = 1, D, bias, softplus) and Mamba-like (variable B/C, N = 16, z).
        for (int len : SEQLENS) {
            c.add(new ScanCase(1, 8, len, 1, 4, BCMode.GROUPED, BCMode.GROUPED, true, false, true, true, true,
                    ScanCase.Inputs.NORMAL, seed++));
            c.add(new ScanCase(1, 4, len, 16, 1, BCMode.VARIABLE, BCMode.VARIABLE, true, true, false, true, true,
                    ScanCase.Inputs.NORMAL, seed++));
        }
        // 4. softplus inputs just under, at and over 20, with and without bias.
        for (int n : new int[] {1, 4}) {
            for (boolean bias : new boolean[] {false, true}) {
                c.add(new ScanCase(2, 4, 40, n, 2, BCMode.GROUPED, BCMode.GROUPED, true, false, bias, true, true,
                        ScanCase.Inputs.SOFTPLUS_EDGE, seed++));
            }
        }
        // 5. exp(delta A) underflowing in float32, with and without softplus.
        for (int n : new int[] {1, 16}) {
            for (boolean sp : new boolean[] {false, true}) {
                c.add(new ScanCase(2, 4, 24, n, 1, BCMode.VARIABLE, BCMode.CONSTANT, true, true, false, sp, true,
                        ScanCase.Inputs.UNDERFLOW, seed++));
            }
        }
        // 6. groups 1, 2, 4 on a wider channel count.
        for (int g : new int[] {1, 2, 4}) {
            c.add(new ScanCase(2, 12, 50, 8, g, BCMode.GROUPED, BCMode.GROUPED, true, true, true, true, true,
                    ScanCase.Inputs.NORMAL, seed++));
        }
        c.addAll(extremeScans());
        return c;
    }

    /**
     * 7. Every extreme-value class on every kernel path: dstate 1, a small dim (time lanes), constant B and C,
     * channel-lane blocks (dim a multiple of 16, dstate >= 2; two blocks per run, rows longer than a super-chunk) and
     * their constant-B variant; with softplus, and without on dstate 1 and the channel lanes. Rows cross the CPU
     * kernels' chunk sizes so that a switch of path inside a row is exercised.
     */
    public static List<ScanCase> extremeScans() {
        List<ScanCase> c = new ArrayList<>();
        long seed = 5000;
        BCMode g = BCMode.GROUPED, v = BCMode.VARIABLE, k = BCMode.CONSTANT;
        for (ScanCase.Inputs in : ScanCase.Inputs.values()) {
            if (in.ordinal() <= ScanCase.Inputs.UNDERFLOW.ordinal()) continue;
            for (boolean sp : new boolean[] {true, false}) {
                c.add(new ScanCase(2, 8, 152, 1, 4, g, g, true, sp, true, sp, true, in, seed++));      // dstate 1 (L % 4 == 0: CUDA runs several channels as one row)
                c.add(new ScanCase(1, 32, 1100, 16, 1, v, v, true, false, true, sp, true, in, seed++)); // channel lanes
                if (!sp) continue;
                c.add(new ScanCase(2, 4, 600, 4, 2, g, g, true, true, true, true, true, in, seed++));  // small dim
                c.add(new ScanCase(1, 4, 70, 3, 1, k, k, true, false, true, true, true, in, seed++));   // constant B, C
                c.add(new ScanCase(1, 16, 70, 16, 1, k, v, true, true, false, true, true, in, seed++)); // lanes, const B
            }
        }
        return c;
    }

    /** Option bits: 1 D, 2 z, 4 delta_bias, 8 softplus, 16 last_state. */
    private static ScanCase options(int batch, int dim, int len, int n, int g, BCMode bm, BCMode cm, int o,
                                    ScanCase.Inputs in, long seed) {
        return new ScanCase(batch, dim, len, n, g, bm, cm, (o & 1) != 0, (o & 2) != 0, (o & 4) != 0, (o & 8) != 0,
                (o & 16) != 0, in, seed);
    }

    /**
     * 8. The scan on float16 and bfloat16 activations, out in the input dtype and in float32 (out_float32): the
     * CPU kernels' paths (dstate 1 with tails, time lanes, channel-lane blocks, constant B), VMamba's and Mamba's
     * layouts, and a row longer than a staging block.
     */
    public static List<ConformanceCase> halfScans() {
        List<ConformanceCase> c = new ArrayList<>();
        BCMode g = BCMode.GROUPED, v = BCMode.VARIABLE, k = BCMode.CONSTANT;
        ScanCase.Inputs in = ScanCase.Inputs.NORMAL;
        List<ScanCase> shapes = List.of(
                new ScanCase(2, 8, 2049, 1, 4, g, g, true, false, true, true, true, in, 6000),   // VMamba: N = 1, 4 groups
                new ScanCase(1, 4, 129, 16, 1, v, v, true, true, false, true, true, in, 6001),   // Mamba: N = 16, z
                new ScanCase(1, 32, 100, 4, 2, g, g, true, true, true, true, true, in, 6002),    // channel-lane blocks
                new ScanCase(2, 4, 33, 4, 1, k, v, true, true, true, true, true, in, 6003),      // constant B (float32)
                new ScanCase(1, 4, 33, 2, 1, v, k, false, false, false, false, true, in, 6004),  // no options, constant C
                new ScanCase(1, 3, 20000, 1, 1, g, g, true, true, true, true, false, in, 6005)); // longer than a block
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            for (boolean outF32 : new boolean[] {false, true}) {
                for (ScanCase s : shapes) c.add(new HalfScanCase(s, d, outF32));
            }
        }
        return c;
    }

    public static List<ConformanceCase> cross() {
        List<ConformanceCase> c = new ArrayList<>();
        long seed = 2000;
        for (int[] g : GRIDS) {
            boolean big = g[0] * g[1] > 1000;
            c.add(new CrossCase(OpKind.CROSS_SCAN, big ? 1 : 2, big ? 8 : 3, g[0], g[1], seed++));
            c.add(new CrossCase(OpKind.CROSS_MERGE, big ? 1 : 2, big ? 8 : 3, g[0], g[1], seed++));
        }
        return c;
    }

    public static List<ConformanceCase> blocks() {
        List<ConformanceCase> c = new ArrayList<>();
        long seed = 3000;
        c.add(BlockCase.ss2d(SS2DConfig.of(8, 1, 1.0), 2, 5, 6, seed++));
        c.add(BlockCase.ss2d(SS2DConfig.of(8, 2, 2.0).withConvBias(true), 1, 3, 7, seed++));
        c.add(BlockCase.ss2d(SS2DConfig.of(12, 4, 1.0).withConvBias(true), 2, 1, 5, seed++));
        c.add(BlockCase.ss2d(SS2DConfig.of(12, 16, 2.0), 1, 7, 1, seed++));
        c.add(BlockCase.ss2d(SS2DConfig.of(16, 4, 2.0).withConvBias(true), 1, 4, 4, seed++));
        c.add(BlockCase.ss2d(SS2DConfig.of(10, 2, 1.0), 1, 9, 9, seed++));
        c.add(BlockCase.ss2d(SS2DConfig.of(4, 257, 1.0), 1, 2, 3, seed++));
        for (int width : new int[] {96, 192, 384, 768}) {
            c.add(BlockCase.ss2d(SS2DConfig.of(width, 1, 1.0), 1, 14, 14, seed++)); // VMamba-T widths, stage-3 grid
        }
        c.add(BlockCase.vss(SS2DConfig.of(8, 1, 1.0), 2, 5, 6, seed++));
        c.add(BlockCase.vss(SS2DConfig.of(12, 2, 2.0).withConvBias(true), 1, 3, 3, seed++));
        c.add(BlockCase.vss(SS2DConfig.of(16, 16, 1.0).withConvBias(true), 1, 2, 5, seed++));
        c.add(BlockCase.vss(SS2DConfig.of(4, 257, 1.0), 1, 2, 2, seed++));
        for (int width : new int[] {96, 192, 384}) {
            c.add(BlockCase.vss(SS2DConfig.of(width, 1, 1.0), 1, 14, 14, seed++));
        }
        // extreme values reaching the scan inside the blocks: d_state 1 (VMamba's), 16 with 16 channels per route
        // (the CPU's channel lanes) and a VSS block
        for (BlockCase.Values v : BlockCase.Values.values()) {
            if (v == BlockCase.Values.NORMAL) continue;
            c.add(BlockCase.ss2d(SS2DConfig.of(8, 1, 1.0), 1, 5, 6, seed++).with(v));
            c.add(BlockCase.ss2d(SS2DConfig.of(16, 16, 1.0), 1, 4, 5, seed++).with(v));
            c.add(BlockCase.vss(SS2DConfig.of(16, 4, 2.0), 1, 3, 4, seed++).with(v));
        }
        return c;
    }

    /**
     * The SS2D and VSS blocks with the {@code dtype} option in bfloat16 and float16 (issue 13): small and odd grids,
     * d_state 1/4/16, conv bias, VMamba-T's first width on the stage-3 grid, grids of H*W % 8 == 0 (the CUDA scan's
     * 16-byte path) and not, a NaN input and -inf dt bias reaching the scan, and VSS at 96 channels on 28x28 (where
     * the budget's allowance for flipped intermediates is needed). A backend without half blocks must reject them ({@code Capabilities.blockDtypes}).
     */
    public static List<ConformanceCase> halfBlocks() {
        List<ConformanceCase> c = new ArrayList<>();
        long seed = 7000;
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            c.add(BlockCase.ss2d(SS2DConfig.of(8, 1, 1.0), 2, 5, 6, seed++).in(d));
            c.add(BlockCase.ss2d(SS2DConfig.of(12, 4, 2.0).withConvBias(true), 1, 3, 7, seed++).in(d));
            c.add(BlockCase.ss2d(SS2DConfig.of(16, 16, 1.0), 1, 7, 1, seed++).in(d));
            c.add(BlockCase.ss2d(SS2DConfig.of(96, 1, 2.0), 1, 14, 14, seed++).in(d));
            c.add(BlockCase.vss(SS2DConfig.of(8, 1, 1.0), 2, 5, 6, seed++).in(d));
            c.add(BlockCase.vss(SS2DConfig.of(16, 16, 1.0).withConvBias(true), 1, 2, 5, seed++).in(d));
            c.add(BlockCase.vss(SS2DConfig.of(96, 1, 2.0), 1, 14, 14, seed++).in(d));
            // H*W % 8 == 0: CUDA's scan reads the 16-bit routes in place (16-byte loads); the others are widened
            c.add(BlockCase.ss2d(SS2DConfig.of(16, 1, 2.0), 2, 8, 8, seed++).in(d));
            c.add(BlockCase.vss(SS2DConfig.of(8, 1, 2.0).withConvBias(true), 1, 4, 6, seed++).in(d));
            c.add(BlockCase.ss2d(SS2DConfig.of(8, 1, 1.0), 1, 5, 6, seed++).with(BlockCase.Values.NAN_INPUT).in(d));
            c.add(BlockCase.vss(SS2DConfig.of(16, 4, 2.0), 1, 3, 4, seed++).with(BlockCase.Values.NEG_INF_DT_BIAS).in(d));
        }
        // a realistic size (VMamba-T's first stage), where intermediates that round to neighbouring half values in
        // float32 and float64 are common enough to test the budget's flip allowance; own seeds, the above keep theirs
        c.add(BlockCase.vss(SS2DConfig.of(96, 1, 2.0), 1, 28, 28, 7100).in(DType.BF16));
        c.add(BlockCase.vss(SS2DConfig.of(96, 1, 2.0), 1, 28, 28, 7101).in(DType.F16));
        return c;
    }
}
