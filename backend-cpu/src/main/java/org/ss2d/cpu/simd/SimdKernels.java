package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.ORDER;
import static org.ss2d.cpu.simd.SimdConstants.REVERSE;
import static org.ss2d.cpu.simd.SimdConstants.VL;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.cpu.kernel.ScanJob;

/**
 * Kernels on {@code jdk.incubator.vector}. Loaded by class name from {@link Kernels#get()} only when the
 * module is present; the constructor refuses (UnsupportedOperationException) when the vectors would be
 * too narrow to pay off.
 */
public final class SimdKernels extends Kernels {
    public SimdKernels() {
        if (VL < 4) {
            throw new UnsupportedOperationException("the preferred float vector has " + VL + " lanes (need >= 4)");
        }
    }

    @Override
    public String name() {
        return "simd-" + SimdConstants.BITS;
    }

    @Override
    public int lanes() {
        return VL;
    }

    @Override
    public void scan(ScanJob job, int rowFrom, int rowTo) {
        if (job.dstate() < BLOCKED_FROM) {
            SimdScan.scan(job, rowFrom, rowTo);
            return;
        }
        // channel-lane blocks wherever VL consecutive rows share a batch and a group; time lanes for the rest
        final int cpg = job.channelsPerGroup(), dim = job.dim();
        SimdScanBlocked.Scratch scratch = null;
        int row = rowFrom, run = rowFrom;
        while (row < rowTo) {
            if (row + VL <= rowTo && (row % dim) % cpg + VL <= cpg) {
                if (run < row) SimdScan.scan(job, run, row);
                if (scratch == null) scratch = new SimdScanBlocked.Scratch(job.dstate());
                SimdScanBlocked.block(job, row, scratch);
                row += VL;
                run = row;
            } else {
                row++;
            }
        }
        if (run < rowTo) SimdScan.scan(job, run, rowTo);
    }

    @Override
    public int scanRowAlign(ScanJob job) {
        return job.dstate() >= BLOCKED_FROM ? VL : 1;
    }

    /** Channel-lane kernel from this dstate up (time lanes below; -Dss2d.cpu.blockedFromDstate to move it). */
    static final int BLOCKED_FROM = Integer.getInteger("ss2d.cpu.blockedFromDstate", 2);


    private static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    private static FloatVector load(MemorySegment s, long elem, VectorMask<Float> m) {
        return FloatVector.fromMemorySegment(F, s, elem * 4, ORDER, m);
    }

    private static FloatVector load(MemorySegment s, long elem) {
        return FloatVector.fromMemorySegment(F, s, elem * 4, ORDER);
    }

    // ------------------------------------------------------------------ GEMM

    /** Columns per register tile: 4 rows x 3 vectors = 12 accumulators, 7 loads per 12 FMAs. */
    private static final int NR = 3, MR = 4;

    @Override
    public void gemm(MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx, MemorySegment out,
                     long outOff, int ldo, int k, int m0, int m1, int p0, int p1, MemorySegment bias, long biasOff,
                     Activation act, MemorySegment residual, long resOff) {
        if (k <= 8 && bias == null && residual == null && act == Activation.NONE) {
            gemmSmallK(w, wOff, ldw, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1);
            return;
        }
        final int nr = NR * VL;
        for (int pc = p0; pc < p1; pc += nr) {
            boolean full = pc + nr <= p1;
            VectorMask<Float> q0 = F.indexInRange(pc, p1), q1 = F.indexInRange(pc + VL, p1),
                    q2 = F.indexInRange(pc + 2 * VL, p1);
            int m = m0;
            for (; m + MR <= m1; m += MR) {
                long wr = wOff + (long) m * ldw, oc = outOff + (long) m * ldo + pc, rc = resOff + (long) m * ldo + pc;
                if (full) tile4(w, wr, ldw, x, xOff + pc, ldx, k, out, oc, ldo, bias, biasOff + m, residual, rc);
                else tile4Masked(w, wr, ldw, x, xOff + pc, ldx, k, q0, q1, q2, out, oc, ldo, bias, biasOff + m, residual, rc);
            }
            for (; m < m1; m++) {
                tile1(w, wOff + (long) m * ldw, x, xOff + pc, ldx, k, q0, q1, q2, out, outOff + (long) m * ldo + pc,
                        bias, biasOff + m, residual, resOff + (long) m * ldo + pc);
            }
            if (act == Activation.GELU) {
                // a pass of its own: GELU inlined into the twelve stores would blow C2's inlining budget
                for (int r = m0; r < m1; r++) geluRow(out, outOff + (long) r * ldo + pc, Math.min(nr, p1 - pc));
            }
        }
    }

