package org.ss2d.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.ss2d.bindings.Cublas;

/** Launchers for the layer kernels of {@code layers.cuh} / {@code cross_scan.cuh} and the cuBLAS projections. */
final class Layers {
    static final int ACT_NONE = 0, ACT_SILU = 1, ACT_GELU = 2;
    private static final int TILE = 32;

    private Layers() {}

    /** Grid for the kernels that take one output line per block (grid-stride over lines). */
    private static long lines(CudaDevice dev, long lines) {
        return Math.max(1, Math.min(lines, (long) dev.smCount * 64));
    }

    /** Grid for the grid-stride kernels: enough blocks to fill the device, no more. */
    private static long gridFor(CudaDevice dev, long work) {
        return Math.max(1, Math.min((work + 255) / 256, (long) dev.smCount * 16));
    }

    static void crossScan(CudaDevice dev, long x, long xs, long b, long c, long h, long w) {
        if (planesFit(h, w)) {
            crossScanPlanes(dev, "ss2d_cross_scan_planes", x, xs, b, c, h, w);
            return;
        }
        long tiles = ((h + TILE - 1) / TILE) * ((w + TILE - 1) / TILE);
        try (Launch l = new Launch(6)) {
            l.arg(x).arg(xs).arg(b).arg(c).arg(h).arg(w).run(dev, "ss2d_cross_scan", b * c * tiles, 32, 8, 0);
        }
    }

    /**
     * {@code -Dss2d.cuda.crossScan=planes|tiled}: {@code planes} (the default) runs planes of at most
     * {@link #PLANES_MAX_LEN} pixels through the small-plane kernel (several whole planes a block, cross_scan.cuh) and
     * larger ones tiled; {@code tiled} forces the 32x32 tiles everywhere. On the H100 (2026-12-06) planes beat tiles on
     * every small plane measured, most where a plane is a fraction of a tile (7x7: 0.015-0.023 ms vs 0.074-0.087).
     */
    static final String CROSS_SCAN_PROPERTY = "ss2d.cuda.crossScan";
    /** cross_scan.cuh's SS2D_PLANES_ELEMS and SS2D_PLANES_MAX: values and planes one block holds. */
    static final long PLANES_ELEMS = 4096, PLANES_MAX = 256, PLANES_MAX_LEN = 1024;

    /** The configured CrossScan: {@code planes} (default) or {@code tiled}; anything else names the property. */
    static String crossScanVariant() {
        return CudaSettings.choice(CROSS_SCAN_PROPERTY, "planes", "tiled", "planes");
    }

    /** True when the small-plane kernel is configured (the default) and an h x w plane fits it. */
    static boolean planesFit(long h, long w) {
        return crossScanVariant().equals("planes") && planesFitLen(h * w);
    }

    static boolean planesFitLen(long len) {
        return len <= PLANES_MAX_LEN;
    }

    /** Planes a block of the small-plane kernel takes: as many as fit its shared memory, at most PLANES_MAX. */
    static long planesPerBlock(long len) {
        return Math.min(PLANES_MAX, PLANES_ELEMS / len);
    }

    private static void crossScanPlanes(CudaDevice dev, String kernel, long x, long xs, long b, long c, long h, long w) {
        long per = planesPerBlock(h * w);
        try (Launch l = new Launch(7)) {
            l.arg(x).arg(xs).arg(b).arg(c).arg(h).arg(w).arg(per).run(dev, kernel, (b * c + per - 1) / per, 256, 1, 0);
        }
    }

    static void crossMerge(CudaDevice dev, long ys, long y, long b, long c, long h, long w) {
        long tiles = ((h + TILE - 1) / TILE) * ((w + TILE - 1) / TILE);
        try (Launch l = new Launch(6)) {
            l.arg(ys).arg(y).arg(b).arg(c).arg(h).arg(w).run(dev, "ss2d_cross_merge", b * c * tiles, 32, 8, 0);
        }
    }

    /** The x_dbl rows of routes 1 and 3 transposed for the fused scan: (b, 4, rows, h, w) to (b, 2, rows, w, h). */
    static void fusedTranspose(CudaDevice dev, long xdbl, long xdblT, long b, long rows, long h, long w) {
        long tiles = ((h + TILE - 1) / TILE) * ((w + TILE - 1) / TILE);
        try (Launch l = new Launch(6)) {
            l.arg(xdbl).arg(xdblT).arg(b).arg(rows).arg(h).arg(w)
                    .run(dev, "ss2d_fused_transpose", b * 2 * rows * tiles, 32, 8, 0);
        }
    }

