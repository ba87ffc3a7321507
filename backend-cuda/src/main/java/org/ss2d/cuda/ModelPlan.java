package org.ss2d.cuda;

import java.util.ArrayList;
import java.util.List;
import org.ss2d.model.vmamba.VMambaConfig;

/**
 * The device memory of one VMamba forward pass at one input shape, worked out on the host before anything
 * runs (no device needed; {@code ModelPlanTest} checks it): the geometry of every dense convolution, two
 * activation buffers that the stages ping-pong between, and the scratch that is busy at one time: a block's
 * intermediates, or the stem's hidden map and im2col columns, or a downsampling's columns (they never overlap
 * in time, so they share one arena). The model primes its arenas with these sizes, so the first call of a
 * shape allocates each arena once and later calls of it allocate nothing.
 *
 * <p>The im2col buffer is at most one activation buffer (or one image's columns when a single image needs
 * more): a convolution whose columns for the whole batch would not fit runs over chunks of images, each an
 * im2col pass and a strided-batched GEMM. That keeps the stem's 3x3 convolution (432 rows per output pixel
 * at VMamba-T) from needing 4.5 stage-0 maps of columns at batch 128.
 *
 * @param batch        images
 * @param height       input height
 * @param width        input width
 * @param grids        {@code [stage][H, W]} of the four stage maps
 * @param convs        the dense convolutions in running order: the stem's, then each downsampling's
 * @param actFloats    floats of each of the two activation buffers (the largest stage map, or PatchMerging2D's
 *                     gather)
 * @param stemFloats   floats of the v2 stem's hidden map (0 for v1), in the scratch
 * @param colsFloats   floats of the im2col buffer, in the scratch
 * @param pooledFloats floats of the head's pooled features ({@code batch x dims[3]}; 0 without classifier)
 * @param blockBytes   the largest workspace of one block (of the fused middle where it runs, {@link FusedScan})
 */