    /**
     * K <= 8 (dt_proj: K = dt_rank): the K input vectors of a column block stay in registers while every
     * output row is formed from them, K FMAs per output vector. The register-tile kernel above spent
     * most of its time zeroing and storing its 12 accumulators for so few FMAs.
     */
    private static void gemmSmallK(MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx,
                                   MemorySegment out, long outOff, int ldo, int k, int m0, int m1, int p0, int p1) {
        FloatVector z = FloatVector.zero(F);
        int pc = p0;
        for (; pc + VL <= p1; pc += VL) {
            FloatVector x0 = load(x, xOff + pc), x1 = k > 1 ? load(x, xOff + ldx + pc) : z,
                    x2 = k > 2 ? load(x, xOff + 2L * ldx + pc) : z, x3 = k > 3 ? load(x, xOff + 3L * ldx + pc) : z,
                    x4 = k > 4 ? load(x, xOff + 4L * ldx + pc) : z, x5 = k > 5 ? load(x, xOff + 5L * ldx + pc) : z,
                    x6 = k > 6 ? load(x, xOff + 6L * ldx + pc) : z, x7 = k > 7 ? load(x, xOff + 7L * ldx + pc) : z;
            for (int m = m0; m < m1; m++) {
                long wr = wOff + (long) m * ldw;
                FloatVector acc = x0.mul(get(w, wr));
                if (k > 1) acc = x1.fma(FloatVector.broadcast(F, get(w, wr + 1)), acc);
                if (k > 2) acc = x2.fma(FloatVector.broadcast(F, get(w, wr + 2)), acc);
                if (k > 3) acc = x3.fma(FloatVector.broadcast(F, get(w, wr + 3)), acc);
                if (k > 4) acc = x4.fma(FloatVector.broadcast(F, get(w, wr + 4)), acc);
                if (k > 5) acc = x5.fma(FloatVector.broadcast(F, get(w, wr + 5)), acc);
                if (k > 6) acc = x6.fma(FloatVector.broadcast(F, get(w, wr + 6)), acc);
                if (k > 7) acc = x7.fma(FloatVector.broadcast(F, get(w, wr + 7)), acc);
                acc.intoMemorySegment(out, (outOff + (long) m * ldo + pc) * 4, ORDER);
            }
        }
        for (; pc < p1; pc++) { // scalar tail columns
            for (int m = m0; m < m1; m++) {
                float acc = 0f;
                for (int kk = 0; kk < k; kk++) acc += get(w, wOff + (long) m * ldw + kk) * get(x, xOff + (long) kk * ldx + pc);
                out.setAtIndex(JAVA_FLOAT_UNALIGNED, outOff + (long) m * ldo + pc, acc);
            }
        }
    }

    private static void geluRow(MemorySegment out, long off, int len) {
        for (int v = 0; v < len; v += VL) {
            VectorMask<Float> m = F.indexInRange(v, len);
            SimdMath.gelu(load(out, off + v, m)).intoMemorySegment(out, (off + v) * 4, ORDER, m);
        }
    }