    /**
     * The fused CrossScan + dt_proj + d_state-1 scan + CrossMerge ({@link FusedScan}): {@code u} (b, d, h, w),
     * {@code xdbl} (b, 4, r + 2, h*w), {@code xdblT} its routes 1 and 3 transposed, {@code wdt} (4, d, r), dtBias, A
     * ({@code -exp(A_logs)}) and Ds (4 d), {@code out} (b, d, h, w).
     */
    static void fusedScan(CudaDevice dev, FusedScan.Plan plan, long u, long xdbl, long xdblT, long wdt, long dtBias,
                          long a, long ds, long out, long b, long d, long h, long w, long r) {
        long planes = b * d;
        try (Launch l = new Launch(13)) {
            l.arg(u).arg(xdbl).arg(xdblT).arg(wdt).arg(dtBias).arg(a).arg(ds).arg(out).arg(b).arg(d).arg(h).arg(w).arg(r)
                    .run(dev, plan.kernel(), (planes + plan.warps() - 1) / plan.warps(), 32 * plan.warps(), 1,
                            plan.sharedBytes());
        }
    }

    /** Shared-memory floats of {@code ss2d_dwconv2d_rows} (SS2D_DW_SMEM) and its largest kernel (SS2D_DW_MAXK). */
    static final long DW_SMEM = 8192, DW_MAXK = 9;

    /**
     * Output rows per block of {@code ss2d_dwconv2d_rows} for a {@code h x w} plane, or 0 when its shared memory
     * cannot hold {@code k} input rows (or k is above its limit) and the plain kernel runs instead.
     */
    static long dwconvBand(long h, long w, long k) {
        if (k > DW_MAXK || k * w > DW_SMEM) return 0;
        return Math.min(h, DW_SMEM / w - (k - 1));
    }

    /** Depthwise convolution + activation, float32, with the configured kernel ({@link DwconvPlan}). */
    static void dwconv(CudaDevice dev, long x, long weight, long bias, long out, long b, long c, long h, long w,
                       long k, int act) {
        dwconv(dev, DwconvPlan.of(DwconvPlan.configured(), 0, x, out, b, c, h, w, k, DwconvPlan.defaultCap(dev.smCount)),
                x, weight, bias, out, b, c, h, w, k, act);
    }

    /** Runs {@code plan} (of any element type: the plan names the entry point). */
    static void dwconv(CudaDevice dev, DwconvPlan plan, long x, long weight, long bias, long out, long b, long c,
                       long h, long w, long k, int act) {
        try (Launch l = new Launch(11)) {
            l.arg(x).arg(weight).arg(bias).arg(out);
            switch (plan.form()) {
                case V2 -> l.arg(b * c).arg(c).arg(h).arg(w).arg((long) act);
                case ROWS -> l.arg(b).arg(c).arg(h).arg(w).arg(k).arg(plan.band()).arg((long) act);
                case PLAIN -> l.arg(b).arg(c).arg(h).arg(w).arg(k).arg((long) act);
            }
            l.run(dev, plan.kernel(), plan.grid(), 256, 1, 0);
        }
    }

    /**
     * LayerNorm2d of the blocks: {@link #layerNormEx} without pre-bias or activation (the block-per-32-pixels
     * kernel; the thread-per-pixel {@code ss2d_layernorm_cf} ran 768 channels serially per thread at stage 4).
     */
    static void layerNorm(CudaDevice dev, long x, long gamma, long beta, long out, long b, long c, long len) {
        layerNormEx(dev, x, 0, gamma, beta, out, b, c, len, ACT_NONE);
    }

    static void biasAct(CudaDevice dev, long x, long bias, long out, long b, long c, long len, int act) {
        try (Launch l = new Launch(7)) {
            l.arg(x).arg(bias).arg(out).arg(b).arg(c).arg(len).arg((long) act)
                    .run(dev, "ss2d_bias_act_cf", gridFor(dev, b * c * len), 256, 1, 0);
        }
    }

