package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Which kernel the launcher picks (no GPU needed); CudaScanTest runs these shapes on the device. */
class ScanLauncherPlanTest {
    private static ScanLauncher.Plan plan(long batch, long dim, long seqlen, long dstate, long groups) {
        long[] p = new long[ScanParams.FIELDS];
        p[ScanParams.BATCH] = batch;
        p[ScanParams.DIM] = dim;
        p[ScanParams.SEQLEN] = seqlen;
        p[ScanParams.DSTATE] = dstate;
        p[ScanParams.GROUPS] = groups;
        p[ScanParams.FLAGS] = ScanParams.VARIABLE_B | ScanParams.VARIABLE_C;
        p[ScanParams.U_DIM_STRIDE] = p[ScanParams.DELTA_DIM_STRIDE] = p[ScanParams.OUT_DIM_STRIDE] = seqlen;
        p[ScanParams.B_STATE_STRIDE] = p[ScanParams.C_STATE_STRIDE] = seqlen;
        return ScanLauncher.plan(p, 132);
    }

    @Test
    void kernelsForTheBenchmarkAndTestShapes() {
        assertEquals("ss2d_scan_fwd_n1_r2_k4_v1", plan(32, 768, 3136, 1, 4).kernel());      // S1
        assertEquals("ss2d_scan_fwd_n1_r2_k4_v1", plan(32, 3072, 196, 1, 4).kernel());     // S4
        assertEquals("ss2d_scan_fwd_n1_r1_k4_v0", plan(2, 8, 2049, 1, 2).kernel());   // few rows: 1 per warp
        assertEquals("ss2d_scan_fwd_states_s4_v1", plan(8, 2048, 4096, 16, 1).kernel());   // S5
        assertEquals("ss2d_scan_fwd_states_s4_v1", plan(4, 2048, 300, 16, 4).kernel());
        assertEquals("ss2d_scan_fwd_states_s8_v1", plan(32, 768, 3136, 16, 4).kernel());   // S2
        ScanLauncher.Plan p64 = plan(2, 4096, 66, 64, 1);
        assertEquals("ss2d_scan_fwd_states_s8_v0", p64.kernel());
        assertEquals(8, p64.lanesPerChannel());
        assertEquals("ss2d_scan_fwd_states_s8_v1", plan(8, 4352, 64, 16, 4).kernel());
        ScanLauncher.Plan p256 = plan(1, 4096, 37, 256, 1);
        assertEquals("ss2d_scan_fwd_states_s8_v0", p256.kernel());
        assertEquals(32, p256.lanesPerChannel());
        assertEquals(32, p256.threads(), "33 KB of shared memory per warp: one warp per block");
        assertEquals("ss2d_scan_fwd_n0_r1_k4_v0", plan(1, 8, 2049, 16, 4).kernel());      // few channels
    }
}
