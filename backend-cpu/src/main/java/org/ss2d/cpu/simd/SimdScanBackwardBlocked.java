package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.VL;
import static org.ss2d.cpu.simd.SimdMath.LOG2E;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import org.ss2d.cpu.kernel.ScanBackwardJob;
import org.ss2d.cpu.kernel.ScanJob;

/**
 * Selective scan backward with lanes = VL consecutive channels of one (batch, group), the layout of the forward's
 * channel-lane kernel ({@link SimdScanBlocked}): B and C of a step are one broadcast for all lanes, the recurrences
 * run along time with one FMA per state and step, and no in-vector scan is needed. For dstate above 1, where the
 * time-lane backward pays a full in-vector scan per state and step.
 *
 * <p>Memory: chunks of {@link #T} steps. A first pass runs the forward recurrence over the row block and keeps the
 * states at every chunk start (dstate x VL floats per chunk); the reverse pass then takes the chunks last to first,
 * recomputes that chunk's {@code a_t} and {@code h_{t-1}} (T x dstate x VL floats, L1/L2-resident) from its saved
 * start, and runs {@code lam} backwards through it. u, delta and dout are transposed into [step][lane] per chunk.
 * Variable dB/dC are lane sums per (state, step), added into the row in channel-block order (deterministic); constant
 * ones, dA, dD and dDeltaBias stay per lane (= per channel) until the row sums are written.
 */
final class SimdScanBackwardBlocked {
    private SimdScanBackwardBlocked() {}

    /** Steps per chunk: a and h_{t-1} of a chunk take 2 T dstate VL floats (64 KiB at dstate 16, VL 16). */
    static final int T = 32;
    private static final float X_LIMIT = 80f;

    static final class Scratch {
        final int n, chunks;
        final float[] rows = new float[VL * T], ut = new float[T * VL], dtt = new float[T * VL], gt = new float[T * VL],
                du = new float[T * VL], dDt = new float[T * VL];
        final float[] a, hp, hb, h, lam, dA, sB, sC, a2, an, bc, cc;

        Scratch(int n, int seqlen) {
            this.n = n;
            this.chunks = (seqlen + T - 1) / T;
            a = new float[T * n * VL];
            hp = new float[T * n * VL];
            hb = new float[chunks * n * VL];
            h = new float[n * VL];
            lam = new float[n * VL];
            dA = new float[n * VL];
            sB = new float[n * VL];
            sC = new float[n * VL];
            a2 = new float[n * VL];
            an = new float[n * VL];
            bc = new float[n * VL];
            cc = new float[n * VL];
        }

        private static final ThreadLocal<Scratch> TL = new ThreadLocal<>();

        static Scratch forThread(int n, int seqlen) {
            Scratch s = TL.get();
            if (s == null || s.n != n || s.chunks < (seqlen + T - 1) / T) {
                s = new Scratch(n, seqlen);
                TL.set(s);
            }
            return s;
        }
    }

    static long scratchBytes(int seqlen, int dstate) {
        long chunks = (seqlen + T - 1) / T;
        return 4L * (7L * VL * T + 2L * T * dstate * VL + chunks * dstate * VL + 10L * dstate * VL);
    }

    private static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    private static void set(MemorySegment s, long i, float v) {
        s.setAtIndex(JAVA_FLOAT_UNALIGNED, i, v);
    }

    /** Whether this block can run here: dstate >= 2, no gate. */
    static boolean fits(ScanJob j) {
        return j.dstate() >= 2 && j.z() == null;
    }

