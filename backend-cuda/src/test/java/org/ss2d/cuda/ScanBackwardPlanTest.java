package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanShape;
import org.ss2d.validate.LimitExceededException;

/** The scan backward's launch geometry and workspace (no GPU needed); CudaScanBackwardTest runs them on the device. */
class ScanBackwardPlanTest {
    private static final Path KERNELS = Path.of("src/main/cuda/selective_scan_bwd.cuh");
    private static final Path KERNELS_N1 = Path.of("src/main/cuda/selective_scan_bwd_n1.cuh");
    private static final Path KERNELS_V3 = Path.of("src/main/cuda/selective_scan_bwd_v3.cuh");

    private static ScanShape shape(int batch, int dim, int seqlen, int dstate, int groups) {
        return new ScanShape(batch, dim, seqlen, dstate, groups, BCMode.GROUPED, BCMode.GROUPED);
    }

    /** The (lanes, states per lane) pairs the .cuh instantiates. */
    private static Set<String> instantiated() throws IOException {
        Matcher m = Pattern.compile("(?m)^SS2D_BWD_KERNEL\\((\\d+), (\\d+), \\d\\)").matcher(Files.readString(KERNELS));
        Set<String> names = new HashSet<>();
        while (m.find()) names.add("ss2d_scan_bwd_l" + m.group(1) + "_s" + m.group(2));
        Matcher n1 = Pattern.compile("(?m)^SS2D_BWD_N1_KERNEL\\((\\d+), (\\d)\\)").matcher(Files.readString(KERNELS_N1));
        while (n1.find()) names.add("ss2d_scan_bwd_n1_r" + n1.group(1) + "_v" + n1.group(2));
        Matcher v3 = Pattern.compile("(?m)^SS2D_BWD_V3_KERNELS\\((\\d)\\)").matcher(Files.readString(KERNELS_V3));
        while (v3.find()) {
            names.add("ss2d_scan_bwd_v3_v" + v3.group(1));
            names.add("ss2d_scan_bwd_v3_bounds_v" + v3.group(1));
        }
        return names;
    }

    @Test
    void sharedMemoryMatchesTheKernelsLayout() {
        // 6 channel sections of RW rows, B, C, dB, dC tiles of S*SPL rows (pitch TS + 1), sub-tile states (TS/4 x SPL x 32)
        assertEquals(6 * 8 * 33 + 4 * 16 * 33 + 8 * 4 * 32, ScanBackwardLauncher.warpFloats(4, 4, 32));
        assertEquals(6 * 32 * 17 + 4 * 17 + 4 * 32, ScanBackwardLauncher.warpFloats(1, 1, 16));
        assertTrue(Files.exists(KERNELS));
    }

    private static ScanBackwardLauncher.Plan v1(ScanShape s) {
        return ScanBackwardLauncher.plan(s, 132, 160 * 1024, "v1");
    }

    @Test
    void plansForTheBenchmarkShapes() {
        ScanBackwardLauncher.Plan s1 = v1(shape(32, 768, 3136, 1, 4));
        assertEquals("ss2d_scan_bwd_l1_s1", s1.kernel());
        assertEquals(16, s1.seg(), "32 channels a warp at seg 32 would need 26.9 KB a warp");
        assertEquals(2, s1.warpsPerBlock(), "192 channels a group: 64 a block");
        assertEquals(3, s1.slices());
        assertEquals(196, s1.nseg());
        ScanBackwardLauncher.Plan s2 = v1(shape(32, 768, 3136, 16, 4));
        assertEquals("ss2d_scan_bwd_l4_s4", s2.kernel());
        assertEquals(32, s2.seg());
        assertEquals(8, s2.warpsPerBlock());
        assertEquals(3, s2.slices());
        ScanBackwardLauncher.Plan s5 = v1(shape(8, 2048, 4096, 16, 1));
        assertEquals("ss2d_scan_bwd_l4_s4", s5.kernel());
        assertEquals(8, s5.warpsPerBlock());
        assertEquals(32, s5.slices(), "2048 channels a group, 64 a block");
        assertEquals(8L * 2048 / 8 / 8, s5.blocks());
        assertEquals(8 * 4 * ScanBackwardLauncher.warpFloats(4, 4, 32), s5.sharedBytes());
        ScanBackwardLauncher.Plan small = ScanBackwardLauncher.plan(shape(8, 2048, 4096, 16, 1), 132, 99 * 1024, "v1");
        assertEquals(4, small.warpsPerBlock(), "99 KiB opt-in (sm_86/89): half the warps of the H100's block");
        assertEquals(64, small.slices());
        assertTrue(small.sharedBytes() <= 99 * 1024);
        assertEquals("ss2d_scan_bwd_l1_s1", v1(shape(32, 3072, 196, 1, 4)).kernel());  // S4
        assertEquals("ss2d_scan_bwd_l32_s8", ScanBackwardLauncher.plan(shape(1, 4, 10, 256, 1), 132).kernel());
        assertEquals("ss2d_scan_bwd_l32_s1", v1(shape(3, 7, 10, 1, 1)).kernel(),
                "7 channels: one per warp");
    }

