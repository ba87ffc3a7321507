package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.vmamba.VMambaConfig;

/**
 * The CUDA model's memory plan without a GPU: every convolution's geometry follows torch's arithmetic and
 * chains from the map before it, the activation buffers hold every map the forward pass writes into them,
 * the im2col chunks fit the columns buffer (and the buffer stays within one activation buffer when one image
 * fits), and the block workspace is the largest stage's.
 */
class ModelPlanTest {
    private static final int[][] SHAPES = {{1, 224, 224}, {128, 224, 224}, {2, 64, 64}, {3, 70, 54}, {2, 32, 32}};

    @Test
    void everyReleasedConfigurationHasAConsistentPlan() {
        for (String name : VMambaConfig.RELEASED) {
            for (int[] s : SHAPES) check(VMambaConfig.named(name), s[0], s[1], s[2]);
        }
    }

    @Test
    void explicitStemsAndDownsamplingsHaveConsistentPlans() {
        VMambaConfig v2 = VMambaConfig.named("vmamba_tiny_s1l8");
        for (VMambaConfig.PatchEmbed pe : VMambaConfig.PatchEmbed.values()) {
            for (VMambaConfig.Downsample ds : VMambaConfig.Downsample.values()) {
                VMambaConfig c = new VMambaConfig("custom", new int[] {16, 32, 48, 64}, new int[] {1, 1, 2, 1}, 4, 2.0,
                        0, 3, true, 2.0, VMambaConfig.ForwardType.V0, pe, ds, false, 10, 3, 4);
                for (int[] s : SHAPES) check(c, s[0], s[1], s[2]);
            }
        }
        check(v2.withNumClasses(0), 2, 64, 64);
    }