    /**
     * Rows {@code row0 .. row0 + VL - 1} (one batch, one group); false (nothing written) when some |delta + bias| is
     * over the fast softplus's range or NaN: the caller then runs the rows one by one.
     */
    static boolean block(ScanBackwardJob bj, int row0, Scratch s) {
        ScanJob j = bj.fwd();
        final int l = j.seqlen(), n = j.dstate(), dim = j.dim(), b = row0 / dim, d0 = row0 % dim;
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        for (int k = 0; k < n; k++) {
            for (int lane = 0; lane < VL; lane++) {
                long an = (long) (d0 + lane) * n + k;
                s.an[k * VL + lane] = get(j.a(), an);
                s.a2[k * VL + lane] = get(j.a(), an) * LOG2E;
                s.bc[k * VL + lane] = bVar ? 0f : get(j.b(), an);
                s.cc[k * VL + lane] = cVar ? 0f : get(j.c(), an);
            }
        }
        float[] biasL = new float[VL], dL = new float[VL];
        for (int lane = 0; lane < VL; lane++) {
            biasL[lane] = j.deltaBias() == null ? 0f : get(j.deltaBias(), d0 + lane);
            dL[lane] = j.dSkip() == null ? 0f : get(j.dSkip(), d0 + lane);
        }
        final long bRow = bVar ? j.bRow(b, d0) : 0, cRow = cVar ? j.cRow(b, d0) : 0;
        // pass 1: states at every chunk start (and the range check, before anything is written)
        java.util.Arrays.fill(s.h, 0f);
        for (int c = 0; c < s.chunks && c * T < l; c++) {
            int t0 = c * T, len = Math.min(T, l - t0);
            System.arraycopy(s.h, 0, s.hb, c * n * VL, n * VL);
            if (!loadSteps(j, row0, t0, len, biasL, s)) return false;
            forwardChunk(j, s, t0, len, bRow, false);
        }
        // pass 2: chunks last to first
        for (int k = 0; k < n; k++) {
            for (int lane = 0; lane < VL; lane++) {
                s.lam[k * VL + lane] = bj.dLastState() == null ? 0f : get(bj.dLastState(), (long) (row0 + lane) * n + k);
            }
        }
        java.util.Arrays.fill(s.dA, 0f);
        java.util.Arrays.fill(s.sB, 0f);
        java.util.Arrays.fill(s.sC, 0f);
        float[] sD = new float[VL], sBias = new float[VL];
        for (int c = (l - 1) / T; c >= 0; c--) {
            int t0 = c * T, len = Math.min(T, l - t0);
            loadSteps(j, row0, t0, len, biasL, s);
            loadRows(bj.dout(), (long) row0 * l + t0, l, len, s.rows);
            transposeIn(s.rows, len, s.gt);
            System.arraycopy(s.hb, c * n * VL, s.h, 0, n * VL);
            forwardChunk(j, s, t0, len, bRow, true);
            for (int t = len - 1; t >= 0; t--) {
                reverseStep(bj, s, t, t0 + t, bRow, cRow);
            }
            finishChunk(s, len, dL, j.softplus(), sD, sBias);
            transposeOut(s.du, len, s.rows);
            storeRows(s.rows, bj.du(), (long) row0 * l + t0, l, len);
            transposeOut(s.dDt, len, s.rows);
            storeRows(s.rows, bj.dDelta(), (long) row0 * l + t0, l, len);
        }
        double[] part = bj.partials();
        int stride = bj.partialStride();
        for (int lane = 0; lane < VL; lane++) {
            int p0 = (row0 + lane) * stride;
            for (int k = 0; k < n; k++) {
                part[p0 + k] = s.dA[k * VL + lane];
                part[p0 + n + k] = s.sB[k * VL + lane];
                part[p0 + 2 * n + k] = s.sC[k * VL + lane];
            }
            part[p0 + 3 * n] = sD[lane];
            part[p0 + 3 * n + 1] = sBias[lane];
        }
        return true;
    }

    private static void loadRows(MemorySegment src, long off, int l, int len, float[] rows) {
        for (int lane = 0; lane < VL; lane++) {
            MemorySegment.copy(src, JAVA_FLOAT_UNALIGNED, (off + (long) lane * l) * 4, rows, lane * T, len);
        }
    }

    private static void storeRows(float[] rows, MemorySegment dst, long off, int l, int len) {
        for (int lane = 0; lane < VL; lane++) {
            MemorySegment.copy(rows, lane * T, dst, JAVA_FLOAT_UNALIGNED, (off + (long) lane * l) * 4, len);
        }
    }

    /** [lane][step] (row stride T) to [step][lane]. */
    private static void transposeIn(float[] rows, int len, float[] out) {
        for (int t = 0; t < len; t++) {
            for (int lane = 0; lane < VL; lane++) out[t * VL + lane] = rows[lane * T + t];
        }
    }

    private static void transposeOut(float[] in, int len, float[] rows) {
        for (int t = 0; t < len; t++) {
            for (int lane = 0; lane < VL; lane++) rows[lane * T + t] = in[t * VL + lane];
        }
    }

    /** u and dt = softplus(delta + bias) of a chunk into [step][lane]; false when out of the fast range. */
    private static boolean loadSteps(ScanJob j, int row0, int t0, int len, float[] biasL, Scratch s) {
        long off = (long) row0 * j.seqlen() + t0;
        loadRows(j.u(), off, j.seqlen(), len, s.rows);
        transposeIn(s.rows, len, s.ut);
        loadRows(j.delta(), off, j.seqlen(), len, s.rows);
        transposeIn(s.rows, len, s.dtt);
        FloatVector bias = FloatVector.fromArray(F, biasL, 0), most = FloatVector.zero(F);
        boolean sp = j.softplus();
        for (int t = 0; t < len; t++) {
            FloatVector x = FloatVector.fromArray(F, s.dtt, t * VL).add(bias);
            most = most.max(x.abs());
            (sp ? SimdMath.softplus(x) : x).intoArray(s.dtt, t * VL);
        }
        return most.reduceLanes(VectorOperators.MAX) <= X_LIMIT; // NaN fails too
    }

