package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which kernel the launcher picks (no GPU needed); CudaScanTest runs these shapes on the device. */
class ScanLauncherPlanTest {
    private static ScanLauncher.Plan plan(long batch, long dim, long seqlen, long dstate, long groups) {
        return ScanLauncher.plan(params(batch, dim, seqlen, dstate, groups), 132);
    }

    private static long[] params(long batch, long dim, long seqlen, long dstate, long groups) {
        long[] p = new long[ScanParams.FIELDS];
        p[ScanParams.BATCH] = batch;
        p[ScanParams.DIM] = dim;
        p[ScanParams.SEQLEN] = seqlen;
        p[ScanParams.DSTATE] = dstate;
        p[ScanParams.GROUPS] = groups;
        p[ScanParams.FLAGS] = ScanParams.VARIABLE_B | ScanParams.VARIABLE_C;
        p[ScanParams.U_DIM_STRIDE] = p[ScanParams.DELTA_DIM_STRIDE] = p[ScanParams.OUT_DIM_STRIDE] = seqlen;
        p[ScanParams.B_STATE_STRIDE] = p[ScanParams.C_STATE_STRIDE] = seqlen;
        return p;
    }

    @Test
    void pipeSharedMemoryMatchesTheKernelsLayout() {
        // ss2d::pipe::warp_floats: 2 buffers of (3 sections of RW rows + B and C tiles) + 32 partial rows, TP = 20
        assertEquals(2 * (3 * 8 * 20 + 2 * (16 * 20 + 16)) + 32 * 20, ScanLauncher.pipeSmemFloats(4, 4));
        assertEquals(2 * (3 * 16 * 20 + 2 * (16 * 20 + 8)) + 32 * 20, ScanLauncher.pipeSmemFloats(2, 8));
    }

    @Test
    void kernelsForTheBenchmarkAndTestShapes() {
        ScanLauncher.Plan s1 = plan(32, 768, 3136, 1, 4);                                   // S1
        assertEquals("ss2d_scan_fwd_n1seg_k4", s1.kernel());
        assertEquals(1, s1.extraArg(), "S1: rows of 3136 are long enough alone");
        ScanLauncher.Plan s4 = plan(32, 3072, 196, 1, 4);                                   // S4
        assertEquals("ss2d_scan_fwd_n1seg_k4", s4.kernel());
        assertEquals(8, s4.extraArg(), "S4: 8 rows of 196 per virtual row");
        assertEquals(32L * 3072 / 8 / 4, s4.blocks());
        ScanLauncher.Plan s3 = plan(32, 1536, 784, 1, 4);                                   // S3
        assertEquals("ss2d_scan_fwd_n1seg_k4", s3.kernel());
        assertEquals(4, s3.extraArg());
        assertEquals("ss2d_scan_fwd_n1_r1_k4_v0", plan(2, 8, 2049, 1, 2).kernel());   // few rows: 1 per warp
        assertEquals("ss2d_scan_fwd_n1_r2_k4_v0", plan(32, 3072, 198, 1, 4).kernel(), "L % 4 != 0: no seg");
        long[] strided = params(32, 768, 3136, 1, 4);
        strided[ScanParams.U_DIM_STRIDE] = 3200;                                            // rows not contiguous
        assertEquals("ss2d_scan_fwd_n1_r2_k4_v1", ScanLauncher.plan(strided, 132).kernel());
        ScanLauncher.Plan few = plan(4, 768, 196, 1, 4);
        assertEquals("ss2d_scan_fwd_n1seg_k4", few.kernel());
        assertEquals(1, few.extraArg(), "too few rows to join them and keep 64 warps per SM");
        ScanLauncher.Plan s5 = plan(8, 2048, 4096, 16, 1);                                  // S5
        assertEquals("ss2d_scan_fwd_pipe_l4_s4_v1", s5.kernel());
        assertEquals(0, s5.extraArg());
        assertEquals(64, s5.threads());
        assertEquals(2 * 4 * ScanLauncher.pipeSmemFloats(4, 4), s5.sharedBytes());
        assertEquals("ss2d_scan_fwd_pipe_l4_s4_v1", plan(4, 2048, 300, 16, 4).kernel());
        assertEquals("ss2d_scan_fwd_pipe_l2_s8_v1", plan(32, 768, 3136, 16, 4).kernel(),   // S2
                "3072 warps at 4 states per lane do not fit in one wave of 16 per SM");
        ScanLauncher.Plan p64 = plan(2, 4096, 66, 64, 1);
        assertEquals("ss2d_scan_fwd_pipe_l8_s8_v0", p64.kernel());
        assertEquals(32, p64.threads(), "25 KB of shared memory per warp: one warp per block");
        assertEquals("ss2d_scan_fwd_pipe_l2_s8_v1", plan(8, 4352, 64, 16, 4).kernel());
        assertEquals("ss2d_scan_fwd_pipe_l1_s4_v1", plan(8, 4096, 64, 3, 4).kernel());
        ScanLauncher.Plan p256 = plan(1, 4096, 37, 256, 1);
        assertEquals("ss2d_scan_fwd_states_s8_v0", p256.kernel());
        assertEquals(32, p256.extraArg());
        assertEquals(32, p256.threads(), "33 KB of shared memory per warp: one warp per block");
        assertEquals("ss2d_scan_fwd_n0_r1_k4_v0", plan(1, 8, 2049, 16, 4).kernel());      // few channels
    }

