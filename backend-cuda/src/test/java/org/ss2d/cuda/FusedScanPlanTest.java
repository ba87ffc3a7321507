package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** When the SS2D block's middle runs fused and how (no GPU needed); CudaBlocksTest and CudaVMambaTest run both paths. */
class FusedScanPlanTest {
    private static final int H100_OPTIN = 227 * 1024;

    private static FusedScan.Plan plan(int dState, boolean z, boolean half, int h, int w, int r, long planes) {
        return FusedScan.plan(true, dState, z, half, h, w, r, planes, H100_OPTIN);
    }

    @Test
    void sharedMemoryMatchesTheKernelsLayout() {
        // fused_scan.cuh warp_floats: x and y planes of H rows of pitch W + 1, then 4 routes x R dt weights
        assertEquals(2 * 56 * 57 + 4 * 6, FusedScan.warpFloats(56, 56, 6));
        assertEquals(2 * 7 * 8 + 4 * 48, FusedScan.warpFloats(7, 7, 48));
    }

    @Test
    void theVMambaS1StagesAt224RunFused() {
        // VMamba-T s1l8 at 224x224, batch 128: stage maps 56, 28, 14, 7 with d_inner 96..768, dt_rank 6..48
        int[][] stages = {{56, 96, 6}, {28, 192, 12}, {14, 384, 24}, {7, 768, 48}};
        for (int[] s : stages) {
            FusedScan.Plan p = plan(1, false, false, s[0], s[0], s[2], 128L * s[1]);
            assertTrue(p.fused(), s[0] + "x" + s[0] + ": " + p.why());
            // 49 pixels: one chunk of 2 x 32 steps; 196 and up: chunks of 8 x 32
            assertEquals(s[0] == 7 ? "ss2d_fused_scan_n1_k2" : "ss2d_fused_scan_n1_k8", p.kernel());
            assertEquals(FusedScan.MAX_WARPS, p.warps(), p.why());
            assertEquals(4 * FusedScan.warpFloats(s[0], s[0], s[2]) * p.warps(), p.sharedBytes());
            assertTrue(p.sharedBytes() <= H100_OPTIN);
        }
    }

    @Test
    void smallPlanesTakeFewerSubChunks() {
        assertEquals("ss2d_fused_scan_n1_k1", plan(1, false, false, 1, 1, 1, 4).kernel());
        assertEquals("ss2d_fused_scan_n1_k1", plan(1, false, false, 4, 8, 1, 4).kernel());
        assertEquals("ss2d_fused_scan_n1_k2", plan(1, false, false, 5, 9, 1, 4).kernel());
        assertEquals("ss2d_fused_scan_n1_k4", plan(1, false, false, 8, 16, 1, 4).kernel());
        assertEquals("ss2d_fused_scan_n1_k8", plan(1, false, false, 9, 15, 1, 4).kernel());
    }

    @Test
    void fewPlanesTakeFewerWarpsPerBlock() {
        FusedScan.Plan p = plan(1, false, false, 5, 6, 1, 3);
        assertTrue(p.fused(), p.why());
        assertEquals(3, p.warps());
    }

    @Test
    void otherBlocksKeepTheUnfusedPathAndSayWhy() {
        assertFalse(FusedScan.plan(false, 1, false, false, 56, 56, 6, 96, H100_OPTIN).fused());
        assertTrue(FusedScan.plan(false, 1, false, false, 56, 56, 6, 96, H100_OPTIN).why().contains(FusedScan.PROPERTY));
        FusedScan.Plan n16 = plan(16, false, false, 56, 56, 6, 96);
        assertFalse(n16.fused());
        assertTrue(n16.why().contains("d_state 16"), n16.why());
        FusedScan.Plan v0 = plan(1, true, false, 56, 56, 6, 96);
        assertFalse(v0.fused());
        assertTrue(v0.why().contains("z-gated"), v0.why());
        FusedScan.Plan half = plan(1, false, true, 56, 56, 6, 96);
        assertFalse(half.fused());
        assertTrue(half.why().contains("16-bit"), half.why());
        // 112x112 needs 2 * 112 * 113 * 4 bytes per warp: above the per-warp cap, the unfused path runs
        FusedScan.Plan big = plan(1, false, false, 112, 112, 6, 96);
        assertFalse(big.fused());
        assertTrue(big.why().contains("112x112") && big.why().contains("per warp"), big.why());
        // a device with less shared memory than one warp needs
        assertFalse(FusedScan.plan(true, 1, false, false, 56, 56, 6, 96, 16 * 1024).fused());
    }

    @Test
    void thePathIsOptIn() {
        String before = System.getProperty(FusedScan.PROPERTY);
        try {
            System.clearProperty(FusedScan.PROPERTY);
            assertFalse(FusedScan.enabled(), "off by default (slower than the unfused steps on the H100)");
            System.setProperty(FusedScan.PROPERTY, "false");
            assertFalse(FusedScan.enabled());
            System.setProperty(FusedScan.PROPERTY, "true");
            assertTrue(FusedScan.enabled());
        } finally {
            if (before == null) System.clearProperty(FusedScan.PROPERTY);
            else System.setProperty(FusedScan.PROPERTY, before);
        }
    }
}