    /** The recurrence over a chunk from s.h; with {@code keep}, a_t and h_{t-1} of every state are saved. */
    private static void forwardChunk(ScanJob j, Scratch s, int t0, int len, long bRow, boolean keep) {
        final int n = s.n;
        final boolean bVar = j.bVariable();
        final long bStride = j.bStateStride();
        for (int t = 0; t < len; t++) {
            FloatVector dt = FloatVector.fromArray(F, s.dtt, t * VL), du = dt.mul(FloatVector.fromArray(F, s.ut, t * VL));
            for (int k = 0; k < n; k++) {
                FloatVector bb = bVar ? FloatVector.broadcast(F, get(j.b(), bRow + k * bStride + t0 + t))
                        : FloatVector.fromArray(F, s.bc, k * VL);
                FloatVector a = SimdMath.exp2Mul(dt, FloatVector.fromArray(F, s.a2, k * VL));
                FloatVector h = FloatVector.fromArray(F, s.h, k * VL);
                if (keep) {
                    a.intoArray(s.a, (t * n + k) * VL);
                    h.intoArray(s.hp, (t * n + k) * VL);
                }
                a.fma(h, du.mul(bb)).intoArray(s.h, k * VL);
            }
        }
    }

    /** One step of the reverse recurrence for every state: lam, the step's du and dDt, and the state sums. */
    private static void reverseStep(ScanBackwardJob bj, Scratch s, int t, int tt, long bRow, long cRow) {
        ScanJob j = bj.fwd();
        final int n = s.n;
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        final long bStride = j.bStateStride(), cStride = j.cStateStride();
        FloatVector dt = FloatVector.fromArray(F, s.dtt, t * VL), u = FloatVector.fromArray(F, s.ut, t * VL),
                g = FloatVector.fromArray(F, s.gt, t * VL);
        FloatVector ld0 = dt.mul(u);
        FloatVector duAcc = FloatVector.zero(F), dDtAcc = FloatVector.zero(F);
        for (int k = 0; k < n; k++) {
            int i = (t * n + k) * VL;
            FloatVector bb = bVar ? FloatVector.broadcast(F, get(j.b(), bRow + k * bStride + tt))
                    : FloatVector.fromArray(F, s.bc, k * VL);
            FloatVector cc = cVar ? FloatVector.broadcast(F, get(j.c(), cRow + k * cStride + tt))
                    : FloatVector.fromArray(F, s.cc, k * VL);
            FloatVector a = FloatVector.fromArray(F, s.a, i), ah = a.mul(FloatVector.fromArray(F, s.hp, i));
            FloatVector lam = cc.fma(g, FloatVector.fromArray(F, s.lam, k * VL));
            FloatVector ld = lam.mul(dt), ub = u.mul(bb);
            duAcc = ld.fma(bb, duAcc);
            dDtAcc = lam.fma(FloatVector.fromArray(F, s.an, k * VL).fma(ah, ub), dDtAcc);
            ld.fma(ah, FloatVector.fromArray(F, s.dA, k * VL)).intoArray(s.dA, k * VL);
            FloatVector gb = lam.mul(ld0), gc = g.mul(ld0.fma(bb, ah));
            if (bVar) {
                long bi = bRow + k * bStride + tt;
                set(bj.dB(), bi, get(bj.dB(), bi) + gb.reduceLanes(VectorOperators.ADD));
            } else {
                gb.add(FloatVector.fromArray(F, s.sB, k * VL)).intoArray(s.sB, k * VL);
            }
            if (cVar) {
                long ci = cRow + k * cStride + tt;
                set(bj.dC(), ci, get(bj.dC(), ci) + gc.reduceLanes(VectorOperators.ADD));
            } else {
                gc.add(FloatVector.fromArray(F, s.sC, k * VL)).intoArray(s.sC, k * VL);
            }
            a.mul(lam).intoArray(s.lam, k * VL);
        }
        duAcc.intoArray(s.du, t * VL);
        dDtAcc.intoArray(s.dDt, t * VL);
    }

    /** du += D g; dDt *= softplus'(x) = 1 - exp(-dt); the lane sums of g u and dDelta. */
    private static void finishChunk(Scratch s, int len, float[] dL, boolean sp, float[] sD, float[] sBias) {
        FloatVector dv = FloatVector.fromArray(F, dL, 0), one = FloatVector.broadcast(F, 1f),
                nl2e = FloatVector.broadcast(F, -LOG2E);
        FloatVector accD = FloatVector.fromArray(F, sD, 0), accB = FloatVector.fromArray(F, sBias, 0);
        for (int t = 0; t < len; t++) {
            int i = t * VL;
            FloatVector g = FloatVector.fromArray(F, s.gt, i);
            dv.fma(g, FloatVector.fromArray(F, s.du, i)).intoArray(s.du, i);
            accD = g.fma(FloatVector.fromArray(F, s.ut, i), accD);
            FloatVector dd = FloatVector.fromArray(F, s.dDt, i);
            if (sp) dd = dd.mul(one.sub(SimdMath.exp2Mul(FloatVector.fromArray(F, s.dtt, i), nl2e)));
            dd.intoArray(s.dDt, i);
            accB = accB.add(dd);
        }
        accD.intoArray(sD, 0);
        accB.intoArray(sBias, 0);
    }
}
