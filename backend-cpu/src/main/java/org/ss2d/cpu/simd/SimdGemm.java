package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.ORDER;
import static org.ss2d.cpu.simd.SimdConstants.VL;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import org.ss2d.cpu.kernel.Kernels.Activation;

/**
 * Packed GEMM {@code out = act(W x + bias) + residual} for the 1x1 convolutions: W (m x k) is packed per
 * call into MR-row panels (k-major, MR weights per step), x (k x columns) into 3-vector column panels (k-major,
 * contiguous, zero-padded at the column tail), both in per-thread float arrays. The micro-kernel then streams
 * two contiguous arrays (no strided rows, no segment checks in the loop) into an MR x 3-vector register tile
 * and spills it into a small array; bias, GELU, residual and the (masked only at the tail) stores are a
 * separate epilogue so that the micro-kernel stays within C2's inlining budget.
 */
final class SimdGemm {
    private SimdGemm() {}

    /** Rows per register tile: 8 rows x 3 vectors = 24 accumulators, 3 loads + 8 broadcasts per 24 FMAs. */
    static final int MR = 8;
    private static final int NR = 3;

    private static final class Scratch {
        float[] w = new float[0], x = new float[0], raw = new float[0];
        final float[] tile = new float[MR * NR * VL];
        /** shape of what {@code w} holds packed, from the weights kept in {@code raw}; k = -1: nothing */
        int packedK = -1, packedRows;
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static void gemm(MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx, MemorySegment out,
                     long outOff, int ldo, int k, int m0, int m1, int p0, int p1, MemorySegment bias, long biasOff,
                     Activation act, MemorySegment residual, long resOff) {
        final int rows = m1 - m0, blocks = (rows + MR - 1) / MR;
        Scratch s = SCRATCH.get();
        if (s.w.length < blocks * MR * k) {
            s.w = new float[blocks * MR * k];
            s.packedK = -1;
        }
        packWeights(s, w, wOff + (long) m0 * ldw, ldw, k, rows);
        run(s, s.w, 0, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1, bias, biasOff, act, residual, resOff);
    }

    /** W {@code (m, k)} packed once, for {@link #gemmPacked}: MR-row panels, k-major. */
    static float[] pack(MemorySegment w, long wOff, int ldw, int m, int k) {
        float[] wp = new float[(m + MR - 1) / MR * MR * k];
        packW(w, wOff, ldw, k, m, wp);
        return wp;
    }

    /** As {@link #gemm} on weights from {@link #pack}; {@code m0} is a multiple of {@link #MR}. */
    static void gemmPacked(float[] wp, MemorySegment x, long xOff, int ldx, MemorySegment out, long outOff, int ldo,
                           int k, int m0, int m1, int p0, int p1, MemorySegment bias, long biasOff, Activation act,
                           MemorySegment residual, long resOff) {
        assert m0 % MR == 0;
        run(SCRATCH.get(), wp, m0 * k, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1, bias, biasOff, act, residual,
                resOff);
    }

    private static void run(Scratch s, float[] wp, int wBase, MemorySegment x, long xOff, int ldx, MemorySegment out,
                            long outOff, int ldo, int k, int m0, int m1, int p0, int p1, MemorySegment bias,
                            long biasOff, Activation act, MemorySegment residual, long resOff) {
        final int nr = NR * VL, rows = m1 - m0, blocks = (rows + MR - 1) / MR;
        if (s.x.length < nr * k) s.x = new float[nr * k];
        float[] xp = s.x, tile = s.tile;
        boolean gelu = act == Activation.GELU;
        for (int pc = p0; pc < p1; pc += nr) {
            int cols = Math.min(nr, p1 - pc);
            packX(x, xOff + pc, ldx, k, cols, xp);
            for (int bl = 0; bl < blocks; bl++) {
                kernel(wp, wBase + bl * MR * k, xp, k, tile);
                int m = m0 + bl * MR, mr = Math.min(MR, m1 - m);
                if (gelu) geluTile(tile, mr, bias, biasOff + m);
                epilogue(tile, mr, cols, out, outOff + (long) m * ldo + pc, ldo, gelu ? null : bias, biasOff + m,
                        residual, resOff + (long) m * ldo + pc);
            }
        }
    }

