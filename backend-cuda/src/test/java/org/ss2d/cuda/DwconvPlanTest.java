package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The depthwise-convolution kernel choice ({@link DwconvPlan}), without a GPU: names exist in dwconv.cuh / layers. */
class DwconvPlanTest {
    private static final long A = 1L << 20; // an aligned device address

    @Test
    void vmambaStagesTakeV2WithVectorsWhereTheWidthAllows() {
        assertEquals("ss2d_dwconv2d_v2_k3_vec", DwconvPlan.of("v2", 0, A, A, 32, 96, 56, 56, 3, 132 * 64).kernel());
        assertEquals("ss2d_dwconv2d_v2_k3_vec", DwconvPlan.of("v2", 0, A, A, 32, 192, 28, 28, 3, 132 * 64).kernel());
        assertEquals("ss2d_dwconv2d_v2_k3", DwconvPlan.of("v2", 0, A, A, 32, 384, 14, 14, 3, 132 * 64).kernel());
        assertEquals("ss2d_dwconv2d_v2_k3_bf16", DwconvPlan.of("v2", 2, A, A, 32, 768, 7, 7, 3, 132 * 64).kernel());
        assertEquals("ss2d_dwconv2d_v2_k3_vec_f16", DwconvPlan.of("v2", 1, A, A, 128, 96, 56, 56, 3, 132 * 64).kernel());
        DwconvPlan p = DwconvPlan.of("v2", 0, A, A, 32, 96, 56, 56, 3, 132 * 64);
        assertEquals(DwconvPlan.Form.V2, p.form());
        // 2 x 4 outputs a thread: 3072 planes x 28 x 14 tiles / 256, under the cap
        assertEquals(3072L * 28 * 14 / 256, p.grid());
        assertEquals(7, DwconvPlan.of("v2", 0, A, A, 128, 96, 56, 56, 3, 7).grid());
    }

    @Test
    void misalignmentOrOtherKernelSizesLeaveTheVectorFormOrV2() {
        assertEquals("ss2d_dwconv2d_v2_k3", DwconvPlan.of("v2", 0, A + 4, A, 1, 1, 8, 56, 3, 100).kernel());
        assertEquals("ss2d_dwconv2d_v2_k3_f16", DwconvPlan.of("v2", 1, A, A + 2, 1, 1, 8, 56, 3, 100).kernel());
        assertEquals("ss2d_dwconv2d_v2_k3_vec_f16", DwconvPlan.of("v2", 1, A + 8, A, 1, 1, 8, 56, 3, 100).kernel());
        assertEquals("ss2d_dwconv2d_v2_k7", DwconvPlan.of("v2", 0, A, A, 1, 1, 8, 57, 7, 100).kernel());
        assertEquals("ss2d_dwconv2d_rows", DwconvPlan.of("v2", 0, A, A, 1, 1, 8, 56, 1, 100).kernel());
        assertEquals("ss2d_dwconv2d_rows_bf16", DwconvPlan.of("v2", 2, A, A, 1, 1, 8, 56, 9, 100).kernel());
        assertEquals("ss2d_dwconv2d", DwconvPlan.of("v2", 0, A, A, 1, 1, 8, 9000, 11, 100).kernel());
        // over 2^31 tiles: the band kernel's 64-bit plane index
        DwconvPlan big = DwconvPlan.of("v2", 0, A, A, 1L << 16, 1L << 12, 4, 32, 3, 100); // 2^28 planes x 2 x 8 tiles
        assertEquals(DwconvPlan.Form.ROWS, big.form());
    }

    @Test
    void rowsSelectsTheBandKernelAndItsBand() {
        DwconvPlan p = DwconvPlan.of("rows", 0, A, A, 32, 96, 56, 56, 3, 132 * 64);
        assertEquals("ss2d_dwconv2d_rows", p.kernel());
        assertEquals(Layers.dwconvBand(56, 56, 3), p.band());
        assertEquals(32 * 96, p.grid());
    }

    @Test
    void anUnknownVariantNamesTheProperty() {
        String old = System.getProperty(DwconvPlan.PROPERTY);
        try {
            System.setProperty(DwconvPlan.PROPERTY, "fast");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, DwconvPlan::configured);
            assertTrue(e.getMessage().contains(DwconvPlan.PROPERTY) && e.getMessage().contains("fast"), e.getMessage());
            System.clearProperty(DwconvPlan.PROPERTY);
            assertEquals("v2", DwconvPlan.configured());
        } finally {
            if (old == null) System.clearProperty(DwconvPlan.PROPERTY);
            else System.setProperty(DwconvPlan.PROPERTY, old);
        }
    }
}