    /** A half case at aligned addresses: u, delta, out, B, C each at its own 256-byte-aligned buffer. */
    private static long[] halfParams(long batch, long dim, long seqlen, long groups) {
        long[] p = params(batch, dim, seqlen, 1, groups);
        p[ScanParams.U_BATCH_STRIDE] = p[ScanParams.DELTA_BATCH_STRIDE] = p[ScanParams.OUT_BATCH_STRIDE] = dim * seqlen;
        p[ScanParams.B_BATCH_STRIDE] = p[ScanParams.C_BATCH_STRIDE] = groups * seqlen;
        p[ScanParams.B_GROUP_STRIDE] = p[ScanParams.C_GROUP_STRIDE] = seqlen;
        p[ScanParams.U] = 0x10000;
        p[ScanParams.DELTA] = 0x20000;
        p[ScanParams.OUT] = 0x30000;
        p[ScanParams.B] = 0x40000;
        p[ScanParams.C] = 0x50000;
        return p;
    }

    @Test
    void halfActivationsTakeTheWidestWholeLoadsAndNeverWidenAtDstateOne() {
        ScanLauncher.Plan s1 = ScanLauncher.planHalf(halfParams(32, 768, 3136, 4), 2, true, 132);   // S1 in bf16
        assertEquals("ss2d_scan_fwd_n1seg_k8_bf16_oh", s1.kernel());
        assertEquals(8, s1.items());
        assertEquals(1, s1.extraArg());
        ScanLauncher.Plan s3 = ScanLauncher.planHalf(halfParams(32, 3072, 196 * 4, 4), 1, false, 132);
        assertEquals("ss2d_scan_fwd_n1seg_k8_f16_of", s3.kernel());
        assertEquals(4, s3.extraArg(), "rows of 784 joined by 4 (RS * L <= 3200)");
        ScanLauncher.Plan s4 = ScanLauncher.planHalf(halfParams(32, 3072, 196, 4), 2, true, 132);      // S4
        assertEquals("ss2d_scan_fwd_n1seg_k4_bf16_oh", s4.kernel(), "L = 196: pieces of 4 halves (8 bytes)");
        assertEquals(8, s4.extraArg(), "S4: 8 rows of 196 per virtual row, as in float32");
        long[] odd = halfParams(2, 8, 3136, 4);
        odd[ScanParams.B] += 2;                                  // B one half off a 4-byte boundary
        assertEquals("ss2d_scan_fwd_n1row_k8_bf16_oh", ScanLauncher.planHalf(odd, 2, true, 132).kernel(), "unaligned B");
        long[] gap = halfParams(2, 8, 3136, 4);
        gap[ScanParams.U_DIM_STRIDE] = 3140;                     // rows not contiguous
        assertEquals("ss2d_scan_fwd_n1row_k8_bf16_oh", ScanLauncher.planHalf(gap, 2, true, 132).kernel(), "strided rows");
        assertEquals("ss2d_scan_fwd_n1row_k8_f16_of", ScanLauncher.planHalf(halfParams(2, 8, 49, 4), 1, false, 132).kernel(),
                "odd L");
        long[] constB = halfParams(2, 8, 3136, 4);
        constB[ScanParams.FLAGS] = ScanParams.VARIABLE_C;
        constB[ScanParams.B] = 0x40004;                          // a float32 constant B: no 16-byte rule for it
        assertEquals("ss2d_scan_fwd_n1seg_k8_f16_oh", ScanLauncher.planHalf(constB, 1, true, 132).kernel());
    }