    /** Every plan is an instantiated kernel, its grid exact and one group per block, within the shared-memory cap. */
    @Test
    void everyPlanIsExactAndInstantiated() throws IOException {
        Set<String> kernels = instantiated();
        assertEquals(15 + 4 + 4, kernels.size());
        for (String variant : new String[] {"v1", "v2", "v3"}) for (int n = 1; n <= 256; n++) {
            for (int perGroup : new int[] {1, 2, 3, 6, 7, 12, 32, 48, 96, 192, 384, 2048}) {
                for (int groups : new int[] {1, 4}) {
                    for (int batch : new int[] {1, 32}) {
                        ScanShape s = shape(batch, perGroup * groups, 100, n, groups);
                        ScanBackwardLauncher.Plan p = ScanBackwardLauncher.plan(s, 132, 160 * 1024, variant);
                        String what = variant + " " + s + " -> " + p;
                        assertEquals(!variant.equals("v1") && n == 1, p.timeParallel(), what);
                        assertEquals(variant.equals("v3") && n > 1 && n <= 16, p.chunked(), what);
                        assertEquals(variant.equals("v1") ? "v1" : n == 1 ? "v2" : variant.equals("v3") && n <= 16 ? "v3" : "v1",
                                p.family(), what);
                        assertTrue(kernels.contains(p.kernel()), what + ": kernel not instantiated");
                        assertTrue(kernels.contains(p.vectorized(false).kernel()), what + ": scalar kernel not instantiated");
                        if (p.chunked()) {
                            assertTrue(kernels.contains(p.boundsKernel()), what + ": bounds kernel not instantiated");
                            assertTrue(kernels.contains(p.vectorized(false).boundsKernel()), what);
                            // a block per (batch, tile, 128-step chunk); the tile a group (variable B/C here)
                            assertEquals(perGroup, p.tile(), what);
                            assertEquals((long) batch * groups * p.nseg(), p.blocks(), what + ": grid");
                            assertTrue(p.warpsPerBlock() <= Math.min(4, perGroup), what + ": idle warps");
                            assertEquals(ScanBackwardLauncher.v3SharedBytes(n, p.warpsPerBlock()), p.sharedBytes(), what);
                            assertTrue(p.sharedBytes() <= 160 * 1024, what + ": shared memory");
                            assertEquals(0, p.slices(), what);
                            assertEquals((100 + 127) / 128, p.nseg(), what);
                            continue;
                        }
                        assertTrue((long) p.lanes() * p.spl() >= n, what + ": states not covered");
                        long blockChannels = (long) p.warpsPerBlock() * p.rowsPerWarp();
                        assertEquals(0, perGroup % blockChannels, what + ": a block crosses a group");
                        assertEquals((long) batch * s.dim(), p.blocks() * blockChannels, what + ": grid not exact");
                        assertEquals(perGroup / blockChannels, p.slices(), what);
                        assertTrue(p.warpsPerBlock() * 32 <= 256, what + ": more threads than the launch bounds");
                        assertTrue(p.sharedBytes() <= 160 * 1024, what + ": shared memory");
                        assertTrue(p.timeParallel() ? p.seg() == 128 : p.seg() == 8 || p.seg() == 16 || p.seg() == 32, what);
                        assertEquals((100 + p.seg() - 1) / p.seg(), p.nseg(), what);
                    }
                }
            }
        }
    }