    private static void check(VMambaConfig c, int b, int h, int w) {
        String what = c.name() + " " + c.patchEmbed() + "/" + c.downsample() + " batch " + b + " " + h + "x" + w;
        ModelPlan p = ModelPlan.of(c, b, h, w);
        int[][] g = c.grids(h, w);
        assertArrayEquals(g, p.grids(), what);
        assertTrue(p.fits(b, h, w) && !p.fits(b + 1, h, w), what);

        List<ModelPlan.Conv> convs = p.convs();
        int stemConvs = c.patchEmbed() == VMambaConfig.PatchEmbed.V1 ? 1 : 2;
        int downConvs = c.downsample() == VMambaConfig.Downsample.V1 ? 0 : 3;
        assertEquals(stemConvs + downConvs, convs.size(), what);
        long perImageMax = 0;
        for (ModelPlan.Conv cv : convs) {
            assertEquals((cv.h() + 2 * cv.pad() - cv.k()) / cv.s() + 1, cv.oh(), what + " " + cv);
            assertEquals((cv.w() + 2 * cv.pad() - cv.k()) / cv.s() + 1, cv.ow(), what + " " + cv);
            assertTrue(cv.chunk() >= 1 && cv.chunk() <= b, what + " " + cv);
            assertTrue((long) cv.chunk() * cv.colsPerImage() <= p.colsFloats(), what + " " + cv + " fits the columns");
            // a conv writes (cout, oh, ow) per image into an activation buffer, or the v2 stem's first into its own
            long outFloats = cv.name().equals("patch_embed.0") && c.patchEmbed() == VMambaConfig.PatchEmbed.V2
                    ? p.stemFloats() : p.actFloats();
            assertTrue((long) b * cv.cout() * cv.outLen() <= outFloats, what + " " + cv + " output fits");
            perImageMax = Math.max(perImageMax, cv.colsPerImage());
        }
        // the chain: the stem starts at the image, ends at stage 0; each downsampling maps stage i to i+1
        ModelPlan.Conv first = convs.getFirst(), stemLast = convs.get(stemConvs - 1);
        assertEquals(List.of(c.inChans(), h, w), List.of(first.cin(), first.h(), first.w()), what);
        assertEquals(List.of(c.dim(0), g[0][0], g[0][1]), List.of(stemLast.cout(), stemLast.oh(), stemLast.ow()), what);
        if (stemConvs == 2) {
            assertEquals(List.of(first.cout(), first.oh(), first.ow()), List.of(stemLast.cin(), stemLast.h(), stemLast.w()));
            assertEquals((long) b * first.cout() * first.outLen(), p.stemFloats(), what + " stem hidden map");
        } else {
            assertEquals(0, p.stemFloats(), what);
        }
        for (int i = 0; i < downConvs; i++) {
            ModelPlan.Conv d = p.conv("layers." + i + ".downsample.1");
            assertEquals(List.of(c.dim(i), g[i][0], g[i][1], c.dim(i + 1), g[i + 1][0], g[i + 1][1]),
                    List.of(d.cin(), d.h(), d.w(), d.cout(), d.oh(), d.ow()), what);
        }
        long maxMap = 0, blocks = 0;
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            long len = (long) g[i][0] * g[i][1];
            maxMap = Math.max(maxMap, (long) b * c.dim(i) * len);
            if (i < 3 && c.downsample() == VMambaConfig.Downsample.V1) {
                maxMap = Math.max(maxMap, (long) b * 4 * c.dim(i) * g[i + 1][0] * g[i + 1][1]); // the 2x2 gather
            }
            blocks = Math.max(blocks, Ss2dBlock.residualBytes(c.ss2d(i), c.forwardType() == VMambaConfig.ForwardType.V0,
                    c.mlpHidden(i), b, len));
        }
        assertEquals(maxMap, p.actFloats(), what + ": the activation buffers hold the largest stage map (or gather)");
        assertEquals(blocks, p.blockBytes(), what);
        assertEquals(Math.max(blocks, (p.stemFloats() > 0 ? ModelPlan.piece(p.stemFloats()) : 0)
                + ModelPlan.piece(p.colsFloats())), p.scratchBytes(), what + ": the scratch holds a block or the stem");
        assertTrue(p.colsFloats() <= Math.max(p.actFloats(), perImageMax), what + ": columns within one activation buffer");
        assertEquals(c.hasClassifier() ? (long) b * c.dim(3) : 0, p.pooledFloats(), what);
        long call = p.callBytes(0);
        assertEquals(2 * ModelPlan.piece(p.actFloats()) + (p.pooledFloats() > 0 ? ModelPlan.piece(p.pooledFloats()) : 0),
                call, what);
        assertEquals(call + 512, p.callBytes(512), what);
    }

    @Test
    void theStemConvolutionRunsInChunksWhenTheBatchsColumnsWouldPassOneActivationBuffer() {
        // VMamba-T's second stem conv: 48 * 9 rows over 56 * 56 pixels per image, 4.5x the stage-0 map
        ModelPlan p = ModelPlan.of(VMambaConfig.named("vmamba_tiny_s1l8"), 128, 224, 224);
        ModelPlan.Conv c5 = p.conv("patch_embed.5");
        assertEquals(432L * 56 * 56, c5.colsPerImage());
        assertTrue(c5.chunk() < 128 && c5.chunk() > 1, "chunk " + c5.chunk());
        assertEquals(128L * 96 * 56 * 56, p.actFloats(), "stage 0's map is the largest activation");
        assertEquals(128L * 48 * 112 * 112, p.stemFloats(), "the stem's hidden map, in the scratch");
        assertEquals(p.actFloats(), p.colsFloats(), "columns capped at one activation buffer");
        assertTrue(p.scratchBytes() == p.blockBytes(), "the blocks' scratch is larger than the stem's");
        ModelPlan one = ModelPlan.of(VMambaConfig.named("vmamba_tiny_s1l8"), 1, 224, 224);
        assertEquals(1, one.conv("patch_embed.5").chunk());
        assertEquals(432L * 56 * 56, one.colsFloats(), "one image's columns when they pass one activation buffer");
    }

    @Test
    void blockScratchCountsTheZBranchAndTheMlp() {
        SS2DConfig s = new SS2DConfig(96, 16, 2.0, 6, 3, true);
        long plane = ModelPlan.piece(2L * 192 * 3136);
        long base = Ss2dBlock.ss2dBytes(s, false, 2, 3136);
        assertEquals(base + plane, Ss2dBlock.ss2dBytes(s, true, 2, 3136));
        long act = ModelPlan.piece(2L * 96 * 3136);
        assertEquals(base + 2 * act, Ss2dBlock.residualBytes(s, false, 0, 2, 3136));
        // x1 and the MLP's hidden map reuse the SS2D's scratch: the larger of the two counts
        long mlp = act + ModelPlan.piece(2L * 384 * 3136);
        assertEquals(2 * act + Math.max(base, mlp), Ss2dBlock.residualBytes(s, false, 384, 2, 3136));
        long wide = act + ModelPlan.piece(2L * 96 * 64 * 3136);
        assertTrue(wide > base, "a 64x MLP is larger than the SS2D's scratch");
        assertEquals(2 * act + wide, Ss2dBlock.residualBytes(s, false, 96 * 64, 2, 3136));
    }

    /**
     * With the fused middle (FusedScan) a float32 v05_noz model's block scratch is in_proj's and the conv's maps plus
     * x_dbl and its transposed column routes; v0 blocks (z gate, d_state 16) keep the unfused figure.
     */
    @Test
    void theFusedMiddlesScratchIsAFractionOfTheUnfusedOne() {
        SS2DConfig s = new SS2DConfig(96, 1, 1.0, 6, 3, false);
        long plane = ModelPlan.piece(2L * 96 * 3136);
        assertEquals(2 * plane + ModelPlan.piece(2L * 4 * 8 * 3136) + ModelPlan.piece(2L * 2 * 8 * 3136),
                Ss2dBlock.fusedSs2dBytes(s, 2, 3136));
        VMambaConfig t = VMambaConfig.named("vmamba_tiny_s1l8");
        ModelPlan fused = ModelPlan.of(t, 128, 224, 224, true), unfused = ModelPlan.of(t, 128, 224, 224, false);
        int[][] g = fused.grids();
        long blocks = 0;
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            long len = (long) g[i][0] * g[i][1];
            assertTrue(FusedScan.fits(t.ss2d(i), false, g[i][0], g[i][1]), "stage " + i);
            blocks = Math.max(blocks, Ss2dBlock.residualBytes(t.ss2d(i), t.mlpHidden(i), 128, len,
                    Ss2dBlock.fusedSs2dBytes(t.ss2d(i), 128, len)));
        }
        assertEquals(blocks, fused.blockBytes());
        // VMamba-T at batch 128: the 4 routes x 3 maps (xs, dts, ys) of stage 1 are gone from the block's scratch
        assertTrue(fused.blockBytes() < unfused.blockBytes() / 2, fused.blockBytes() + " vs " + unfused.blockBytes());
        assertEquals(unfused.blockBytes(), ModelPlan.of(t, 128, 224, 224).blockBytes(), "the 4-argument plan is unfused");
        VMambaConfig v0 = VMambaConfig.named("vanilla_vmamba_tiny");
        assertEquals(ModelPlan.of(v0, 8, 224, 224, false).blockBytes(), ModelPlan.of(v0, 8, 224, 224, true).blockBytes(),
                "v0 blocks are not fused");
    }

    /** The backend's budget estimate ({@code workspaceBytes}) and the model's block scratch count the same pieces. */
    @Test
    void theBlockScratchFormulasAgree() {
        for (SS2DConfig s : new SS2DConfig[] {new SS2DConfig(96, 1, 1.0, 6, 3, false), new SS2DConfig(96, 16, 2.0, 6, 3, true),
                new SS2DConfig(8, 4, 2.0, 1, 3, false), new SS2DConfig(768, 1, 2.0, 48, 3, false)}) {
            for (long len : new long[] {1, 49, 3136}) {
                assertEquals(Ss2dBlock.ss2dBytes(s, false, 3, len), Ss2dBlock.workspaceBytes(s, 0, 3, len), s + " len " + len);
                for (double mlp : new double[] {0.5, 4.0}) {
                    int hidden = org.ss2d.model.VSSWeights.hidden(s, mlp);
                    assertEquals(Ss2dBlock.residualBytes(s, false, hidden, 3, len), Ss2dBlock.workspaceBytes(s, mlp, 3, len),
                            s + " mlp " + mlp + " len " + len);
                }
            }
        }
    }

    @Test
    void theBackendsBlockEstimateSaturatesInsteadOfOverflowing() {
        SS2DConfig s = new SS2DConfig(96, 1, 2.0, 6, 3, false);
        org.junit.jupiter.api.Assertions.assertThrows(ArithmeticException.class,
                () -> Ss2dBlock.ss2dBytes(s, false, 1L << 31, 1L << 31));
    }

    /** The shared-memory depthwise convolution takes bands of rows that fit its 8192 floats, else the plain kernel. */
    @Test
    void depthwiseConvolutionBandsFitTheSharedMemory() {
        assertEquals(56, Layers.dwconvBand(56, 56, 3), "VMamba-T stage 1: a whole plane per block");
        assertEquals(8192 / 100 - 2, Layers.dwconvBand(200, 100, 3));
        assertEquals(1, Layers.dwconvBand(9, 8192 / 3, 3), "exactly k rows fit");
        assertEquals(0, Layers.dwconvBand(9, 8192 / 3 + 1, 3), "not even k rows: the plain kernel");
        assertEquals(0, Layers.dwconvBand(9, 9, 11), "k above the kernel's limit");
        for (long w = 1; w <= 3000; w += 37) {
            for (long k = 1; k <= 9; k += 2) {
                long r = Layers.dwconvBand(64, w, k);
                if (r > 0) assertTrue((r + k - 1) * w <= Layers.DW_SMEM && r <= 64, "w=" + w + " k=" + k + " r=" + r);
                else assertTrue(k * w > Layers.DW_SMEM, "w=" + w + " k=" + k);
            }
        }
    }
}