record ModelPlan(int batch, int height, int width, int[][] grids, List<Conv> convs, long actFloats, long stemFloats,
                 long colsFloats, long pooledFloats, long blockBytes) {

    /**
     * One dense convolution {@code (cin, h, w) -> (cout, oh, ow)}, kernel k, stride s, zero padding pad, run
     * {@code chunk} images per im2col + GEMM pass.
     */
    record Conv(String name, int cin, int h, int w, int k, int s, int pad, int oh, int ow, int cout, int chunk) {
        /** im2col rows: {@code cin * k * k}. */
        long rows() {
            return (long) cin * k * k;
        }

        long outLen() {
            return (long) oh * ow;
        }

        /** Floats of one image's columns. */
        long colsPerImage() {
            return rows() * outLen();
        }
    }

    /** {@link #of(VMambaConfig, int, int, int, boolean)} with every block's middle unfused. */
    static ModelPlan of(VMambaConfig c, int batch, int h, int w) {
        return of(c, batch, h, w, false);
    }

    /**
     * The plan of a model; {@code fusedScan}: its blocks run their middle fused where {@link FusedScan#fits} (a
     * float32 model with the fused scan on), whose scratch is a fraction of the unfused one's (no per-route maps).
     */
    static ModelPlan of(VMambaConfig c, int batch, int h, int w, boolean fusedScan) {
        int[][] g = c.grids(h, w);
        List<Conv> convs = new ArrayList<>();
        long act = 0, stem = 0;
        if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
            int p = c.patchSize();
            convs.add(new Conv("patch_embed.0", c.inChans(), h, w, p, p, 0, g[0][0], g[0][1], c.dim(0), 0));
        } else {
            int s = c.patchSize() / 2, k = s + 1;
            int h1 = (h + 2 - k) / s + 1, w1 = (w + 2 - k) / s + 1;
            convs.add(new Conv("patch_embed.0", c.inChans(), h, w, k, s, 1, h1, w1, c.stemHidden(), 0));
            convs.add(new Conv("patch_embed.5", c.stemHidden(), h1, w1, k, s, 1, g[0][0], g[0][1], c.dim(0), 0));
            stem = Math.multiplyExact((long) c.stemHidden() * h1 * w1, batch);
        }
        long blockBytes = 0;
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            long len = (long) g[i][0] * g[i][1];
            act = Math.max(act, c.dim(i) * len);
            boolean z = c.forwardType() == VMambaConfig.ForwardType.V0;
            blockBytes = Math.max(blockBytes, fusedScan && FusedScan.fits(c.ss2d(i), z, g[i][0], g[i][1])
                    ? Ss2dBlock.residualBytes(c.ss2d(i), c.mlpHidden(i), batch, len,
                            Ss2dBlock.fusedSs2dBytes(c.ss2d(i), batch, len))
                    : Ss2dBlock.residualBytes(c.ss2d(i), z, c.mlpHidden(i), batch, len));
            if (i + 1 == VMambaConfig.STAGES) break;
            int oh = g[i + 1][0], ow = g[i + 1][1];
            switch (c.downsample()) {
                case V1 -> act = Math.max(act, 4L * c.dim(i) * oh * ow); // the 2x2 gather before its Linear
                case V2 -> convs.add(new Conv("layers." + i + ".downsample.1", c.dim(i), g[i][0], g[i][1], 2, 2, 0, oh,
                        ow, c.dim(i + 1), 0));
                case V3 -> convs.add(new Conv("layers." + i + ".downsample.1", c.dim(i), g[i][0], g[i][1], 3, 2, 1, oh,
                        ow, c.dim(i + 1), 0));
            }
        }
        act = Math.multiplyExact(act, batch);
        long perImage = 0;
        for (Conv cv : convs) perImage = Math.max(perImage, cv.colsPerImage());
        long cols = Math.max(perImage, Math.min(Math.multiplyExact(perImage, batch), act));
        List<Conv> chunked = new ArrayList<>();
        for (Conv cv : convs) {
            int chunk = (int) Math.min(batch, cols / cv.colsPerImage());
            chunked.add(new Conv(cv.name(), cv.cin(), cv.h(), cv.w(), cv.k(), cv.s(), cv.pad(), cv.oh(), cv.ow(),
                    cv.cout(), chunk));
        }
        long pooled = c.hasClassifier() ? (long) batch * c.dim(3) : 0;
        return new ModelPlan(batch, h, w, g, List.copyOf(chunked), act, stem, cols, pooled, blockBytes);
    }

    /** The convolution of a parameter prefix ({@code patch_embed.0}, {@code layers.1.downsample.1}). */
    Conv conv(String name) {
        for (Conv cv : convs) if (cv.name().equals(name)) return cv;
        throw new IllegalStateException("no convolution " + name + " in the plan");
    }

    /**
     * Bytes the per-call workspace takes from its arena, in the order the model asks: the host staging
     * ({@code stagingBytes}: the input and outputs given as host tensors, each a {@link #piece}), the two activation
     * buffers and the pooled features.
     */
    long callBytes(long stagingBytes) {
        long bytes = stagingBytes + 2 * piece(actFloats);
        if (pooledFloats > 0) bytes += piece(pooledFloats);
        return bytes;
    }

    /** Bytes of the scratch arena: a block's workspace, or the stem's hidden map and the columns. */
    long scratchBytes() {
        return Math.max(blockBytes, (stemFloats > 0 ? piece(stemFloats) : 0) + piece(colsFloats));
    }

    /** An arena piece of {@code floats} float32s: bytes rounded up to the arena's alignment. */
    static long piece(long floats) {
        return ScratchArena.aligned(Math.multiplyExact(floats, 4L));
    }

    /** Whether this plan was made for {@code batch} images of {@code h x w}. */
    boolean fits(int b, int h, int w) {
        return b == batch && h == height && w == width;
    }
}