    @Test
    void halfDstateSixteenTakesThePipeKernelOfFloat32sShape() {
        long[] s2 = halfParams(32, 768, 3136, 4);
        s2[ScanParams.DSTATE] = 16;
        s2[ScanParams.B_STATE_STRIDE] = s2[ScanParams.C_STATE_STRIDE] = 3136;
        s2[ScanParams.B_GROUP_STRIDE] = s2[ScanParams.C_GROUP_STRIDE] = 16 * 3136;
        s2[ScanParams.B_BATCH_STRIDE] = s2[ScanParams.C_BATCH_STRIDE] = 4 * 16 * 3136;
        String f32 = ScanLauncher.plan(s2, 132).kernel();                     // ss2d_scan_fwd_pipe_l2_s8_v1
        ScanLauncher.Plan h = ScanLauncher.planHalf(s2, 2, true, 132);
        assertEquals(f32.replace("_v1", "_h8"), h.kernel(), "S2 in bf16");
        assertEquals(2 | 2 << 2 | 1 << 8, h.extraArg(), "mode: bf16 in, bf16 out, whole 4-step out pieces");
        assertEquals(4 * ScanLauncher.pipeHalfSmemFloats(2, 8) * (h.threads() / 32), h.sharedBytes());
        assertEquals(2, ScanLauncher.planHalf(s2, 2, false, 132).extraArg() & 0xf, "out_float32: out type bits 0");
        long[] s5 = halfParams(8, 2048, 4096, 1);
        s5[ScanParams.DSTATE] = 16;
        s5[ScanParams.B_STATE_STRIDE] = s5[ScanParams.C_STATE_STRIDE] = 4096;
        s5[ScanParams.B_GROUP_STRIDE] = s5[ScanParams.C_GROUP_STRIDE] = 16 * 4096;
        s5[ScanParams.B_BATCH_STRIDE] = s5[ScanParams.C_BATCH_STRIDE] = 16 * 4096;
        assertEquals(ScanLauncher.plan(s5, 132).kernel().replace("_v1", "_h8"), ScanLauncher.planHalf(s5, 1, false, 132).kernel());
        long[] l196 = s2.clone();                                            // stage 3 of a d_state-16 VMamba: L = 196
        l196[ScanParams.SEQLEN] = 196;
        for (int i : new int[] {ScanParams.U_DIM_STRIDE, ScanParams.DELTA_DIM_STRIDE, ScanParams.OUT_DIM_STRIDE,
                ScanParams.B_STATE_STRIDE, ScanParams.C_STATE_STRIDE}) {
            l196[i] = 196;
        }
        l196[ScanParams.U_BATCH_STRIDE] = l196[ScanParams.DELTA_BATCH_STRIDE] = l196[ScanParams.OUT_BATCH_STRIDE] = 768 * 196;
        l196[ScanParams.B_GROUP_STRIDE] = l196[ScanParams.C_GROUP_STRIDE] = 16 * 196;
        l196[ScanParams.B_BATCH_STRIDE] = l196[ScanParams.C_BATCH_STRIDE] = 4 * 16 * 196;
        assertTrue(ScanLauncher.planHalf(l196, 2, true, 132).kernel().endsWith("_h4"), "L = 196: 8-byte pieces");
        long[] l49 = l196.clone();
        l49[ScanParams.SEQLEN] = l49[ScanParams.U_DIM_STRIDE] = l49[ScanParams.DELTA_DIM_STRIDE] = l49[ScanParams.OUT_DIM_STRIDE] = 49;
        l49[ScanParams.B_STATE_STRIDE] = l49[ScanParams.C_STATE_STRIDE] = 49;
        ScanLauncher.Plan p49 = ScanLauncher.planHalf(l49, 2, true, 132);
        assertTrue(p49.kernel().endsWith("_h1"), "L = 49: odd strides, 16-bit loads: " + p49.kernel());
        assertEquals(0, p49.extraArg() & (1 << 8), "L = 49: out written one element at a time");
        long[] tiny = halfParams(1, 8, 2049, 1);                             // few channels: float32 would take n0
        tiny[ScanParams.DSTATE] = 16;
        assertTrue(ScanLauncher.planHalf(tiny, 1, true, 132).kernel().startsWith("ss2d_scan_fwd_pipe_"), "few channels");
        long[] big = tiny.clone();
        big[ScanParams.DSTATE] = 65;
        assertEquals(null, ScanLauncher.planHalf(big, 1, true, 132), "dstate 65..256: no 16-bit kernel, widened");
        long[] five = halfParams(1, 5, 64, 1);                                 // 5 channels fill no warp of any pipe width
        five[ScanParams.DSTATE] = 16;
        assertEquals(null, ScanLauncher.planHalf(five, 1, true, 132), "5 channels: widened");
    }