    /** Full 4 x 3-vector tile, unmasked loads: the hot path. */
    private static void tile4(MemorySegment w, long wr, int ldw, MemorySegment x, long xc, int ldx, int k,
                              MemorySegment out, long oc, int ldo, MemorySegment bias, long bOff, MemorySegment res,
                              long rc) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z,
                c32 = z;
        for (int kk = 0; kk < k; kk++) {
            long xr = xc + (long) kk * ldx;
            FloatVector x0 = load(x, xr), x1 = load(x, xr + VL), x2 = load(x, xr + 2 * VL);
            FloatVector w0 = FloatVector.broadcast(F, get(w, wr + kk));
            FloatVector w1 = FloatVector.broadcast(F, get(w, wr + ldw + kk));
            FloatVector w2 = FloatVector.broadcast(F, get(w, wr + 2L * ldw + kk));
            FloatVector w3 = FloatVector.broadcast(F, get(w, wr + 3L * ldw + kk));
            c00 = x0.fma(w0, c00);
            c01 = x1.fma(w0, c01);
            c02 = x2.fma(w0, c02);
            c10 = x0.fma(w1, c10);
            c11 = x1.fma(w1, c11);
            c12 = x2.fma(w1, c12);
            c20 = x0.fma(w2, c20);
            c21 = x1.fma(w2, c21);
            c22 = x2.fma(w2, c22);
            c30 = x0.fma(w3, c30);
            c31 = x1.fma(w3, c31);
            c32 = x2.fma(w3, c32);
        }
        store3(c00, c01, c02, out, oc, bias, bOff, res, rc);
        store3(c10, c11, c12, out, oc + ldo, bias, bOff + 1, res, rc + ldo);
        store3(c20, c21, c22, out, oc + 2L * ldo, bias, bOff + 2, res, rc + 2L * ldo);
        store3(c30, c31, c32, out, oc + 3L * ldo, bias, bOff + 3, res, rc + 3L * ldo);
    }

    private static void store3(FloatVector c0, FloatVector c1, FloatVector c2, MemorySegment out, long oc,
                               MemorySegment bias, long bOff, MemorySegment res, long rc) {
        if (bias != null) {
            FloatVector bv = FloatVector.broadcast(F, get(bias, bOff));
            c0 = c0.add(bv);
            c1 = c1.add(bv);
            c2 = c2.add(bv);
        }
        if (res != null) {
            c0 = c0.add(load(res, rc));
            c1 = c1.add(load(res, rc + VL));
            c2 = c2.add(load(res, rc + 2 * VL));
        }
        c0.intoMemorySegment(out, oc * 4, ORDER);
        c1.intoMemorySegment(out, (oc + VL) * 4, ORDER);
        c2.intoMemorySegment(out, (oc + 2 * VL) * 4, ORDER);
    }

    /** The column tail: the same tile with masked loads and stores. */
    private static void tile4Masked(MemorySegment w, long wr, int ldw, MemorySegment x, long xc, int ldx, int k,
                                    VectorMask<Float> q0, VectorMask<Float> q1, VectorMask<Float> q2, MemorySegment out,
                                    long oc, int ldo, MemorySegment bias, long bOff, MemorySegment res, long rc) {
        for (int r = 0; r < MR; r++) {
            tile1(w, wr + (long) r * ldw, x, xc, ldx, k, q0, q1, q2, out, oc + (long) r * ldo, bias, bOff + r, res,
                    rc + (long) r * ldo);
        }
    }

    private static void tile1(MemorySegment w, long wr, MemorySegment x, long xc, int ldx, int k, VectorMask<Float> q0,
                              VectorMask<Float> q1, VectorMask<Float> q2, MemorySegment out, long oc,
                              MemorySegment bias, long bOff, MemorySegment res, long rc) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0;
        for (int kk = 0; kk < k; kk++) {
            long xr = xc + (long) kk * ldx;
            FloatVector w0 = FloatVector.broadcast(F, get(w, wr + kk));
            c0 = load(x, xr, q0).fma(w0, c0);
            c1 = load(x, xr + VL, q1).fma(w0, c1);
            c2 = load(x, xr + 2 * VL, q2).fma(w0, c2);
        }
        storeMasked(c0, q0, out, oc, bias, bOff, res, rc);
        storeMasked(c1, q1, out, oc + VL, bias, bOff, res, rc + VL);
        storeMasked(c2, q2, out, oc + 2 * VL, bias, bOff, res, rc + 2 * VL);
    }

    private static void storeMasked(FloatVector c, VectorMask<Float> q, MemorySegment out, long o, MemorySegment bias,
                                    long bOff, MemorySegment res, long r) {
        if (!q.anyTrue()) return;
        if (bias != null) c = c.add(get(bias, bOff));
        if (res != null) c = c.add(load(res, r, q));
        c.intoMemorySegment(out, o * 4, ORDER, q);
    }

    // ------------------------------------------------------------------ depthwise conv + SiLU

    private static final ThreadLocal<float[]> CONV_PLANE = ThreadLocal.withInitial(() -> new float[0]);

    @Override
    public void depthwiseConvSilu(MemorySegment in, long inOff, MemorySegment out, long outOff, int h, int w,
                                  MemorySegment weight, long weightOff, int k, float bias) {
        int pad = (k - 1) / 2, pw = w + 2 * pad;
        // zero-padded copy of the plane: every tap is then a plain unaligned load (per-thread buffer:
        // only the border needs clearing, the interior is overwritten)
        float[] p = CONV_PLANE.get();
        int need = (h + 2 * pad) * pw + VL;
        if (p.length < need) {
            p = new float[need];
            CONV_PLANE.set(p);
        } else {
            java.util.Arrays.fill(p, 0, need, 0f);
        }
        for (int y = 0; y < h; y++) {
            MemorySegment.copy(in, JAVA_FLOAT_UNALIGNED, (inOff + (long) y * w) * 4, p, (y + pad) * pw + pad, w);
        }
        float[] wt = new float[k * k];
        MemorySegment.copy(weight, JAVA_FLOAT_UNALIGNED, weightOff * 4, wt, 0, k * k);
        for (int y = 0; y < h; y++) {
            for (int x0 = 0; x0 < w; x0 += VL) {
                FloatVector acc = FloatVector.broadcast(F, bias);
                for (int i = 0; i < k; i++) {
                    int row = (y + i) * pw + x0;
                    for (int jj = 0; jj < k; jj++) {
                        acc = FloatVector.fromArray(F, p, row + jj).fma(FloatVector.broadcast(F, wt[i * k + jj]), acc);
                    }
                }
                VectorMask<Float> m = F.indexInRange(x0, w);
                SimdMath.silu(acc).intoMemorySegment(out, (outOff + (long) y * w + x0) * 4, ORDER, m);
            }
        }
    }

    // ------------------------------------------------------------------ LayerNorm over channels

    @Override
    public void layerNormChannels(MemorySegment in, long inOff, MemorySegment out, long outOff, int channels, int stride,
                                  int p0, int p1, MemorySegment gamma, MemorySegment beta, float eps) {
        float invC = 1f / channels;
        for (int p = p0; p < p1; p += VL) {
            VectorMask<Float> m = F.indexInRange(p, p1);
            FloatVector sum = FloatVector.zero(F);
            for (int c = 0; c < channels; c++) sum = sum.add(load(in, inOff + (long) c * stride + p, m));
            FloatVector mean = sum.mul(invC);
            FloatVector var = FloatVector.zero(F);
            for (int c = 0; c < channels; c++) {
                FloatVector v = load(in, inOff + (long) c * stride + p, m).sub(mean);
                var = v.fma(v, var);
            }
            FloatVector inv = FloatVector.broadcast(F, 1f).div(var.mul(invC).add(eps).sqrt());
            for (int c = 0; c < channels; c++) {
                FloatVector v = load(in, inOff + (long) c * stride + p, m).sub(mean).mul(inv);
                v = v.fma(FloatVector.broadcast(F, get(gamma, c)), FloatVector.broadcast(F, get(beta, c)));
                v.intoMemorySegment(out, (outOff + (long) c * stride + p) * 4, ORDER, m);
            }
        }
    }

    // ------------------------------------------------------------------ cross scan / merge

    @Override
    public void crossScanPlane(MemorySegment x, long xOff, int h, int w, MemorySegment out, long r0, long r1, long r2,
                               long r3) {
        int l = h * w, p = 0;
        for (; p + VL <= l; p += VL) { // routes 0 and 2: a copy and a reversed copy
            FloatVector v = load(x, xOff + p);
            v.intoMemorySegment(out, (r0 + p) * 4, ORDER);
            v.rearrange(REVERSE).intoMemorySegment(out, (r2 + l - p - VL) * 4, ORDER);
        }
        for (; p < l; p++) {
            float v = get(x, xOff + p);
            out.setAtIndex(JAVA_FLOAT_UNALIGNED, r0 + p, v);
            out.setAtIndex(JAVA_FLOAT_UNALIGNED, r2 + l - 1 - p, v);
        }
        transposeRoutes(x, xOff, h, w, out, r1, r3, false);
    }

    @Override
    public void crossMergePlane(MemorySegment ys, long r0, long r1, long r2, long r3, int h, int w, MemorySegment out,
                                long outOff) {
        int l = h * w, p = 0;
        for (; p + VL <= l; p += VL) {
            FloatVector v = load(ys, r0 + p).add(load(ys, r2 + l - p - VL).rearrange(REVERSE));
            v.intoMemorySegment(out, (outOff + p) * 4, ORDER);
        }
        for (; p < l; p++) {
            out.setAtIndex(JAVA_FLOAT_UNALIGNED, outOff + p, get(ys, r0 + p) + get(ys, r2 + l - 1 - p));
        }
        transposeRoutes(out, outOff, h, w, ys, r1, r3, true);
    }

    /**
     * Routes 1 and 3 are the column-major order (step s = col * H + row) and its reverse. Scatter
     * ({@code add == false}): plane to routes. Gather-add ({@code add == true}): plane += route1 + route3.
     * Done on heap copies (bulk copies in and out): per-element segment accesses cost several times more.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[3][0]);

    /** Three per-thread planes of at least {@code l} floats (not zeroed: every use overwrites them). */
    private static float[][] scratch(int l) {
        float[][] sc = SCRATCH.get();
        if (sc[0].length < l) {
            for (int i = 0; i < 3; i++) sc[i] = new float[l];
        }
        return sc;
    }

    private static void transposeRoutes(MemorySegment plane, long pOff, int h, int w, MemorySegment routes, long r1,
                                        long r3, boolean add) {
        final int l = h * w;
        float[][] sc = scratch(l);
        float[] p = sc[0], t = sc[1];
        MemorySegment.copy(plane, JAVA_FLOAT_UNALIGNED, pOff * 4, p, 0, l);
        if (add) {
            float[] t3 = sc[2];
            MemorySegment.copy(routes, JAVA_FLOAT_UNALIGNED, r1 * 4, t, 0, l);
            MemorySegment.copy(routes, JAVA_FLOAT_UNALIGNED, r3 * 4, t3, 0, l);
            for (int s = 0; s < l; s++) t[s] += t3[l - 1 - s]; // route 1 + reversed route 3, in route-1 order
            for (int row = 0; row < h; row++) {
                for (int col = 0; col < w; col++) p[row * w + col] += t[col * h + row];
            }
            MemorySegment.copy(p, 0, plane, JAVA_FLOAT_UNALIGNED, pOff * 4, l);
        } else {
            for (int col = 0; col < w; col++) {
                for (int row = 0; row < h; row++) t[col * h + row] = p[row * w + col];
            }
            MemorySegment.copy(t, 0, routes, JAVA_FLOAT_UNALIGNED, r1 * 4, l);
            for (int s = 0; s < l; s++) p[l - 1 - s] = t[s];
            MemorySegment.copy(p, 0, routes, JAVA_FLOAT_UNALIGNED, r3 * 4, l);
        }
    }
}
