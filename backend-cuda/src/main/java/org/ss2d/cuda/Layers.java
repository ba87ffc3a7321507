package org.ss2d.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.ss2d.bindings.Cublas;

/** Launchers for the layer kernels of {@code layers.cuh} / {@code cross_scan.cuh} and the cuBLAS projections. */
final class Layers {
    static final int ACT_NONE = 0, ACT_SILU = 1, ACT_GELU = 2;
    private static final int TILE = 32;

    private Layers() {}

    /** Grid for the grid-stride kernels: enough blocks to fill the device, no more. */
    private static long gridFor(CudaDevice dev, long work) {
        return Math.max(1, Math.min((work + 255) / 256, (long) dev.smCount * 16));
    }

    static void crossScan(CudaDevice dev, long x, long xs, long b, long c, long h, long w) {
        long tiles = ((h + TILE - 1) / TILE) * ((w + TILE - 1) / TILE);
        try (Launch l = new Launch(6)) {
            l.arg(x).arg(xs).arg(b).arg(c).arg(h).arg(w).run(dev, "ss2d_cross_scan", b * c * tiles, 32, 8, 0);
        }
    }

    static void crossMerge(CudaDevice dev, long ys, long y, long b, long c, long h, long w) {
        long tiles = ((h + TILE - 1) / TILE) * ((w + TILE - 1) / TILE);
        try (Launch l = new Launch(6)) {
            l.arg(ys).arg(y).arg(b).arg(c).arg(h).arg(w).run(dev, "ss2d_cross_merge", b * c * tiles, 32, 8, 0);
        }
    }

    static void dwconv(CudaDevice dev, long x, long weight, long bias, long out, long b, long c, long h, long w,
                       long k, int act) {
        try (Launch l = new Launch(10)) {
            l.arg(x).arg(weight).arg(bias).arg(out).arg(b).arg(c).arg(h).arg(w).arg(k).arg((long) act)
                    .run(dev, "ss2d_dwconv2d", gridFor(dev, b * c * h * w), 256, 1, 0);
        }
    }

    static void layerNorm(CudaDevice dev, long x, long gamma, long beta, long out, long b, long c, long len) {
        try (Launch l = new Launch(8)) {
            l.arg(x).arg(gamma).arg(beta).arg(out).arg(b).arg(c).arg(len).arg(1e-5f)
                    .run(dev, "ss2d_layernorm_cf", gridFor(dev, b * len), 256, 1, 0);
        }
    }

    static void biasAct(CudaDevice dev, long x, long bias, long out, long b, long c, long len, int act) {
        try (Launch l = new Launch(7)) {
            l.arg(x).arg(bias).arg(out).arg(b).arg(c).arg(len).arg((long) act)
                    .run(dev, "ss2d_bias_act_cf", gridFor(dev, b * c * len), 256, 1, 0);
        }
    }

    static void add(CudaDevice dev, long a, long bb, long out, long n) {
        try (Launch l = new Launch(4)) {
            l.arg(a).arg(bb).arg(out).arg(n).run(dev, "ss2d_add", gridFor(dev, n), 256, 1, 0);
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
    static void linear(CudaDevice dev, long weight, int cout, int cin, long x, long xBatchStride, int xLd,
                       long out, long outBatchStride, int outLd, int len, int batch) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment scalars = Cublas.scalars(a, 1f, 0f);
            Cublas.sgemmStridedBatched(dev.cublas(), Cublas.opN(), Cublas.opN(), len, cout, cin, scalars,
                    x, xLd, xBatchStride, weight, cin, 0L, out, outLd, outBatchStride, batch);
        }
    }
}