    /**
     * The column-tiled callers pack the same weights many times in a row: keep this thread's last packing
     * and reuse it when the weights are still equal, element by element, to the copy kept of them
     * (a vectorized compare is several times cheaper than the scalar transpose; equal content, not the
     * same address, is what makes the packing valid).
     */
    private static void packWeights(Scratch s, MemorySegment w, long wOff, int ldw, int k, int rows) {
        long n = (long) rows * k;
        boolean contiguous = ldw == k;
        if (contiguous && s.packedK == k && s.packedRows == rows && MemorySegment.mismatch(w, wOff * 4, (wOff + n) * 4,
                MemorySegment.ofArray(s.raw), 0, n * 4) == -1) {
            return;
        }
        s.packedK = -1;
        packW(w, wOff, ldw, k, rows, s.w);
        if (contiguous) {
            if (s.raw.length < n) s.raw = new float[(int) n];
            MemorySegment.copy(w, JAVA_FLOAT_UNALIGNED, wOff * 4, s.raw, 0, (int) n);
            s.packedK = k;
            s.packedRows = rows;
        }
    }

    /** {@code wp[b][kk][r] = W[b*MR + r][kk]}, rows past the end zero. */
    private static void packW(MemorySegment w, long wOff, int ldw, int k, int rows, float[] wp) {
        int blocks = (rows + MR - 1) / MR;
        for (int b = 0; b < blocks; b++) {
            int base = b * MR * k;
            for (int r = 0; r < MR; r++) {
                int row = b * MR + r;
                if (row < rows) {
                    long src = wOff + (long) row * ldw;
                    for (int kk = 0; kk < k; kk++) wp[base + kk * MR + r] = w.getAtIndex(JAVA_FLOAT_UNALIGNED, src + kk);
                } else {
                    for (int kk = 0; kk < k; kk++) wp[base + kk * MR + r] = 0f;
                }
            }
        }
    }

    /** {@code xp[kk][j] = x[kk][j]} for j < cols, zero up to NR vectors. */
    private static void packX(MemorySegment x, long xOff, int ldx, int k, int cols, float[] xp) {
        final int nr = NR * VL;
        if (cols == nr) {
            for (int kk = 0; kk < k; kk++) {
                long src = (xOff + (long) kk * ldx) * 4;
                int dst = kk * nr;
                FloatVector.fromMemorySegment(F, x, src, ORDER).intoArray(xp, dst);
                FloatVector.fromMemorySegment(F, x, src + VL * 4L, ORDER).intoArray(xp, dst + VL);
                FloatVector.fromMemorySegment(F, x, src + 2L * VL * 4, ORDER).intoArray(xp, dst + 2 * VL);
            }
        } else {
            for (int kk = 0; kk < k; kk++) {
                int dst = kk * nr;
                MemorySegment.copy(x, JAVA_FLOAT_UNALIGNED, (xOff + (long) kk * ldx) * 4, xp, dst, cols);
                java.util.Arrays.fill(xp, dst + cols, dst + nr, 0f);
            }
        }
    }

