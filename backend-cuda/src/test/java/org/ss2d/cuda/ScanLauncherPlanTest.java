package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
    void halfActivationsTakeTheSixteenByteKernelOnlyWhereEveryLoadIsWhole() {
        ScanLauncher.Plan s1 = ScanLauncher.planHalf(halfParams(32, 768, 3136, 4), 2, true, 132);   // S1 in bf16
        assertEquals("ss2d_scan_fwd_n1seg_k8_bf16_oh", s1.kernel());
        assertEquals(8, s1.items());
        assertEquals(1, s1.extraArg());
        ScanLauncher.Plan s4 = ScanLauncher.planHalf(halfParams(32, 3072, 196 * 4, 4), 1, false, 132);
        assertEquals("ss2d_scan_fwd_n1seg_k8_f16_of", s4.kernel());
        assertEquals(4, s4.extraArg(), "rows of 784 joined by 4 (RS * L <= 3200)");
        assertEquals(null, ScanLauncher.planHalf(halfParams(32, 3072, 196, 4), 2, true, 132),
                "L = 196: pieces of 8 would cross rows, so the widened path");
        long[] odd = halfParams(2, 8, 3136, 4);
        odd[ScanParams.B] += 2;                                  // B one half off a 16-byte boundary
        assertEquals(null, ScanLauncher.planHalf(odd, 2, true, 132), "unaligned B");
        long[] gap = halfParams(2, 8, 3136, 4);
        gap[ScanParams.U_DIM_STRIDE] = 3140;                     // rows not contiguous
        assertEquals(null, ScanLauncher.planHalf(gap, 2, true, 132), "strided rows");
        long[] n16 = halfParams(2, 8, 3136, 4);
        n16[ScanParams.DSTATE] = 16;
        assertEquals(null, ScanLauncher.planHalf(n16, 1, true, 132), "dstate 16: the float32 kernels on widened copies");
        long[] constB = halfParams(2, 8, 3136, 4);
        constB[ScanParams.FLAGS] = ScanParams.VARIABLE_C;
        constB[ScanParams.B] = 0x40004;                          // a float32 constant B: no 16-byte rule for it
        assertEquals("ss2d_scan_fwd_n1seg_k8_f16_oh", ScanLauncher.planHalf(constB, 1, true, 132).kernel());
    }

    /**
     * Any one 16-bit pointer off a 16-byte boundary, or any one stride not a multiple of 8 elements, sends the case to
     * the widened path (scalar loads): the kernel's uint4 loads and stores would fault or read across rows.
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
            assertEquals(null, ScanLauncher.planHalf(p, 2, true, 132), ScanParams.NAMES[ptr] + " 8 bytes off 16");
        }
        for (int stride : new int[] {ScanParams.U_BATCH_STRIDE, ScanParams.DELTA_BATCH_STRIDE, ScanParams.Z_BATCH_STRIDE,
                ScanParams.OUT_BATCH_STRIDE, ScanParams.B_BATCH_STRIDE, ScanParams.B_GROUP_STRIDE, ScanParams.C_BATCH_STRIDE,
                ScanParams.C_GROUP_STRIDE}) {
            long[] p = ok.clone();
            p[stride] += 4;
            assertEquals(null, ScanLauncher.planHalf(p, 2, true, 132), ScanParams.NAMES[stride] + " not a multiple of 8");
        }
    }
}
