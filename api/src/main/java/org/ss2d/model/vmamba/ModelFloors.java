package org.ss2d.model.vmamba;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ss2d.model.SS2DConfig;
import org.ss2d.ops.GemmShape;
import org.ss2d.tensor.DType;

/**
 * The least a VMamba forward pass could take per layer kind of the device profile ({@code patch_embed},
 * {@code norm_in}, ..., {@code classifier}): each step's bytes moved and FLOPs, from the configuration, the batch,
 * the input size and the activation dtype alone, so a measured profile can be judged against it.
 *
 * <p>It lives beside {@link VMambaConfig}, not in a backend, because it is arithmetic on the configuration and the
 * benchmarks reach backends only through the SPI; the kinds and what crosses between them are those of the CUDA
 * backend's step marks (the finest profile the engine has), with float32 or 16-bit maps as docs/models.md says.
 *
 * <p>What a step instance is counted as moving (a = the activation dtype's bytes, 4 or 2; w = a GEMM weight's bytes,
 * 4, or 2 for a 16-bit model; f = 4; B images; d, L = H*W, di = d_inner, n = d_state, r = dt_rank,
 * R = r + 2n, hid = the MLP's hidden width of the stage; each map read once and written once, weights once per call,
 * im2col columns and float32 GEMM results that an epilogue rounds not counted):
 * <ul>
 * <li>patch_embed v2: reads the image (3HW a), writes the hidden map (d/2 * H/2*W/2 a: the LayerNorm between the two
 *     convolutions needs all its channels) and reads it back, writes the stage map (d L0 a); kernels (w), biases and
 *     LayerNorms (f). v1: reads the image, writes the map.</li>
 * <li>norm_in, norm2: read d L a, write d L a, plus 2d f.</li>
 * <li>in_proj: reads d L a, writes di L a (v0: also z, 2 di L a), weight di d w (v0: 2 di d w).</li>
 * <li>conv_silu: reads di L a, writes di L a, kernel di k^2 f (+ di f with a bias); 2 k^2 di L FLOPs.</li>
 * <li>cross_scan: reads di L a, writes 4 di L a.</li>
 * <li>x_dt_proj: reads the 4 routes (4 di L a), writes x_dbl (4 R L a), reads its dt rows back (4 r L a: dt_proj is
 *     a second GEMM), writes delta (4 di L a); weights 4 R di w + 4 di r w.</li>
 * <li>scan: reads u and delta (2 * 4 di L a) and B, C (4 * 2n L a), writes y in float32 (4 di L f, VMamba's
 *     out_float32); A, D, delta_bias (4 di (n + 2) f).</li>
 * <li>cross_merge: reads 4 di L f, writes di L f.</li>
 * <li>norm_out: reads di L f, writes di L a (v0: also reads z, di L a), plus 2 di f.</li>
 * <li>out_proj: reads di L a, writes d L a, weight d di w; a 16-bit model adds the residual there (reads d L a).</li>
 * <li>residual (float32 models only; 16-bit ones fold it into out_proj and mlp): reads 2 d L f, writes d L f; twice a
 *     block with an MLP, once without.</li>
 * <li>mlp: reads d L a, writes and reads the hidden map (2 hid L a), writes d L a; fc1 and fc2 (2 hid d w) and their
 *     biases (f); a 16-bit model also reads x1 for the residual (d L a).</li>
 * <li>downsample v2/v3: reads d L a, writes 2d L' a, kernel 2d * 4d or 9d w, bias and LayerNorm f. v1: reads d L a,
 *     writes and reads the gathered, normalised map (2 * 4d L' a: the Linear's operand), writes 2d L' a.</li>
 * <li>classifier: reads the last map (d L a), writes the logits (classes a); head weight and bias, LayerNorm (f).</li>
 * </ul>
 * FLOPs are 2 M N K of every GEMM and convolution, elementwise work none. A step's floor is
 * {@code max(bytes / copy bandwidth, FLOPs / GEMM rate)}; a kind's floor sums those of its instances (one per stage,
 * times the blocks of the stage).
 *
 * @param steps the step instances in running order, grouped by stage
 */
public record ModelFloors(List<Step> steps) {

    /** The profile's layer kinds, in the order a forward pass first runs them. */
    public static final List<String> KINDS = List.of("patch_embed", "norm_in", "in_proj", "conv_silu", "cross_scan",
            "x_dt_proj", "scan", "cross_merge", "norm_out", "out_proj", "residual", "norm2", "mlp", "downsample",
            "classifier");