    /** The MR x 3-vector register tile over all of k, spilled into {@code tile[r][j]}. */
    private static void kernel(float[] wp, int wb, float[] xp, int k, float[] tile) {
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z,
                c32 = z, c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z, c70 = z,
                c71 = z, c72 = z;
        for (int kk = 0, xi = 0, wi = wb; kk < k; kk++, xi += 3 * VL, wi += MR) {
            FloatVector x0 = FloatVector.fromArray(F, xp, xi), x1 = FloatVector.fromArray(F, xp, xi + VL),
                    x2 = FloatVector.fromArray(F, xp, xi + 2 * VL);
            FloatVector b = FloatVector.broadcast(F, wp[wi]);
            c00 = x0.fma(b, c00);
            c01 = x1.fma(b, c01);
            c02 = x2.fma(b, c02);
            b = FloatVector.broadcast(F, wp[wi + 1]);
            c10 = x0.fma(b, c10);
            c11 = x1.fma(b, c11);
            c12 = x2.fma(b, c12);
            b = FloatVector.broadcast(F, wp[wi + 2]);
            c20 = x0.fma(b, c20);
            c21 = x1.fma(b, c21);
            c22 = x2.fma(b, c22);
            b = FloatVector.broadcast(F, wp[wi + 3]);
            c30 = x0.fma(b, c30);
            c31 = x1.fma(b, c31);
            c32 = x2.fma(b, c32);
            b = FloatVector.broadcast(F, wp[wi + 4]);
            c40 = x0.fma(b, c40);
            c41 = x1.fma(b, c41);
            c42 = x2.fma(b, c42);
            b = FloatVector.broadcast(F, wp[wi + 5]);
            c50 = x0.fma(b, c50);
            c51 = x1.fma(b, c51);
            c52 = x2.fma(b, c52);
            b = FloatVector.broadcast(F, wp[wi + 6]);
            c60 = x0.fma(b, c60);
            c61 = x1.fma(b, c61);
            c62 = x2.fma(b, c62);
            b = FloatVector.broadcast(F, wp[wi + 7]);
            c70 = x0.fma(b, c70);
            c71 = x1.fma(b, c71);
            c72 = x2.fma(b, c72);
        }
        final int n = 3 * VL;
        c00.intoArray(tile, 0);
        c01.intoArray(tile, VL);
        c02.intoArray(tile, 2 * VL);
        c10.intoArray(tile, n);
        c11.intoArray(tile, n + VL);
        c12.intoArray(tile, n + 2 * VL);
        c20.intoArray(tile, 2 * n);
        c21.intoArray(tile, 2 * n + VL);
        c22.intoArray(tile, 2 * n + 2 * VL);
        c30.intoArray(tile, 3 * n);
        c31.intoArray(tile, 3 * n + VL);
        c32.intoArray(tile, 3 * n + 2 * VL);
        c40.intoArray(tile, 4 * n);
        c41.intoArray(tile, 4 * n + VL);
        c42.intoArray(tile, 4 * n + 2 * VL);
        c50.intoArray(tile, 5 * n);
        c51.intoArray(tile, 5 * n + VL);
        c52.intoArray(tile, 5 * n + 2 * VL);
        c60.intoArray(tile, 6 * n);
        c61.intoArray(tile, 6 * n + VL);
        c62.intoArray(tile, 6 * n + 2 * VL);
        c70.intoArray(tile, 7 * n);
        c71.intoArray(tile, 7 * n + VL);
        c72.intoArray(tile, 7 * n + 2 * VL);
    }

    /**
     * bias then GELU in place, a method of its own: called from the epilogue's loop, where only some calls
     * take it, C2 judged GELU not hot enough to inline and boxed its vectors.
     */
    private static void geluTile(float[] tile, int mr, MemorySegment bias, long bOff) {
        final int n = NR * VL;
        for (int r = 0; r < mr; r++) {
            float bv = bias == null ? 0f : bias.getAtIndex(JAVA_FLOAT_UNALIGNED, bOff + r);
            for (int v = 0; v < n; v += VL) {
                SimdMath.gelu(FloatVector.fromArray(F, tile, r * n + v).add(bv)).intoArray(tile, r * n + v);
            }
        }
    }

    /** bias, then the residual; masked only on the column tail (GELU, when asked, is applied before). */
    private static void epilogue(float[] tile, int mr, int cols, MemorySegment out, long oc, int ldo,
                                 MemorySegment bias, long bOff, MemorySegment res, long rc) {
        final int n = NR * VL;
        for (int r = 0; r < mr; r++) {
            float bv = bias == null ? 0f : bias.getAtIndex(JAVA_FLOAT_UNALIGNED, bOff + r);
            long o = oc + (long) r * ldo, ro = rc + (long) r * ldo;
            for (int v = 0; v < cols; v += VL) {
                FloatVector c = FloatVector.fromArray(F, tile, r * n + v);
                if (bias != null) c = c.add(bv);
                if (v + VL <= cols) {
                    if (res != null) c = c.add(FloatVector.fromMemorySegment(F, res, (ro + v) * 4, ORDER));
                    c.intoMemorySegment(out, (o + v) * 4, ORDER);
                } else {
                    VectorMask<Float> q = F.indexInRange(v, cols);
                    if (res != null) c = c.add(FloatVector.fromMemorySegment(F, res, (ro + v) * 4, ORDER, q));
                    c.intoMemorySegment(out, (o + v) * 4, ORDER, q);
                }
            }
        }
    }
}