    /** {@code n} elements of a 16-bit type ({@code kind} 1 float16, 2 bfloat16) at {@code src} widened to float32 at {@code dst}. */
    static void halfToFloat(CudaDevice dev, long src, long dst, long n, long kind) {
        try (Launch l = new Launch(4)) {
            l.arg(src).arg(dst).arg(n).arg(kind).run(dev, "ss2d_half_to_float", gridFor(dev, n), 256, 1, 0);
        }
    }

    /** {@code n} float32 elements rounded to nearest even into the 16-bit type {@code kind}. */
    static void floatToHalf(CudaDevice dev, long src, long dst, long n, long kind) {
        try (Launch l = new Launch(4)) {
            l.arg(src).arg(dst).arg(n).arg(kind).run(dev, "ss2d_float_to_half", gridFor(dev, n), 256, 1, 0);
        }
    }

    static void add(CudaDevice dev, long a, long bb, long out, long n) {
        try (Launch l = new Launch(4)) {
            l.arg(a).arg(bb).arg(out).arg(n).run(dev, "ss2d_add", gridFor(dev, n), 256, 1, 0);
        }
    }

    /** {@code y *= SiLU(z)} over {@code n} floats (the z gate of a v0 block). */
    static void mulSilu(CudaDevice dev, long y, long z, long n) {
        try (Launch l = new Launch(3)) {
            l.arg(y).arg(z).arg(n).run(dev, "ss2d_mul_silu", gridFor(dev, n), 256, 1, 0);
        }
    }

    /** torch's conv2d input as columns: {@code x (b, c, h, w)} to {@code cols (b, c*k*k, oh*ow)}. */
    static void im2col(CudaDevice dev, long x, long cols, long b, long c, long h, long w, long k, long s, long pad,
                       long oh, long ow) {
        try (Launch l = new Launch(11)) {
            l.arg(x).arg(cols).arg(b).arg(c).arg(h).arg(w).arg(k).arg(s).arg(pad).arg(oh).arg(ow)
                    .run(dev, "ss2d_im2col", lines(dev, b * c * k * k), 256, 1, 0);
        }
    }

    /** PatchMerging2D's gather, {@code x (b, c, h, w)} to {@code out (b, 4c, oh, ow)}. */
    static void patchMerge(CudaDevice dev, long x, long out, long b, long c, long h, long w, long oh, long ow) {
        try (Launch l = new Launch(8)) {
            l.arg(x).arg(out).arg(b).arg(c).arg(h).arg(w).arg(oh).arg(ow)
                    .run(dev, "ss2d_patch_merge", lines(dev, b * 4 * c), 256, 1, 0);
        }
    }

    /**
     * {@code out = act(LayerNorm_c(x + preBias))} per pixel of {@code (b, c, len)}; preBias (a preceding
     * convolution's bias), gamma, beta may be 0; in place allowed. 32 pixels x 8 channel slices per block.
     */
    static void layerNormEx(CudaDevice dev, long x, long preBias, long gamma, long beta, long out, long b, long c,
                            long len, int act) {
        long blocks = b * ((len + 31) / 32);
        try (Launch l = new Launch(10)) {
            l.arg(x).arg(preBias).arg(gamma).arg(beta).arg(out).arg(b).arg(c).arg(len).arg(1e-5f).arg((long) act)
                    .run(dev, "ss2d_layernorm_cf_ex", Math.max(1, Math.min(blocks, (long) dev.smCount * 32)), 32, 8, 0);
        }
    }

    /** {@code out[r] = mean(x[r*len .. (r+1)*len))} for {@code rows} rows: one warp per row. */
    static void avgPool(CudaDevice dev, long x, long out, long rows, long len) {
        try (Launch l = new Launch(4)) {
            l.arg(x).arg(out).arg(rows).arg(len).run(dev, "ss2d_avg_pool", gridFor(dev, rows * 32), 256, 1, 0);
        }
    }

    static void noop(CudaDevice dev) {
        try (Launch l = new Launch(1)) {
            l.arg(0L).run(dev, "ss2d_noop", 1, 32, 1, 0);
        }
    }