    /**
     * One step of one stage ({@code -1} for the stem and the classifier), run {@code count} times a call.
     *
     * @param bytes bytes one instance moves for the whole batch
     * @param flops FLOPs of one instance for the whole batch
     * @param gemms the GEMMs of one instance (empty for elementwise steps)
     */
    public record Step(String kind, int stage, int count, long bytes, long flops, List<GemmShape> gemms) {
        /** Milliseconds of one instance at the given rates. */
        public double floorMs(double copyGBps, double gemmTflops) {
            return Math.max(bytesMs(copyGBps), flopsMs(gemmTflops));
        }

        double bytesMs(double copyGBps) {
            return bytes / (copyGBps * 1e6);
        }

        double flopsMs(double gemmTflops) {
            return flops == 0 ? 0 : flops / (gemmTflops * 1e9);
        }
    }

    /**
     * The steps of {@code c} at {@code batch} images of {@code h x w} with activations of {@code dtype} ({@code F32},
     * {@code BF16}, {@code F16}), the middle of every block unfused.
     */
    public static ModelFloors of(VMambaConfig c, int batch, int h, int w, DType dtype) {
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        final long b = batch, a = dtype.byteSize(), wb = dtype.byteSize(), f = 4;
        final boolean half = dtype.isHalf();
        int[][] g = c.grids(h, w);
        if (g[VMambaConfig.STAGES - 1][0] < 1 || g[VMambaConfig.STAGES - 1][1] < 1) {
            throw new IllegalArgumentException(h + "x" + w + " is too small for four stages");
        }
        List<Step> out = new ArrayList<>();
        // the stem
        int d0 = c.dim(0);
        long l0 = (long) g[0][0] * g[0][1];
        if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
            int p = c.patchSize();
            GemmShape conv = new GemmShape(d0, (int) l0, c.inChans() * p * p, batch);
            long bytes = b * ((long) c.inChans() * h * w * a + d0 * l0 * a) + (long) d0 * c.inChans() * p * p * wb
                    + 3L * d0 * f;
            out.add(step("patch_embed", -1, 1, bytes, List.of(conv)));
        } else {
            int s = c.patchSize() / 2, k = s + 1, sh = c.stemHidden();
            long h1 = (h + 2L - k) / s + 1, w1 = (w + 2L - k) / s + 1;
            GemmShape c0 = new GemmShape(sh, (int) (h1 * w1), c.inChans() * k * k, batch);
            GemmShape c5 = new GemmShape(d0, (int) l0, sh * k * k, batch);
            long bytes = b * ((long) c.inChans() * h * w * a + 2 * sh * h1 * w1 * a + d0 * l0 * a)
                    + ((long) sh * c.inChans() * k * k + (long) d0 * sh * k * k) * wb + 3L * (sh + d0) * f;
            out.add(step("patch_embed", -1, 1, bytes, List.of(c0, c5)));
        }
        boolean v0 = c.forwardType() == VMambaConfig.ForwardType.V0;
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            SS2DConfig s = c.ss2d(i);
            int d = c.dim(i), di = s.dInner(), n = s.dState(), r = s.dtRank(), rows = s.xProjRows(), k = s.dConv();
            int len = g[i][0] * g[i][1];
            long L = len, blocks = c.depth(i), hid = c.hasMlp() ? c.mlpHidden(i) : 0;
            int nb = (int) blocks;
            long map = d * L, plane = di * L;
            out.add(step("norm_in", i, nb, b * 2 * map * a + 2L * d * f, List.of()));
            int zs = v0 ? 2 : 1;
            List<GemmShape> inProj = new ArrayList<>();
            for (int z = 0; z < zs; z++) inProj.add(new GemmShape(di, len, d, batch));
            out.add(step("in_proj", i, nb, b * (map + zs * plane) * a + (long) zs * di * d * wb, inProj));
            long convW = (long) di * k * k * f + (s.convBias() ? di * f : 0);
            out.add(new Step("conv_silu", i, nb, b * 2 * plane * a + convW, 2L * k * k * plane * b, List.of()));
            out.add(step("cross_scan", i, nb, b * 5 * plane * a, List.of()));
            List<GemmShape> xdt = new ArrayList<>();
            for (int route = 0; route < SS2DConfig.ROUTES; route++) {
                xdt.add(new GemmShape(rows, len, di, batch));
                xdt.add(new GemmShape(di, len, r, batch));
            }
            out.add(step("x_dt_proj", i, nb, b * 4 * (plane + rows * L + r * L + plane) * a
                    + 4L * ((long) rows * di + (long) di * r) * wb, xdt));
            out.add(step("scan", i, nb, b * 4 * (2 * plane * a + 2L * n * L * a + plane * f)
                    + 4L * di * (n + 2) * f, List.of()));
            out.add(step("cross_merge", i, nb, b * 5 * plane * f, List.of()));
            out.add(step("norm_out", i, nb, b * (plane * f + plane * a + (v0 ? plane * a : 0)) + 2L * di * f, List.of()));
            out.add(step("out_proj", i, nb, b * (plane + map + (half ? map : 0)) * a + (long) d * di * wb,
                    List.of(new GemmShape(d, len, di, batch))));
            if (!half) out.add(step("residual", i, nb * (hid > 0 ? 2 : 1), b * 3 * map * f, List.of()));
            if (hid > 0) {
                out.add(step("norm2", i, nb, b * 2 * map * a + 2L * d * f, List.of()));
                out.add(step("mlp", i, nb, b * (2 * map + 2 * hid * L + (half ? map : 0)) * a + 2 * hid * d * wb
                        + (hid + d) * f, List.of(new GemmShape((int) hid, len, d, batch),
                        new GemmShape(d, len, (int) hid, batch))));
            }
            if (i + 1 < VMambaConfig.STAGES) {
                int d2 = c.dim(i + 1);
                long l2 = (long) g[i + 1][0] * g[i + 1][1];
                long bytes;
                int kk;
                if (c.downsample() == VMambaConfig.Downsample.V1) {
                    kk = 4 * d;
                    bytes = b * (map + 2L * kk * l2 + d2 * l2) * a + (long) d2 * kk * wb + 2L * kk * f;
                } else {
                    kk = (c.downsample() == VMambaConfig.Downsample.V2 ? 4 : 9) * d;
                    bytes = b * (map + d2 * l2) * a + (long) d2 * kk * wb + 3L * d2 * f;
                }
                out.add(step("downsample", i, 1, bytes, List.of(new GemmShape(d2, (int) l2, kk, batch))));
            }
        }
        if (c.hasClassifier()) {
            int d3 = c.dim(3), classes = c.numClasses();
            long l3 = (long) g[3][0] * g[3][1];
            out.add(step("classifier", -1, 1, b * (d3 * l3 + classes) * a + ((long) classes * d3 + classes + 2L * d3) * f,
                    List.of(new GemmShape(classes, batch, d3, 1))));
        }
        return new ModelFloors(List.copyOf(out));
    }

    private static Step step(String kind, int stage, int count, long bytes, List<GemmShape> gemms) {
        long flops = 0;
        for (GemmShape x : gemms) flops += x.flops();
        return new Step(kind, stage, count, bytes, flops, List.copyOf(gemms));
    }

    /** Bytes a call moves per kind (instances summed), in {@link #KINDS} order. */
    public Map<String, Long> bytes() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Step s : steps) m.merge(s.kind(), s.count() * s.bytes(), Long::sum);
        return m;
    }

    /** FLOPs of a call per kind (instances summed). */
    public Map<String, Long> flops() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Step s : steps) m.merge(s.kind(), s.count() * s.flops(), Long::sum);
        return m;
    }

    /** Milliseconds per call per kind: the instances' floors summed. */
    public Map<String, Double> floorMs(double copyGBps, double gemmTflops) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (Step s : steps) m.merge(s.kind(), s.count() * s.floorMs(copyGBps, gemmTflops), Double::sum);
        return m;
    }

    /**
     * Per kind, {@code bytes} when its instances' time at copy bandwidth adds up to at least their time at the GEMM
     * rate, else {@code flops}.
     */
    public Map<String, String> bound(double copyGBps, double gemmTflops) {
        Map<String, Double> byBytes = new LinkedHashMap<>(), byFlops = new LinkedHashMap<>();
        for (Step s : steps) {
            byBytes.merge(s.kind(), s.count() * s.bytesMs(copyGBps), Double::sum);
            byFlops.merge(s.kind(), s.count() * s.flopsMs(gemmTflops), Double::sum);
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (var e : byBytes.entrySet()) m.put(e.getKey(), e.getValue() >= byFlops.get(e.getKey()) ? "bytes" : "flops");
        return m;
    }

    /** Every GEMM of a call with how many times it runs (for {@code Backend.measureRates}). */
    public Map<GemmShape, Integer> gemms() {
        Map<GemmShape, Integer> m = new LinkedHashMap<>();
        for (Step s : steps) for (GemmShape x : s.gemms()) m.merge(x, s.count(), Integer::sum);
        return m;
    }
}
