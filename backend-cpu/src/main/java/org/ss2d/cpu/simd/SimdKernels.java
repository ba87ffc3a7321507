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
        if (!blocked(job.dstate())) {
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
                if (scratch == null) scratch = SimdScanBlocked.Scratch.forThread(job.dstate());
                // consecutive blocks of one batch and group run together (they share the staged B/C)
                int blocks = 1;
                while (row + (blocks + 1) * VL <= rowTo && (row % dim) % cpg + (blocks + 1) * VL <= cpg) blocks++;
                SimdScanBlocked.blocks(job, row, blocks, scratch);
                row += blocks * VL;
                run = row;
            } else {
                row++;
            }
        }
        if (run < rowTo) SimdScan.scan(job, run, rowTo);
    }

    /**
     * 16-bit activations read by the kernels' own passes: dstate 1 by {@link SimdScanHalf}, the channel-lane blocks by
     * {@link SimdScanBlocked} with half rows; the rest (time lanes at dstate > 1: channels left over from blocks, or
     * dstate past BLOCKED_MAX) staged in float32 by the default.
     */
    @Override
    public void scanHalf(ScanJob job, org.ss2d.tensor.DType dtype, boolean outHalf, int rowFrom, int rowTo) {
        if (job.dstate() == 1) {
            SimdScanHalf.scan(job, dtype, outHalf, rowFrom, rowTo);
            return;
        }
        if (!blocked(job.dstate())) {
            super.scanHalf(job, dtype, outHalf, rowFrom, rowTo);
            return;
        }
        final int cpg = job.channelsPerGroup(), dim = job.dim();
        SimdScanBlocked.Scratch scratch = null;
        int row = rowFrom, run = rowFrom;
        while (row < rowTo) {
            if (row + VL <= rowTo && (row % dim) % cpg + VL <= cpg) {
                if (run < row) super.scanHalf(job, dtype, outHalf, run, row);
                if (scratch == null) scratch = SimdScanBlocked.Scratch.forThread(job.dstate());
                int blocks = 1;
                while (row + (blocks + 1) * VL <= rowTo && (row % dim) % cpg + (blocks + 1) * VL <= cpg) blocks++;
                SimdScanBlocked.blocks(job, row, blocks, scratch, dtype, outHalf);
                row += blocks * VL;
                run = row;
            } else {
                row++;
            }
        }
        if (run < rowTo) super.scanHalf(job, dtype, outHalf, run, rowTo);
    }

    /** Time lanes ({@link SimdScanBackward}); a row out of the fast softplus range runs the plain kernel. */
    @Override
    public void scanBackwardRow(org.ss2d.cpu.kernel.ScanBackwardJob job, int row) {
        if (!SimdScanBackward.row(job, row)) {
            SimdScanBackward.flush(); // the plain kernel adds into dB/dC in memory
            super.scanBackwardRow(job, row);
        }
    }

    @Override
    public long scanBackwardScratchBytes(int seqlen, int dstate) {
        return SimdScanBackward.scratchBytes(seqlen) + SimdScanBackwardBlocked.scratchBytes(seqlen, dstate)
                + super.scanBackwardScratchBytes(seqlen, dstate);
    }

    /**
     * dstate >= 2 without a gate: channel-lane blocks ({@link SimdScanBackwardBlocked}) wherever VL consecutive rows
     * share a batch (and a group, for variable B/C); time lanes for the rows left over.
     */
    @Override
    public void scanBackward(org.ss2d.cpu.kernel.ScanBackwardJob job, int rowFrom, int rowTo) {
        ScanJob j = job.fwd();
        if (!SimdScanBackwardBlocked.fits(j)) {
            try {
                super.scanBackward(job, rowFrom, rowTo);
            } finally {
                SimdScanBackward.flush(); // the task's last dB/dC rows held on the heap (dstate 1)
            }
            return;
        }
        final int dim = j.dim(), span = j.bVariable() || j.cVariable() ? j.channelsPerGroup() : dim;
        SimdScanBackwardBlocked.Scratch scratch = null;
        int row = rowFrom;
        while (row < rowTo) {
            int at = (row % dim) % span; // blocks start at multiples of VL of their span: the same rows for any split
            if (at % VL == 0 && at + VL <= span && row + VL <= rowTo) {
                if (scratch == null) scratch = SimdScanBackwardBlocked.Scratch.forThread(j.dstate(), j.seqlen());
                if (!SimdScanBackwardBlocked.block(job, row, scratch)) {
                    for (int r = row; r < row + VL; r++) scanBackwardRow(job, r);
                }
                row += VL;
            } else {
                scanBackwardRow(job, row++);
            }
        }
    }

    @Override
    public int scanBackwardRowAlign(org.ss2d.cpu.kernel.ScanBackwardJob job) {
        return SimdScanBackwardBlocked.fits(job.fwd()) ? VL : 1;
    }

    @Override
    public int scanRowAlign(ScanJob job) {
        return blocked(job.dstate()) ? VL : 1;
    }

    /** Channel-lane kernel from this dstate up (time lanes below; -Dss2d.cpu.blockedFromDstate to move it). */
    static final int BLOCKED_FROM = Integer.getInteger("ss2d.cpu.blockedFromDstate", 2);
    /**
     * ... and up to this one: its per-thread scratch stages B and C of every state for a super-chunk
     * (2 x dstate x 1040 floats, 2 MB at 256), so beyond it the time-lane kernel runs, whose scratch is a few chunks
     * plus the states of one row (dstate 10^6 took 8.3 GB of staging before).
     */
    static final int BLOCKED_MAX = 256;

    static boolean blocked(int dstate) {
        return dstate >= BLOCKED_FROM && dstate <= BLOCKED_MAX;
    }

    @Override
    public long scanScratchBytes(int dim, int groups, int dstate) {
        long bytes = SimdScan.scratchBytes(dstate);
        if (blocked(dstate)) bytes += SimdScanBlocked.scratchBytes(dstate, dim / groups);
        return bytes;
    }


    @Override
    public void halfToFloat(org.ss2d.tensor.DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
                            int n) {
        SimdHalf.toFloat(dtype, src, srcOff, dst, dstOff, n);
    }

    @Override
    public void floatToHalf(org.ss2d.tensor.DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
                            int n) {
        SimdHalf.fromFloat(dtype, src, srcOff, dst, dstOff, n);
    }

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

    @Override
    public void gemm(MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx, MemorySegment out,
                     long outOff, int ldo, int k, int m0, int m1, int p0, int p1, MemorySegment bias, long biasOff,
                     Activation act, MemorySegment residual, long resOff) {
        if (k <= 8 && bias == null && residual == null && act == Activation.NONE) {
            gemmSmallK(w, wOff, ldw, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1);
            return;
        }
        SimdGemm.gemm(w, wOff, ldw, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1, bias, biasOff, act, residual,
                resOff);
    }

    @Override
    public Object packWeights(MemorySegment w, long wOff, int ldw, int m, int k) {
        return k <= 8 ? null : SimdGemm.pack(w, wOff, ldw, m, k);
    }

    @Override
    public void gemmPacked(Object packed, MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx,
                           MemorySegment out, long outOff, int ldo, int k, int m0, int m1, int p0, int p1,
                           MemorySegment bias, long biasOff, Activation act, MemorySegment residual, long resOff) {
        if (packed instanceof float[] wp && m0 % SimdGemm.MR == 0) {
            SimdGemm.gemmPacked(wp, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1, bias, biasOff, act, residual, resOff);
        } else {
            gemm(w, wOff, ldw, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1, bias, biasOff, act, residual, resOff);
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

    // ------------------------------------------------------------------ elementwise

    @Override
    public void gelu(MemorySegment x, long off, long n) {
        long i = 0;
        for (; i + VL <= n; i += VL) {
            long b = (off + i) * 4;
            SimdMath.gelu(FloatVector.fromMemorySegment(F, x, b, ORDER)).intoMemorySegment(x, b, ORDER);
        }
        if (i < n) { // masked tail
            VectorMask<Float> m = F.indexInRange(i, n);
            long b = (off + i) * 4;
            SimdMath.gelu(FloatVector.fromMemorySegment(F, x, b, ORDER, m)).intoMemorySegment(x, b, ORDER, m);
        }
    }

    @Override
    public void mulSilu(MemorySegment y, long yOff, MemorySegment z, long zOff, long n) {
        long i = 0;
        for (; i + VL <= n; i += VL) {
            long by = (yOff + i) * 4;
            FloatVector zv = FloatVector.fromMemorySegment(F, z, (zOff + i) * 4, ORDER);
            FloatVector.fromMemorySegment(F, y, by, ORDER).mul(SimdMath.silu(zv)).intoMemorySegment(y, by, ORDER);
        }
        if (i < n) {
            VectorMask<Float> m = F.indexInRange(i, n);
            long by = (yOff + i) * 4;
            FloatVector zv = FloatVector.fromMemorySegment(F, z, (zOff + i) * 4, ORDER, m);
            FloatVector.fromMemorySegment(F, y, by, ORDER, m).mul(SimdMath.silu(zv)).intoMemorySegment(y, by, ORDER, m);
        }
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