    /** v2 (dstate 1, parallel over time) at S1, S3, S4: two channels a warp with grouped B/C, one with constant. */
    @Test
    void v2PlansForDstateOne() {
        ScanShape s1 = shape(32, 768, 3136, 1, 4);
        ScanBackwardLauncher.Plan p = ScanBackwardLauncher.plan(s1, 132, 160 * 1024, "v2");
        assertEquals("ss2d_scan_bwd_n1_r2_v1", p.kernel());
        assertEquals("ss2d_scan_bwd_n1_r2_v0", p.vectorized(false).kernel());
        assertEquals(2, p.rowsPerWarp());
        assertEquals(8, p.warpsPerBlock());
        assertEquals(32L * 768 / 2 / 8, p.blocks());
        assertEquals(12, p.slices(), "192 channels a group, 16 a block");
        assertEquals(25, p.nseg(), "3136 steps in chunks of 128");
        assertEquals(8 * 2 * 128 * 4, p.sharedBytes());
        assertEquals(24, ScanBackwardLauncher.plan(shape(32, 1536, 784, 1, 4), 132, 160 * 1024, "v2").slices());  // S3
        ScanBackwardLauncher.Plan s4 = ScanBackwardLauncher.plan(shape(32, 3072, 196, 1, 4), 132, 160 * 1024, "v2");
        assertEquals(48, s4.slices());
        assertEquals(2, s4.nseg());
        ScanShape constant = new ScanShape(32, 768, 3136, 1, 1, BCMode.CONSTANT, BCMode.CONSTANT);
        assertEquals("ss2d_scan_bwd_n1_r1_v1", ScanBackwardLauncher.plan(constant, 132, 160 * 1024, "v2").kernel());
        assertEquals("ss2d_scan_bwd_v3_v1", ScanBackwardLauncher.plan(shape(32, 768, 3136, 16, 4), 132, 160 * 1024, "v3")
                .kernel(), "dstate 2..16 goes to v3");
        assertEquals("ss2d_scan_bwd_l4_s4", ScanBackwardLauncher.plan(shape(32, 768, 3136, 16, 4), 132, 160 * 1024, "v2")
                .kernel(), "v2: v1 above dstate 1 (the fallback should v3 fail)");
        assertEquals("ss2d_scan_bwd_l8_s4", ScanBackwardLauncher.plan(shape(32, 768, 3136, 17, 4), 132, 160 * 1024, "v3")
                .kernel(), "dstate > 16 stays on v1");
        assertEquals("ss2d_scan_bwd_n1_r2_v1", ScanBackwardLauncher.plan(s1, 132, 160 * 1024, "v3").kernel());
        // workspace: one chunk-start state per 128 steps, 5 doubles a row, 12 slices of dB and of dC
        long rows = 32L * 768;
        assertEquals(rows * 25 * 4 + rows * 5 * 8 + 2 * 12L * (32 * 4 * 3136) * 4, ScanBackwardLauncher.workspaceBytes(s1, p));
    }