    @Test
    void halfPipeSharedMemoryMatchesTheKernelsLayout() {
        // ss2d::pipe::warp_floats_half: one float buffer + 2 staging buffers of (3 RW + 2 NP) rows of 16 halves + partials
        assertEquals((3 * 16 * 20 + 2 * (16 * 20 + 8)) + 2 * (3 * 16 + 2 * 16) * 8 + 32 * 20, ScanLauncher.pipeHalfSmemFloats(2, 8));
    }

    /**
     * Any one 16-bit pointer off a 16-byte boundary, or any one stride not a multiple of 8 elements, sends the case
     * from the 16-byte kernel to the 8-byte one (or the 16-bit loads of n1row): a uint4 access would fault or read
     * across rows.
     */
    @Test
    void everyHalfPointerAndStrideIsChecked() {
        long[] ok = halfParams(2, 8, 3136, 4);
        ok[ScanParams.Z] = 0x60000;
        ok[ScanParams.Z_BATCH_STRIDE] = 8 * 3136;
        ok[ScanParams.Z_DIM_STRIDE] = 3136;
        assertEquals("ss2d_scan_fwd_n1seg_k8_bf16_oh", ScanLauncher.planHalf(ok, 2, true, 132).kernel());
        for (int ptr : new int[] {ScanParams.U, ScanParams.DELTA, ScanParams.OUT, ScanParams.Z, ScanParams.B, ScanParams.C}) {
            long[] p = ok.clone();
            p[ptr] += 8;                                        // 4 halves: 8-byte aligned, not 16
            assertEquals("ss2d_scan_fwd_n1seg_k4_bf16_oh", ScanLauncher.planHalf(p, 2, true, 132).kernel(),
                    ScanParams.NAMES[ptr] + " 8 bytes off 16");
            p[ptr] += 2;
            assertEquals("ss2d_scan_fwd_n1row_k8_bf16_oh", ScanLauncher.planHalf(p, 2, true, 132).kernel(),
                    ScanParams.NAMES[ptr] + " 10 bytes off 16");
        }
        for (int stride : new int[] {ScanParams.U_BATCH_STRIDE, ScanParams.DELTA_BATCH_STRIDE, ScanParams.Z_BATCH_STRIDE,
                ScanParams.OUT_BATCH_STRIDE, ScanParams.B_BATCH_STRIDE, ScanParams.B_GROUP_STRIDE, ScanParams.C_BATCH_STRIDE,
                ScanParams.C_GROUP_STRIDE}) {
            long[] p = ok.clone();
            p[stride] += 4;
            assertEquals("ss2d_scan_fwd_n1seg_k4_bf16_oh", ScanLauncher.planHalf(p, 2, true, 132).kernel(),
                    ScanParams.NAMES[stride] + " not a multiple of 8");
            p[stride] += 1;
            assertEquals("ss2d_scan_fwd_n1row_k8_bf16_oh", ScanLauncher.planHalf(p, 2, true, 132).kernel(),
                    ScanParams.NAMES[stride] + " odd");
        }
    }

    @Test
    void widenPropertySwitchesTheHalfKernelsOff() {
        String old = System.getProperty(ScanLauncher.HALF_PROPERTY);
        try {
            System.setProperty(ScanLauncher.HALF_PROPERTY, "widen");
            assertFalse(ScanLauncher.halfKernelsOn());
            System.setProperty(ScanLauncher.HALF_PROPERTY, "kernels");
            assertTrue(ScanLauncher.halfKernelsOn());
        } finally {
            if (old == null) System.clearProperty(ScanLauncher.HALF_PROPERTY);
            else System.setProperty(ScanLauncher.HALF_PROPERTY, old);
        }
    }
}