    /**
     * Channels-first 1x1 projection, batched: {@code out[b] (cout x len) = W (cout x cin) . x[b] (cin x len)},
     * all row-major. cuBLAS is column-major, so this is {@code out^T = x^T . W^T} with the row-major
     * buffers read as their transposes: m = len, n = cout, k = cin.
     * {@code xBatchStride}/{@code outBatchStride} in elements let a route's slice of a bigger buffer be used.
     */
    /**
     * A Linear layer on row vectors: {@code out (rows x cout) = x (rows x cin) . W^T}, {@code W (cout x cin)}, all
     * row-major (the classifier's head on pooled features). Column-major this is {@code out^T = W . x^T}: cuBLAS
     * reads W's buffer as {@code W^T} and transposes it back (m = cout, n = rows, k = cin).
     */
    static void rowLinear(CudaDevice dev, long weight, int cout, int cin, long x, int rows, long out) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment scalars = Cublas.scalars(a, 1f, 0f);
            Cublas.sgemm(dev.cublas(), Cublas.opT(), Cublas.opN(), cout, rows, cin, scalars, weight, cin, x, cin, out,
                    cout);
        }
    }

    static void linear(CudaDevice dev, long weight, int cout, int cin, long x, long xBatchStride, int xLd,
                       long out, long outBatchStride, int outLd, int len, int batch) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment scalars = Cublas.scalars(a, 1f, 0f);
            Cublas.sgemmStridedBatched(dev.cublas(), Cublas.opN(), Cublas.opN(), len, cout, cin, scalars,
                    x, xLd, xBatchStride, weight, cin, 0L, out, outLd, outBatchStride, batch);
        }
    }

    // ------------------------------------------------------------------ 16-bit activations (half_layers.cuh)

    /** The entry-point suffix of a 16-bit activation type: {@code kind} 1 float16, 2 bfloat16 (as halfToFloat). */
    static String suffix(long kind) {
        return kind == 1 ? "_f16" : "_bf16";
    }

    /** The {@code cudaDataType} of a 16-bit activation type. */
    static int cudaType(long kind) {
        return kind == 1 ? Cublas.R_16F : Cublas.R_16BF;
    }

    /** Depthwise convolution + activation, 16-bit in and out, float32 weights (rounded where the model converts them). */
    static void dwconvHalf(CudaDevice dev, long kind, long x, long weight, long bias, long out, long b, long c, long h,
                           long w, long k, int act) {
        dwconv(dev, DwconvPlan.of(DwconvPlan.configured(), kind, x, out, b, c, h, w, k, DwconvPlan.defaultCap(dev.smCount)),
                x, weight, bias, out, b, c, h, w, k, act);
    }

    /** {@code -Dss2d.cuda.crossScanHalf=tiled|gather}: the 16-bit CrossScan kernel (read per call, so one JVM can compare). */
    static final String CROSS_SCAN_HALF_PROPERTY = "ss2d.cuda.crossScanHalf";

    /** The configured 16-bit CrossScan: {@code tiled} (default) or {@code gather}; anything else names the property. */
    static String crossScanHalfVariant() {
        return CudaSettings.choice(CROSS_SCAN_HALF_PROPERTY, "tiled", "tiled", "gather");
    }

    /**
     * CrossScan of 16-bit values, exact either way (values are only moved). {@code tiled}: the float32 kernel's 32x32
     * tiles through shared memory, same grid, or on planes of at most {@link #PLANES_MAX_LEN} pixels the small-plane
     * kernel unless {@code -Dss2d.cuda.crossScan=tiled}; {@code gather}: the former kernel, a thread per output
     * element, kept to compare against (it spends eight 64-bit divisions an element).
     */
    static void crossScanHalf(CudaDevice dev, long kind, long x, long xs, long b, long c, long h, long w) {
        boolean gather = crossScanHalfVariant().equals("gather");
        if (!gather && planesFit(h, w)) {
            crossScanPlanes(dev, "ss2d_cross_scan_planes" + suffix(kind), x, xs, b, c, h, w);
            return;
        }
        try (Launch l = new Launch(6)) {
            l.arg(x).arg(xs).arg(b).arg(c).arg(h).arg(w);
            if (gather) {
                l.run(dev, "ss2d_cross_scan_gather" + suffix(kind), gridFor(dev, 4 * b * c * h * w), 256, 1, 0);
            } else {
                long tiles = ((h + TILE - 1) / TILE) * ((w + TILE - 1) / TILE);
                l.run(dev, "ss2d_cross_scan" + suffix(kind), b * c * tiles, 32, 8, 0);
            }
        }
    }

    /** {@link #layerNormEx} with a 16-bit output; the input 16-bit, or float32 when {@code inF32} (out_norm after the merge). */
    static void layerNormHalf(CudaDevice dev, long kind, boolean inF32, long x, long preBias, long gamma, long beta,
                              long out, long b, long c, long len, int act) {
        long blocks = b * ((len + 31) / 32);
        try (Launch l = new Launch(10)) {
            l.arg(x).arg(preBias).arg(gamma).arg(beta).arg(out).arg(b).arg(c).arg(len).arg(1e-5f).arg((long) act)
                    .run(dev, "ss2d_layernorm_cf_ex" + (inF32 ? "_f32" : "") + suffix(kind),
                            Math.max(1, Math.min(blocks, (long) dev.smCount * 32)), 32, 8, 0);
        }
    }

    /** {@code out = act(x + bias[c]) + res}: x float32 (a GEMM's result), res 16-bit or 0, out 16-bit, one rounding. */
    static void biasActRes(CudaDevice dev, long kind, long x, long bias, long res, long out, long b, long c, long len,
                           int act) {
        try (Launch l = new Launch(8)) {
            l.arg(x).arg(bias).arg(res).arg(out).arg(b).arg(c).arg(len).arg((long) act)
                    .run(dev, "ss2d_bias_act_res" + suffix(kind), gridFor(dev, b * c * len), 256, 1, 0);
        }
    }

    static void mulSiluHalf(CudaDevice dev, long kind, long y, long z, long n) {
        try (Launch l = new Launch(3)) {
            l.arg(y).arg(z).arg(n).run(dev, "ss2d_mul_silu" + suffix(kind), gridFor(dev, n), 256, 1, 0);
        }
    }

    static void im2colHalf(CudaDevice dev, long kind, long x, long cols, long b, long c, long h, long w, long k, long s,
                           long pad, long oh, long ow) {
        try (Launch l = new Launch(11)) {
            l.arg(x).arg(cols).arg(b).arg(c).arg(h).arg(w).arg(k).arg(s).arg(pad).arg(oh).arg(ow)
                    .run(dev, "ss2d_im2col" + suffix(kind), lines(dev, b * c * k * k), 256, 1, 0);
        }
    }

    static void patchMergeHalf(CudaDevice dev, long kind, long x, long out, long b, long c, long h, long w, long oh,
                               long ow) {
        try (Launch l = new Launch(8)) {
            l.arg(x).arg(out).arg(b).arg(c).arg(h).arg(w).arg(oh).arg(ow)
                    .run(dev, "ss2d_patch_merge" + suffix(kind), lines(dev, b * 4 * c), 256, 1, 0);
        }
    }

    /** Average pool of 16-bit rows into float32 means. */
    static void avgPoolHalf(CudaDevice dev, long kind, long x, long out, long rows, long len) {
        try (Launch l = new Launch(4)) {
            l.arg(x).arg(out).arg(rows).arg(len).run(dev, "ss2d_avg_pool" + suffix(kind), gridFor(dev, rows * 32), 256, 1, 0);
        }
    }

    /**
     * {@link #linear} with 16-bit weight and input ({@code kind}) and float32 accumulation (cublasGemmStridedBatchedEx,
     * CUBLAS_COMPUTE_32F); out 16-bit, or float32 when {@code outF32} (a bias, activation or residual follows).
     * Strides and leading dimensions in elements.
     */
    static void linearHalf(CudaDevice dev, long kind, long weight, int cout, int cin, long x, long xBatchStride, int xLd,
                           long out, boolean outF32, long outBatchStride, int outLd, int len, int batch) {
        int t = cudaType(kind);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment scalars = Cublas.scalars(a, 1f, 0f);
            Cublas.gemmStridedBatchedEx(dev.cublas(), Cublas.opN(), Cublas.opN(), len, cout, cin, scalars,
                    x, t, xLd, xBatchStride, weight, t, cin, 0L, out, outF32 ? Cublas.r32F() : t, outLd, outBatchStride,
                    batch);
        }
    }
}