    @Test
    void theVariantPropertyIsCheckedByName() {
        String old = System.getProperty(ScanBackwardLauncher.PROPERTY);
        try {
            System.setProperty(ScanBackwardLauncher.PROPERTY, "v1");
            assertEquals("ss2d_scan_bwd_l1_s1", ScanBackwardLauncher.plan(shape(32, 768, 3136, 1, 4), 132).kernel());
            assertEquals("ss2d_scan_bwd_l4_s4", ScanBackwardLauncher.plan(shape(32, 768, 3136, 16, 4), 132).kernel());
            System.setProperty(ScanBackwardLauncher.PROPERTY, "v2");
            assertEquals("ss2d_scan_bwd_l4_s4", ScanBackwardLauncher.plan(shape(32, 768, 3136, 16, 4), 132).kernel());
            System.clearProperty(ScanBackwardLauncher.PROPERTY);
            assertEquals("ss2d_scan_bwd_v3_v1", ScanBackwardLauncher.plan(shape(32, 768, 3136, 16, 4), 132).kernel(),
                    "v3 by default");
            System.setProperty(ScanBackwardLauncher.PROPERTY, "v4");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ScanBackwardLauncher.plan(shape(32, 768, 3136, 1, 4), 132));
            assertTrue(e.getMessage().contains("ss2d.cuda.scanBackward") && e.getMessage().contains("v4"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(ScanBackwardLauncher.PROPERTY);
            else System.setProperty(ScanBackwardLauncher.PROPERTY, old);
        }
    }

    @Test
    void workspaceIsSegmentStatesRowSumsAndSlices() {
        ScanShape s5 = shape(8, 2048, 4096, 16, 1);
        ScanBackwardLauncher.Plan p = v1(s5);
        long rows = 8L * 2048;
        long ckpt = rows * (4096 / 32) * 16 * 4;             // dstate / 32 floats per element
        long sums = rows * (3 * 16 + 2) * 8;
        long slices = 2 * 32L * (8 * 16 * 4096) * 4;         // dB and dC, 32 slices each
        assertEquals(ckpt + sums + slices, ScanBackwardLauncher.workspaceBytes(s5, p));
        ScanShape constant = new ScanShape(8, 2048, 4096, 16, 1, BCMode.CONSTANT, BCMode.CONSTANT);
        assertEquals(ckpt + sums, ScanBackwardLauncher.workspaceBytes(constant, v1(constant)));
    }

    /** v3 at S2 and S5: the plan, and a workspace of (5 dstate + 2) floats per (row, 128-step chunk), no slices. */
    @Test
    void v3PlansAndWorkspaceAtS2AndS5() {
        ScanShape s2 = shape(32, 768, 3136, 16, 4);
        ScanBackwardLauncher.Plan p2 = ScanBackwardLauncher.plan(s2, 132, 227 * 1024, "v3");
        assertEquals("ss2d_scan_bwd_v3_v1", p2.kernel());
        assertEquals("ss2d_scan_bwd_v3_bounds_v0", p2.vectorized(false).boundsKernel());
        assertEquals(192, p2.tile(), "a group");
        assertEquals(4, p2.warpsPerBlock());
        assertEquals(25, p2.nseg());
        assertEquals(32L * 4 * 25, p2.blocks());
        assertEquals((2 + 2 * 4) * 16 * 128 * 4, p2.sharedBytes(), "80 KiB");
        long rows2 = 32L * 768;
        // entering states and carries, then dA, dD, ddelta_bias: (3 dstate + 2) floats per (row, chunk)
        assertEquals(rows2 * 25 * (3 * 16 + 2) * 4, ScanBackwardLauncher.workspaceBytes(s2, p2));  // 122.9 MB
        ScanShape s5 = shape(8, 2048, 4096, 16, 1);
        ScanBackwardLauncher.Plan p5 = ScanBackwardLauncher.plan(s5, 132, 227 * 1024, "v3");
        assertEquals(2048, p5.tile());
        assertEquals(8L * 32, p5.blocks());
        assertEquals(8L * 2048 * 32 * (3 * 16 + 2) * 4, ScanBackwardLauncher.workspaceBytes(s5, p5));  // 104.9 MB
        assertTrue(ScanBackwardLauncher.workspaceBytes(s5, p5) * 2 < ScanBackwardLauncher.workspaceBytes(s5, v1(s5)),
                "v1 at S5: 275 MB");
        assertTrue(ScanBackwardLauncher.workspaceBytes(s2, p2) * 2 < ScanBackwardLauncher.workspaceBytes(s2, v1(s2)),
                "v1 at S2: 318 MB");
        // smaller opt-in limits take fewer warps; constant B/C take tiles of 32 channels and no shared memory
        assertEquals(2, ScanBackwardLauncher.plan(s2, 132, 64 * 1024, "v3").warpsPerBlock());
        ScanShape constant = new ScanShape(8, 2048, 4096, 16, 1, BCMode.CONSTANT, BCMode.CONSTANT);
        ScanBackwardLauncher.Plan pc = ScanBackwardLauncher.plan(constant, 132, 227 * 1024, "v3");
        assertEquals(32, pc.tile());
        assertEquals(0, pc.sharedBytes());
        assertEquals(8L * 64 * 32, pc.blocks());
        assertEquals(8L * 2048 * 32 * (5 * 16 + 2) * 4, ScanBackwardLauncher.workspaceBytes(constant, pc),
                "constant dB/dC add their partial sums");
        ScanBackwardLauncher.Plan odd = ScanBackwardLauncher.plan(
                new ScanShape(2, 70, 131, 3, 1, BCMode.CONSTANT, BCMode.CONSTANT), 132, 227 * 1024, "v3");
        assertEquals(2L * 3 * 2, odd.blocks(), "70 channels: tiles of 32, 32, 6; 131 steps: 2 chunks");
    }

    /** Past MAX_DSTATE (no kernel has lanes for it) the plan, and so the working-bytes estimate, is a limit error. */
    @Test
    void dstateAboveTheLimitIsRefusedByTheProjectsError() {
        LimitExceededException e = assertThrows(LimitExceededException.class,
                () -> ScanBackwardLauncher.plan(shape(1, 4, 8, 257, 1), 132));
        assertTrue(e.getMessage().contains("dstate=257") && e.getMessage().contains("MAX_DSTATE=256"), e.getMessage());
        assertEquals("ss2d_scan_bwd_l32_s8", ScanBackwardLauncher.plan(shape(1, 4, 8, 256, 1), 132).kernel());
    }
}
