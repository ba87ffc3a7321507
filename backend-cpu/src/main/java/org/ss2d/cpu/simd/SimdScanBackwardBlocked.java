package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.I;
import static org.ss2d.cpu.simd.SimdConstants.ORDER;
import static org.ss2d.cpu.simd.SimdConstants.VL;
import static org.ss2d.cpu.simd.SimdMath.LOG2E;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
 * recomputes that chunk's {@code a_t} and {@code h_t} (2 T dstate VL floats, 64 KiB at dstate 16) from its saved
 * start, and runs {@code lam} backwards through it. Per chunk, delta, u and dout are read along time (full vectors:
 * softplus once per element) and turned into [step][lane] tiles by {@link Transpose}; du and dDelta go back the same way.
 *
 * <p>Both state loops take two states at a time over the chunk's steps, their recurrences in registers (the forward
 * kernel's shape); the reverse keeps {@code lam}, dA and the constant dB/dC sums of its two states in registers and adds
 * into per-step du/dDelta rows. Variable dB/dC need a sum over the lanes (channels) per state and step: the per-lane
 * terms are stored, and VL steps of one state are summed at once by a butterfly of two-source permutes ({@link #sum16}),
 * whose result is already VL consecutive steps of the dB/dC row (about 3 instructions per sum, where reduceLanes per
 * state and step took ~10 and was the largest cost of the first version).
 */
final class SimdScanBackwardBlocked {
    private SimdScanBackwardBlocked() {}

    /** Steps per chunk (a multiple of VL): a and h of a chunk take 2 T dstate VL floats (64 KiB at dstate 16, VL 16). */
    static final int T = 32;
    /**
     * Steps per super-chunk (a multiple of T): rows of delta, u, dout, B, C are read, and du, dDelta, dB, dC written,
     * this many steps at a time. Per chunk (2 vectors a row) the segment accesses cost more than the work: C2 re-checks
     * a segment's bounds and liveness per access in a short loop (the chunk preparation was 30% of the S5 backward).
     */
    static final int SC = 256;
    /** Row stride of the [lane][step] super-chunk tiles: SC plus a cache line (rows a multiple of 4 KiB apart share L1 sets). */
    static final int SCP = SC + 16;
    private static final float X_LIMIT = 80f;
    /** bits(-|x|) of the largest |delta + bias| taken (NaN lies above). */
    private static final int NAX_LIMIT = Guard.naxBits(X_LIMIT);
    /** Largest -dt A log2(e) of the capped exp2 (exact to -126; 1 of margin for the product's rounding). */
    private static final double CAPPED_MAX = 125;

    static final class Scratch {
        final int n, chunks;
        /** [lane][step] super-chunk rows (stride SCP): u, dout, and the du, dDelta results. */
        final float[] uR = new float[VL * SCP], gR = new float[VL * SCP], duR = new float[VL * SCP],
                ddR = new float[VL * SCP];
        /**
         * dt of the whole row block, [super-chunk][lane][step] (278 KiB at seqlen 4096), and each super-chunk's largest
         * dt: computed by the first pass, read by the second (softplus and the delta rows once per element).
         */
        final float[] dtAll, dtMaxAll;
        /** [step][lane] tiles of the chunk: dt, u, du = dt u, g, and the du/dDt sums. */
        final float[] dtC = new float[T * VL], uC = new float[T * VL], duC = new float[T * VL], gC = new float[T * VL],
                duAcc = new float[T * VL], dDtAcc = new float[T * VL], tmp = new float[256];
        /** [state][step][lane] of the chunk: a_t, h_t, and the per-lane terms of variable dB, dC. */
        final float[] a, h, gb, gc;
        /** Chunk-start states [chunk][state][lane]; the running states / lam carries [state][lane]. */
        final float[] hb, hs, carry, dA, sB, sC, a2, an, bc, cc;
        /** Of the super-chunk, [state][step] (stride SCP): B, C, and the block's share of variable dB, dC. */
        final float[] bS, cS, dBs, dCs;
        final float[] bias = new float[VL], dSkip = new float[VL], sD = new float[VL], sBias = new float[VL];
        /** Of the super-chunk just prepared: bits(-|x|) max (range check). */
        int naxMost;

        Scratch(int n, int seqlen) {
            this.n = n;
            this.chunks = (seqlen + T - 1) / T;
            int supers = (seqlen + SC - 1) / SC;
            dtAll = new float[supers * VL * SCP];
            dtMaxAll = new float[supers];
            a = new float[n * T * VL];
            h = new float[n * T * VL];
            gb = new float[n * T * VL];
            gc = new float[n * T * VL];
            hb = new float[chunks * n * VL];
            hs = new float[n * VL];
            carry = new float[n * VL];
            dA = new float[n * VL];
            sB = new float[n * VL];
            sC = new float[n * VL];
            a2 = new float[n * VL];
            an = new float[n * VL];
            bc = new float[n * VL];
            cc = new float[n * VL];
            bS = new float[n * SCP];
            cS = new float[n * SCP];
            dBs = new float[n * SCP];
            dCs = new float[n * SCP];
        }

        private static final ThreadLocal<Scratch> TL = new ThreadLocal<>();

        static Scratch forThread(int n, int seqlen) {
            Scratch s = TL.get();
            if (s == null || s.n != n || s.chunks < (seqlen + T - 1) / T || s.dtMaxAll.length < (seqlen + SC - 1) / SC) {
                s = new Scratch(n, seqlen);
                TL.set(s);
            }
            return s;
        }
    }

    static long scratchBytes(int seqlen, int dstate) {
        long chunks = (seqlen + T - 1) / T;
        long supers = (seqlen + SC - 1) / SC;
        return 4L * (4L * VL * SCP + supers * (VL * SCP + 1) + 6L * T * VL + 256 + 4L * dstate * T * VL + chunks * dstate * VL
                + 10L * dstate * VL + 4L * dstate * SCP + 4L * VL);
    }

    private static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
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
        float aMin = Float.POSITIVE_INFINITY;
        for (int k = 0; k < n; k++) {
            for (int lane = 0; lane < VL; lane++) {
                long an = (long) (d0 + lane) * n + k;
                float av = get(j.a(), an);
                s.an[k * VL + lane] = av;
                s.a2[k * VL + lane] = av * LOG2E;
                s.bc[k * VL + lane] = bVar ? 0f : get(j.b(), an);
                s.cc[k * VL + lane] = cVar ? 0f : get(j.c(), an);
                aMin = Math.min(aMin, av * LOG2E);
            }
        }
        // the exp2 without clamps where dt A log2(e) is known to lie in [-126, 0]: A <= 0 and dt A within the cap
        boolean aNonPos = j.softplus(); // dt >= 0 with softplus only
        for (int i = 0; i < n * VL; i++) aNonPos &= s.a2[i] <= 0f;
        for (int lane = 0; lane < VL; lane++) {
            s.bias[lane] = j.deltaBias() == null ? 0f : get(j.deltaBias(), d0 + lane);
            s.dSkip[lane] = j.dSkip() == null ? 0f : get(j.dSkip(), d0 + lane);
        }
        final long bRow = bVar ? j.bRow(b, d0) : 0, cRow = cVar ? j.cRow(b, d0) : 0;
        final long bStride = j.bStateStride(), cStride = j.cStateStride();
        // pass 1: states at every chunk start (and the range check, before anything is written)
        java.util.Arrays.fill(s.hs, 0, n * VL, 0f);
        for (int sc0 = 0; sc0 < l; sc0 += SC) {
            int slen = Math.min(SC, l - sc0);
            prep(j, row0, sc0, slen, s, true);
            if (s.naxMost > NAX_LIMIT) return false;
            if (bVar) loadRows(j.b(), bRow + sc0, bStride, n, slen, s.bS);
            boolean capped = aNonPos && (double) s.dtMaxAll[sc0 / SC] * -aMin <= CAPPED_MAX;
            for (int t0 = 0; t0 < slen; t0 += T) {
                int len = Math.min(T, slen - t0);
                System.arraycopy(s.hs, 0, s.hb, (sc0 + t0) / T * n * VL, n * VL);
                chunkLanes(s, sc0, t0, len, false);
                states(s, n, t0, len, bVar, capped, false);
            }
        }
        // pass 2: chunks last to first
        for (int k = 0; k < n; k++) {
            for (int lane = 0; lane < VL; lane++) {
                s.carry[k * VL + lane] = bj.dLastState() == null ? 0f
                        : get(bj.dLastState(), (long) (row0 + lane) * n + k); // lam_L = dlast_state, a_L = 1
            }
        }
        java.util.Arrays.fill(s.dA, 0, n * VL, 0f);
        java.util.Arrays.fill(s.sB, 0, n * VL, 0f);
        java.util.Arrays.fill(s.sC, 0, n * VL, 0f);
        java.util.Arrays.fill(s.sD, 0f);
        java.util.Arrays.fill(s.sBias, 0f);
        for (int sc0 = (l - 1) / SC * SC; sc0 >= 0; sc0 -= SC) {
            int slen = Math.min(SC, l - sc0);
            long off = (long) row0 * l + sc0;
            prep(j, row0, sc0, slen, s, false);
            loadRows(bj.dout(), off, l, VL, slen, s.gR);
            if (bVar) loadRows(j.b(), bRow + sc0, bStride, n, slen, s.bS);
            if (cVar) loadRows(j.c(), cRow + sc0, cStride, n, slen, s.cS);
            boolean capped = aNonPos && (double) s.dtMaxAll[sc0 / SC] * -aMin <= CAPPED_MAX;
            for (int t0 = (slen - 1) / T * T; t0 >= 0; t0 -= T) {
                int len = Math.min(T, slen - t0), padded = (len + VL - 1) / VL * VL, hbOff = (sc0 + t0) / T * n * VL;
                chunkLanes(s, sc0, t0, len, true);
                System.arraycopy(s.hb, hbOff, s.hs, 0, n * VL);
                states(s, n, t0, len, bVar, capped, true);
                java.util.Arrays.fill(s.duAcc, 0, len * VL, 0f);
                java.util.Arrays.fill(s.dDtAcc, 0, len * VL, 0f);
                if (padded > len) { // the lane sums take whole groups of VL steps: the steps past len add nothing
                    for (int k = 0; k < n; k++) {
                        java.util.Arrays.fill(s.gb, (k * T + len) * VL, (k * T + padded) * VL, 0f);
                        java.util.Arrays.fill(s.gc, (k * T + len) * VL, (k * T + padded) * VL, 0f);
                    }
                }
                reverse(s, n, hbOff, t0, len, bVar, cVar);
                if (bVar) laneSums(s.gb, n, t0, padded, s.dBs, s.tmp);
                if (cVar) laneSums(s.gc, n, t0, padded, s.dCs, s.tmp);
                finish(s, len, j.softplus());
                fromLanes(s.duAcc, s.duR, t0, padded, s.tmp);
                fromLanes(s.dDtAcc, s.ddR, t0, padded, s.tmp);
            }
            storeRows(s.duR, bj.du(), off, l, VL, slen);
            storeRows(s.ddR, bj.dDelta(), off, l, VL, slen);
            if (bVar) addRows(s.dBs, bj.dB(), bRow + sc0, bStride, n, slen);
            if (cVar) addRows(s.dCs, bj.dC(), cRow + sc0, cStride, n, slen);
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
            part[p0 + 3 * n] = s.sD[lane];
            part[p0 + 3 * n + 1] = s.sBias[lane];
        }
        return true;
    }

    // ------------------------------------------------------------------ rows <-> lanes

    /**
     * {@code count} rows of {@code len} steps, {@code stride} apart, into [row][step] (stride SCP), zero past len to a
     * whole vector: vector loads in a long loop (the segment checks hoisted), the last partial vector copied.
     */
    private static void loadRows(MemorySegment src, long off, long stride, int count, int len, float[] rows) {
        loadRows(src, off, stride, count, len, rows, 0);
    }

    /** As above, into rows from {@code base}. */
    private static void loadRows(MemorySegment src, long off, long stride, int count, int len, float[] rows, int base) {
        final int full = len & -VL;
        for (int r = 0; r < count; r++) {
            long at = off + r * stride;
            int to = base + r * SCP;
            for (int v = 0; v < full; v += VL) {
                FloatVector.fromMemorySegment(F, src, (at + v) * 4, ORDER).intoArray(rows, to + v);
            }
            if (full < len) {
                java.util.Arrays.fill(rows, to + len, to + full + VL, 0f);
                MemorySegment.copy(src, JAVA_FLOAT_UNALIGNED, (at + full) * 4, rows, to + full, len - full);
            }
        }
    }

    /** [row][step] rows (stride SCP) into memory: vector stores, the steps past the last full vector one by one. */
    private static void storeRows(float[] rows, MemorySegment dst, long off, long stride, int count, int len) {
        final int full = len & -VL;
        for (int r = 0; r < count; r++) {
            long at = off + r * stride;
            int from = r * SCP;
            for (int v = 0; v < full; v += VL) {
                FloatVector.fromArray(F, rows, from + v).intoMemorySegment(dst, (at + v) * 4, ORDER);
            }
            for (int t = full; t < len; t++) dst.setAtIndex(JAVA_FLOAT_UNALIGNED, at + t, rows[from + t]);
        }
    }

    /** dst rows += [row][step] rows (stride SCP). */
    private static void addRows(float[] rows, MemorySegment dst, long off, long stride, int count, int len) {
        final int full = len & -VL;
        for (int r = 0; r < count; r++) {
            long at = off + r * stride;
            int from = r * SCP;
            for (int v = 0; v < full; v += VL) {
                FloatVector.fromMemorySegment(F, dst, (at + v) * 4, ORDER).add(FloatVector.fromArray(F, rows, from + v))
                        .intoMemorySegment(dst, (at + v) * 4, ORDER);
            }
            for (int t = full; t < len; t++) dst.setAtIndex(JAVA_FLOAT_UNALIGNED, at + t, get(dst, at + t) + rows[from + t]);
        }
    }

    /** Steps [t0, t0 + len) of [lane][step] rows (stride SCP) to [step][lane], len a multiple of VL. */
    private static void toLanes(float[] rows, int t0, float[] lanes, int len, float[] tmp) {
        if (Transpose.ON) {
            for (int q = 0; q < len; q += 16) Transpose.tile(rows, t0 + q, SCP, lanes, q * 16, 16, tmp);
            return;
        }
        for (int t = 0; t < len; t++) {
            for (int lane = 0; lane < VL; lane++) lanes[t * VL + lane] = rows[lane * SCP + t0 + t];
        }
    }

    private static void fromLanes(float[] lanes, float[] rows, int t0, int len, float[] tmp) {
        if (Transpose.ON) {
            for (int q = 0; q < len; q += 16) Transpose.tile(lanes, q * 16, 16, rows, t0 + q, SCP, tmp);
            return;
        }
        for (int t = 0; t < len; t++) {
            for (int lane = 0; lane < VL; lane++) rows[lane * SCP + t0 + t] = lanes[t * VL + lane];
        }
    }

    /**
     * u of a super-chunk into [lane][step] rows; with {@code dt} (first pass), dt = softplus(delta + bias) into the
     * super-chunk's part of s.dtAll, with its range check ({@code s.naxMost}) and largest dt.
     */
    private static void prep(ScanJob j, int row0, int sc0, int slen, Scratch s, boolean withDt) {
        final int l = j.seqlen(), padded = (slen + VL - 1) / VL * VL, base = sc0 / SC * VL * SCP;
        final long off = (long) row0 * l + sc0;
        loadRows(j.u(), off, l, VL, slen, s.uR, 0);
        if (!withDt) return;
        loadRows(j.delta(), off, l, VL, slen, s.dtAll, base);
        IntVector most = IntVector.broadcast(I, Integer.MIN_VALUE);
        FloatVector dtMax = FloatVector.zero(F);
        final boolean sp = j.softplus();
        final float[] dtR = s.dtAll;
        for (int lane = 0; lane < VL; lane++) {
            FloatVector bv = FloatVector.broadcast(F, s.bias[lane]);
            for (int v = base + lane * SCP, end = v + padded; v < end; v += VL) {
                // the zero padding past slen runs too: bias alone, in range, never read by the state loops
                FloatVector x = FloatVector.fromArray(F, dtR, v).add(bv);
                IntVector nax = x.reinterpretAsInts().or(Integer.MIN_VALUE);
                most = most.max(nax);
                FloatVector dt = sp ? SimdMath.softplus(x, nax.reinterpretAsFloats()) : x;
                dtMax = dtMax.max(dt);
                dt.intoArray(dtR, v);
            }
        }
        s.naxMost = most.reduceLanes(VectorOperators.MAX);
        s.dtMaxAll[sc0 / SC] = dtMax.reduceLanes(VectorOperators.MAX);
    }

    /** The chunk at t0 of the super-chunk into [step][lane] tiles: dt, u, du = dt u, and with {@code g} dout. */
    private static void chunkLanes(Scratch s, int sc0, int t0, int len, boolean g) {
        int padded = (len + VL - 1) / VL * VL;
        toLanes(s.dtAll, sc0 / SC * VL * SCP + t0, s.dtC, padded, s.tmp);
        toLanes(s.uR, t0, s.uC, padded, s.tmp);
        if (g) toLanes(s.gR, t0, s.gC, padded, s.tmp);
        for (int t = 0; t < len; t++) {
            FloatVector.fromArray(F, s.dtC, t * VL).mul(FloatVector.fromArray(F, s.uC, t * VL)).intoArray(s.duC, t * VL);
        }
    }

    // ------------------------------------------------------------------ the state loops

    /** The recurrence over a chunk from s.hs (updated), two states at a time; with {@code keep}, a_t and h_t saved. */
    private static void states(Scratch s, int n, int t0, int len, boolean bVar, boolean capped, boolean keep) {
        int k = 0;
        for (; k + 2 <= n; k += 2) pair(s, k, t0, len, bVar, capped, keep);
        if (k < n) single(s, k, t0, len, bVar, keep);
    }

    /**
     * Two states over the chunk, h in registers; {@code capped}: dt A log2(e) is known to lie in [-126, 0], the exp2
     * goes without its clamps (C2 unswitches the loop on the flags).
     */
    private static void pair(Scratch s, int k, int t0, int len, boolean bVar, boolean capped, boolean keep) {
        final float[] bS = s.bS, dtC = s.dtC, duC = s.duC, av = s.a, hv = s.h;
        final FloatVector a0 = FloatVector.fromArray(F, s.a2, k * VL), a1 = FloatVector.fromArray(F, s.a2, k * VL + VL);
        final FloatVector bc0 = FloatVector.fromArray(F, s.bc, k * VL), bc1 = FloatVector.fromArray(F, s.bc, k * VL + VL);
        final int r0 = k * SCP + t0, r1 = r0 + SCP, o0 = k * T * VL, o1 = o0 + T * VL;
        FloatVector h0 = FloatVector.fromArray(F, s.hs, k * VL), h1 = FloatVector.fromArray(F, s.hs, k * VL + VL);
        for (int t = 0; t < len; t++) {
            FloatVector dt = FloatVector.fromArray(F, dtC, t * VL), du = FloatVector.fromArray(F, duC, t * VL);
            FloatVector b0 = bVar ? FloatVector.broadcast(F, bS[r0 + t]) : bc0;
            FloatVector b1 = bVar ? FloatVector.broadcast(F, bS[r1 + t]) : bc1;
            FloatVector e0 = capped ? SimdMath.exp2MulCapped(dt, a0) : SimdMath.exp2Mul(dt, a0);
            FloatVector e1 = capped ? SimdMath.exp2MulCapped(dt, a1) : SimdMath.exp2Mul(dt, a1);
            h0 = e0.fma(h0, du.mul(b0));
            h1 = e1.fma(h1, du.mul(b1));
            if (keep) {
                e0.intoArray(av, o0 + t * VL);
                e1.intoArray(av, o1 + t * VL);
                h0.intoArray(hv, o0 + t * VL);
                h1.intoArray(hv, o1 + t * VL);
            }
        }
        h0.intoArray(s.hs, k * VL);
        h1.intoArray(s.hs, k * VL + VL);
    }

    private static void single(Scratch s, int k, int t0, int len, boolean bVar, boolean keep) {
        final float[] bS = s.bS, dtC = s.dtC, duC = s.duC;
        final FloatVector a0 = FloatVector.fromArray(F, s.a2, k * VL), bc0 = FloatVector.fromArray(F, s.bc, k * VL);
        final int r0 = k * SCP + t0, o0 = k * T * VL;
        FloatVector h0 = FloatVector.fromArray(F, s.hs, k * VL);
        for (int t = 0; t < len; t++) {
            FloatVector dt = FloatVector.fromArray(F, dtC, t * VL), du = FloatVector.fromArray(F, duC, t * VL);
            FloatVector b0 = bVar ? FloatVector.broadcast(F, bS[r0 + t]) : bc0;
            FloatVector e0 = SimdMath.exp2Mul(dt, a0);
            h0 = e0.fma(h0, du.mul(b0));
            if (keep) {
                e0.intoArray(s.a, o0 + t * VL);
                h0.intoArray(s.h, o0 + t * VL);
            }
        }
        h0.intoArray(s.hs, k * VL);
    }

    /** The reverse recurrence over the chunk for every state, two at a time; hbOff: the chunk's start states in s.hb. */
    private static void reverse(Scratch s, int n, int hbOff, int t0, int len, boolean bVar, boolean cVar) {
        int k = 0;
        for (; k + 4 <= n; k += 4) reverseQuad(s, k, hbOff, t0, len, bVar, cVar);
        for (; k + 2 <= n; k += 2) reversePair(s, k, hbOff, t0, len, bVar, cVar);
        if (k < n) reverseState(s, k, hbOff, t0, len, bVar, cVar);
    }

    /** {@link #reversePair} for four states (k .. k + 3): the step's rows loaded and du/dDt stored once for all four. */
    private static void reverseQuad(Scratch s, int k, int hbOff, int t0, int len, boolean bVar, boolean cVar) {
        final float[] bS = s.bS, cS = s.cS, dtC = s.dtC, uC = s.uC, duC = s.duC, gC = s.gC, av = s.a, hv = s.h,
                duAcc = s.duAcc, dDtAcc = s.dDtAcc, gbs = s.gb, gcs = s.gc;
        final int kv0 = (k + 0) * VL, r0 = (k + 0) * SCP + t0, o0 = (k + 0) * T * VL;
        final FloatVector an0 = FloatVector.fromArray(F, s.an, kv0), bc0 = FloatVector.fromArray(F, s.bc, kv0),
                cc0 = FloatVector.fromArray(F, s.cc, kv0);
        FloatVector carry0 = FloatVector.fromArray(F, s.carry, kv0), dA0 = FloatVector.fromArray(F, s.dA, kv0),
                sB0 = FloatVector.fromArray(F, s.sB, kv0), sC0 = FloatVector.fromArray(F, s.sC, kv0),
                h0 = FloatVector.fromArray(F, hv, o0 + (len - 1) * VL);
        final int kv1 = (k + 1) * VL, r1 = (k + 1) * SCP + t0, o1 = (k + 1) * T * VL;
        final FloatVector an1 = FloatVector.fromArray(F, s.an, kv1), bc1 = FloatVector.fromArray(F, s.bc, kv1),
                cc1 = FloatVector.fromArray(F, s.cc, kv1);
        FloatVector carry1 = FloatVector.fromArray(F, s.carry, kv1), dA1 = FloatVector.fromArray(F, s.dA, kv1),
                sB1 = FloatVector.fromArray(F, s.sB, kv1), sC1 = FloatVector.fromArray(F, s.sC, kv1),
                h1 = FloatVector.fromArray(F, hv, o1 + (len - 1) * VL);
        final int kv2 = (k + 2) * VL, r2 = (k + 2) * SCP + t0, o2 = (k + 2) * T * VL;
        final FloatVector an2 = FloatVector.fromArray(F, s.an, kv2), bc2 = FloatVector.fromArray(F, s.bc, kv2),
                cc2 = FloatVector.fromArray(F, s.cc, kv2);
        FloatVector carry2 = FloatVector.fromArray(F, s.carry, kv2), dA2 = FloatVector.fromArray(F, s.dA, kv2),
                sB2 = FloatVector.fromArray(F, s.sB, kv2), sC2 = FloatVector.fromArray(F, s.sC, kv2),
                h2 = FloatVector.fromArray(F, hv, o2 + (len - 1) * VL);
        final int kv3 = (k + 3) * VL, r3 = (k + 3) * SCP + t0, o3 = (k + 3) * T * VL;
        final FloatVector an3 = FloatVector.fromArray(F, s.an, kv3), bc3 = FloatVector.fromArray(F, s.bc, kv3),
                cc3 = FloatVector.fromArray(F, s.cc, kv3);
        FloatVector carry3 = FloatVector.fromArray(F, s.carry, kv3), dA3 = FloatVector.fromArray(F, s.dA, kv3),
                sB3 = FloatVector.fromArray(F, s.sB, kv3), sC3 = FloatVector.fromArray(F, s.sC, kv3),
                h3 = FloatVector.fromArray(F, hv, o3 + (len - 1) * VL);
        for (int t = len - 1; t >= 0; t--) {
            int i = t * VL;
            FloatVector g = FloatVector.fromArray(F, gC, i), dt = FloatVector.fromArray(F, dtC, i);
            FloatVector u = FloatVector.fromArray(F, uC, i), du = FloatVector.fromArray(F, duC, i);
            FloatVector duA = FloatVector.fromArray(F, duAcc, i), ddA = FloatVector.fromArray(F, dDtAcc, i);
            FloatVector hPrev0 = t > 0 ? FloatVector.fromArray(F, hv, o0 + i - VL) : FloatVector.fromArray(F, s.hb, hbOff + kv0);
            FloatVector a0 = FloatVector.fromArray(F, av, o0 + i), ah0 = a0.mul(hPrev0);
            FloatVector b0 = bVar ? FloatVector.broadcast(F, bS[r0 + t]) : bc0;
            FloatVector lam0 = (cVar ? FloatVector.broadcast(F, cS[r0 + t]) : cc0).fma(g, carry0);
            FloatVector ld0 = lam0.mul(dt);
            duA = ld0.fma(b0, duA);
            ddA = lam0.fma(an0.fma(ah0, u.mul(b0)), ddA);
            dA0 = ld0.fma(ah0, dA0);
            if (bVar) lam0.mul(du).intoArray(gbs, o0 + i);
            else sB0 = lam0.fma(du, sB0);
            if (cVar) g.mul(h0).intoArray(gcs, o0 + i);
            else sC0 = g.fma(h0, sC0);
            carry0 = a0.mul(lam0);
            h0 = hPrev0;
            FloatVector hPrev1 = t > 0 ? FloatVector.fromArray(F, hv, o1 + i - VL) : FloatVector.fromArray(F, s.hb, hbOff + kv1);
            FloatVector a1 = FloatVector.fromArray(F, av, o1 + i), ah1 = a1.mul(hPrev1);
            FloatVector b1 = bVar ? FloatVector.broadcast(F, bS[r1 + t]) : bc1;
            FloatVector lam1 = (cVar ? FloatVector.broadcast(F, cS[r1 + t]) : cc1).fma(g, carry1);
            FloatVector ld1 = lam1.mul(dt);
            duA = ld1.fma(b1, duA);
            ddA = lam1.fma(an1.fma(ah1, u.mul(b1)), ddA);
            dA1 = ld1.fma(ah1, dA1);
            if (bVar) lam1.mul(du).intoArray(gbs, o1 + i);
            else sB1 = lam1.fma(du, sB1);
            if (cVar) g.mul(h1).intoArray(gcs, o1 + i);
            else sC1 = g.fma(h1, sC1);
            carry1 = a1.mul(lam1);
            h1 = hPrev1;
            FloatVector hPrev2 = t > 0 ? FloatVector.fromArray(F, hv, o2 + i - VL) : FloatVector.fromArray(F, s.hb, hbOff + kv2);
            FloatVector a2 = FloatVector.fromArray(F, av, o2 + i), ah2 = a2.mul(hPrev2);
            FloatVector b2 = bVar ? FloatVector.broadcast(F, bS[r2 + t]) : bc2;
            FloatVector lam2 = (cVar ? FloatVector.broadcast(F, cS[r2 + t]) : cc2).fma(g, carry2);
            FloatVector ld2 = lam2.mul(dt);
            duA = ld2.fma(b2, duA);
            ddA = lam2.fma(an2.fma(ah2, u.mul(b2)), ddA);
            dA2 = ld2.fma(ah2, dA2);
            if (bVar) lam2.mul(du).intoArray(gbs, o2 + i);
            else sB2 = lam2.fma(du, sB2);
            if (cVar) g.mul(h2).intoArray(gcs, o2 + i);
            else sC2 = g.fma(h2, sC2);
            carry2 = a2.mul(lam2);
            h2 = hPrev2;
            FloatVector hPrev3 = t > 0 ? FloatVector.fromArray(F, hv, o3 + i - VL) : FloatVector.fromArray(F, s.hb, hbOff + kv3);
            FloatVector a3 = FloatVector.fromArray(F, av, o3 + i), ah3 = a3.mul(hPrev3);
            FloatVector b3 = bVar ? FloatVector.broadcast(F, bS[r3 + t]) : bc3;
            FloatVector lam3 = (cVar ? FloatVector.broadcast(F, cS[r3 + t]) : cc3).fma(g, carry3);
            FloatVector ld3 = lam3.mul(dt);
            duA = ld3.fma(b3, duA);
            ddA = lam3.fma(an3.fma(ah3, u.mul(b3)), ddA);
            dA3 = ld3.fma(ah3, dA3);
            if (bVar) lam3.mul(du).intoArray(gbs, o3 + i);
            else sB3 = lam3.fma(du, sB3);
            if (cVar) g.mul(h3).intoArray(gcs, o3 + i);
            else sC3 = g.fma(h3, sC3);
            carry3 = a3.mul(lam3);
            h3 = hPrev3;
            duA.intoArray(duAcc, i);
            ddA.intoArray(dDtAcc, i);
        }
        carry0.intoArray(s.carry, kv0);
        dA0.intoArray(s.dA, kv0);
        sB0.intoArray(s.sB, kv0);
        sC0.intoArray(s.sC, kv0);
        carry1.intoArray(s.carry, kv1);
        dA1.intoArray(s.dA, kv1);
        sB1.intoArray(s.sB, kv1);
        sC1.intoArray(s.sC, kv1);
        carry2.intoArray(s.carry, kv2);
        dA2.intoArray(s.dA, kv2);
        sB2.intoArray(s.sB, kv2);
        sC2.intoArray(s.sC, kv2);
        carry3.intoArray(s.carry, kv3);
        dA3.intoArray(s.dA, kv3);
        sB3.intoArray(s.sB, kv3);
        sC3.intoArray(s.sC, kv3);
    }

    /**
     * {@link #reverseState} for states k and k + 1 in one sweep: the step's g, dt, u, du and the du/dDt rows are loaded
     * once for both, and du/dDt stored once. The same operations in the same order as the two states one after the
     * other (state k's terms added into du/dDt before state k + 1's), so the same bits.
     */
    private static void reversePair(Scratch s, int k, int hbOff, int t0, int len, boolean bVar, boolean cVar) {
        final float[] bS = s.bS, cS = s.cS, dtC = s.dtC, uC = s.uC, duC = s.duC, gC = s.gC, av = s.a, hv = s.h,
                duAcc = s.duAcc, dDtAcc = s.dDtAcc, gbs = s.gb, gcs = s.gc;
        final int kv = k * VL, kw = kv + VL, r0 = k * SCP + t0, r1 = r0 + SCP, o0 = k * T * VL, o1 = o0 + T * VL;
        final FloatVector an0 = FloatVector.fromArray(F, s.an, kv), an1 = FloatVector.fromArray(F, s.an, kw),
                bc0 = FloatVector.fromArray(F, s.bc, kv), bc1 = FloatVector.fromArray(F, s.bc, kw),
                cc0 = FloatVector.fromArray(F, s.cc, kv), cc1 = FloatVector.fromArray(F, s.cc, kw);
        FloatVector carry0 = FloatVector.fromArray(F, s.carry, kv), carry1 = FloatVector.fromArray(F, s.carry, kw),
                dA0 = FloatVector.fromArray(F, s.dA, kv), dA1 = FloatVector.fromArray(F, s.dA, kw),
                sB0 = FloatVector.fromArray(F, s.sB, kv), sB1 = FloatVector.fromArray(F, s.sB, kw),
                sC0 = FloatVector.fromArray(F, s.sC, kv), sC1 = FloatVector.fromArray(F, s.sC, kw);
        FloatVector h0 = FloatVector.fromArray(F, hv, o0 + (len - 1) * VL), h1 = FloatVector.fromArray(F, hv, o1 + (len - 1) * VL);
        for (int t = len - 1; t >= 0; t--) {
            int i = t * VL;
            FloatVector hPrev0 = t > 0 ? FloatVector.fromArray(F, hv, o0 + i - VL) : FloatVector.fromArray(F, s.hb, hbOff + kv);
            FloatVector hPrev1 = t > 0 ? FloatVector.fromArray(F, hv, o1 + i - VL) : FloatVector.fromArray(F, s.hb, hbOff + kw);
            FloatVector a0 = FloatVector.fromArray(F, av, o0 + i), ah0 = a0.mul(hPrev0);
            FloatVector a1 = FloatVector.fromArray(F, av, o1 + i), ah1 = a1.mul(hPrev1);
            FloatVector b0 = bVar ? FloatVector.broadcast(F, bS[r0 + t]) : bc0;
            FloatVector b1 = bVar ? FloatVector.broadcast(F, bS[r1 + t]) : bc1;
            FloatVector c0 = cVar ? FloatVector.broadcast(F, cS[r0 + t]) : cc0;
            FloatVector c1 = cVar ? FloatVector.broadcast(F, cS[r1 + t]) : cc1;
            FloatVector g = FloatVector.fromArray(F, gC, i), dt = FloatVector.fromArray(F, dtC, i);
            FloatVector u = FloatVector.fromArray(F, uC, i), du = FloatVector.fromArray(F, duC, i);
            FloatVector lam0 = c0.fma(g, carry0), lam1 = c1.fma(g, carry1);
            FloatVector ld0 = lam0.mul(dt), ld1 = lam1.mul(dt);
            ld1.fma(b1, ld0.fma(b0, FloatVector.fromArray(F, duAcc, i))).intoArray(duAcc, i);
            FloatVector dd = lam0.fma(an0.fma(ah0, u.mul(b0)), FloatVector.fromArray(F, dDtAcc, i));
            lam1.fma(an1.fma(ah1, u.mul(b1)), dd).intoArray(dDtAcc, i);
            dA0 = ld0.fma(ah0, dA0);
            dA1 = ld1.fma(ah1, dA1);
            if (bVar) {
                lam0.mul(du).intoArray(gbs, o0 + i);
                lam1.mul(du).intoArray(gbs, o1 + i);
            } else {
                sB0 = lam0.fma(du, sB0);
                sB1 = lam1.fma(du, sB1);
            }
            if (cVar) {
                g.mul(h0).intoArray(gcs, o0 + i);
                g.mul(h1).intoArray(gcs, o1 + i);
            } else {
                sC0 = g.fma(h0, sC0);
                sC1 = g.fma(h1, sC1);
            }
            carry0 = a0.mul(lam0);
            carry1 = a1.mul(lam1);
            h0 = hPrev0;
            h1 = hPrev1;
        }
        carry0.intoArray(s.carry, kv);
        carry1.intoArray(s.carry, kw);
        dA0.intoArray(s.dA, kv);
        dA1.intoArray(s.dA, kw);
        sB0.intoArray(s.sB, kv);
        sB1.intoArray(s.sB, kw);
        sC0.intoArray(s.sC, kv);
        sC1.intoArray(s.sC, kw);
    }

    /**
     * One state, steps last to first: {@code lam_t = C_t g_t + a_{t+1} lam_{t+1}} (the carry {@code a_{t+1}
     * lam_{t+1}} in s.carry between chunks), its share of du and dDt (added into the per-step rows), dA and the
     * constant dB/dC sums in registers, the per-lane terms of variable dB/dC stored for {@link #addLaneSums}.
     */
    private static void reverseState(Scratch s, int k, int hbOff, int t0, int len, boolean bVar, boolean cVar) {
        final float[] bS = s.bS, cS = s.cS, dtC = s.dtC, uC = s.uC, duC = s.duC, gC = s.gC, av = s.a, hv = s.h,
                duAcc = s.duAcc, dDtAcc = s.dDtAcc, gbs = s.gb, gcs = s.gc;
        final int kv = k * VL, r0 = k * SCP + t0, o0 = k * T * VL;
        final FloatVector an = FloatVector.fromArray(F, s.an, kv), bc = FloatVector.fromArray(F, s.bc, kv),
                cc = FloatVector.fromArray(F, s.cc, kv);
        FloatVector carry = FloatVector.fromArray(F, s.carry, kv), dA = FloatVector.fromArray(F, s.dA, kv),
                sB = FloatVector.fromArray(F, s.sB, kv), sC = FloatVector.fromArray(F, s.sC, kv);
        FloatVector h = FloatVector.fromArray(F, hv, o0 + (len - 1) * VL);
        for (int t = len - 1; t >= 0; t--) {
            int i = t * VL;
            FloatVector hPrev = t > 0 ? FloatVector.fromArray(F, hv, o0 + i - VL) : FloatVector.fromArray(F, s.hb, hbOff + kv);
            FloatVector a = FloatVector.fromArray(F, av, o0 + i), ah = a.mul(hPrev);
            FloatVector b = bVar ? FloatVector.broadcast(F, bS[r0 + t]) : bc;
            FloatVector c = cVar ? FloatVector.broadcast(F, cS[r0 + t]) : cc;
            FloatVector g = FloatVector.fromArray(F, gC, i), dt = FloatVector.fromArray(F, dtC, i);
            FloatVector lam = c.fma(g, carry);
            FloatVector ld = lam.mul(dt);
            ld.fma(b, FloatVector.fromArray(F, duAcc, i)).intoArray(duAcc, i);
            lam.fma(an.fma(ah, FloatVector.fromArray(F, uC, i).mul(b)), FloatVector.fromArray(F, dDtAcc, i))
                    .intoArray(dDtAcc, i);
            dA = ld.fma(ah, dA);
            FloatVector du = FloatVector.fromArray(F, duC, i);
            if (bVar) lam.mul(du).intoArray(gbs, o0 + i);
            else sB = lam.fma(du, sB);
            if (cVar) g.mul(h).intoArray(gcs, o0 + i);
            else sC = g.fma(h, sC);
            carry = a.mul(lam);
            h = hPrev;
        }
        carry.intoArray(s.carry, kv);
        dA.intoArray(s.dA, kv);
        sB.intoArray(s.sB, kv);
        sC.intoArray(s.sC, kv);
    }

    // ------------------------------------------------------------------ lane sums of variable dB/dC

    /**
     * Index vectors of the two-source permutes of the lane sums, per stage w: lanes with bit w clear take the first
     * input's lanes j and j + w, those with it set the second's j - w and j. Static finals picked by constants (an
     * IntVector from an array or a parameter leaves C2 no static type for selectFrom: not intrinsified, boxed).
     */
    private static final IntVector LO8 = index(8, false), HI8 = index(8, true), LO4 = index(4, false),
            HI4 = index(4, true), LO2 = index(2, false), HI2 = index(2, true), LO1 = index(1, false),
            HI1 = index(1, true);

    private static IntVector index(int w, boolean hi) {
        int[] x = new int[VL];
        for (int j = 0; j < VL; j++) {
            boolean first = (j & w) == 0;
            x[j] = (hi ? (first ? j + w : VL + j) : (first ? j : VL + j - w)) % (2 * VL);
        }
        return IntVector.fromArray(I, x, 0);
    }

    /**
     * Lane j of dst[dOff..dOff + 16) = the sum of the lanes of the vector at {@code src[off + j * VL]} (j in [0, 16)),
     * in one fixed order: a butterfly whose stage w adds lanes w apart of two vectors whose index differs in bit w, keeping
     * each one's partial sums in the lanes whose bit w matches its index (15 steps of two permutes and an add for 16
     * sums). Two stages per call ({@link #comb2}, five calls), the stages' outputs passed through tmp between calls:
     * the 15 steps inlined into one method passed C2's inlining budget and the vectors got boxed (lane sums were then
     * 54% of the backward); one stage per call stored and re-read every intermediate vector (S5 1.14x the time of this).
     */
    private static void sum16(float[] src, int off, float[] tmp, float[] dst, int dOff) {
        for (int i = 0; i < 4; i++) { // tmp[i] = stage 4 of (stage 8 of (i, i + 8), stage 8 of (i + 4, i + 12))
            comb2(src, off + i * VL, off + (i + 8) * VL, off + (i + 4) * VL, off + (i + 12) * VL, tmp, i * VL, false);
        }
        comb2(tmp, 0, 2 * VL, VL, 3 * VL, dst, dOff, true); // stage 1 of (stage 2 of (0, 2), stage 2 of (1, 3))
    }

    /**
     * Two butterfly stages in registers: {@code combB(combA(p, q), combA(r, s))} into dst at d, with (A, B) = (8, 4), or
     * (2, 1) when {@code last}: the same adds in the same order as the one-stage steps
     * this replaced (each stored and re-read its vectors), with the intermediate
     * vectors kept in registers instead of stored and re-read (30 loads and 15 stores per 16 sums -> 20 and 5).
     */
    private static void comb2(float[] a, int p, int q, int r, int s, float[] dst, int d, boolean last) {
        final IntVector loA = last ? LO2 : LO8, hiA = last ? HI2 : HI8, loB = last ? LO1 : LO4, hiB = last ? HI1 : HI4;
        IntVector pi = FloatVector.fromArray(F, a, p).reinterpretAsInts(), qi = FloatVector.fromArray(F, a, q).reinterpretAsInts();
        IntVector ri = FloatVector.fromArray(F, a, r).reinterpretAsInts(), si = FloatVector.fromArray(F, a, s).reinterpretAsInts();
        IntVector x = loA.selectFrom(pi, qi).reinterpretAsFloats().add(hiA.selectFrom(pi, qi).reinterpretAsFloats())
                .reinterpretAsInts();
        IntVector y = loA.selectFrom(ri, si).reinterpretAsFloats().add(hiA.selectFrom(ri, si).reinterpretAsFloats())
                .reinterpretAsInts();
        loB.selectFrom(x, y).reinterpretAsFloats().add(hiB.selectFrom(x, y).reinterpretAsFloats()).intoArray(dst, d);
    }

    /** {@link #sum16} for narrower vectors (tests): lane j = the lanes of vector j added in order. */
    private static void sumNarrow(float[] src, int off, float[] out, int outOff) {
        for (int j = 0; j < VL; j++) {
            float x = 0f;
            for (int lane = 0; lane < VL; lane++) x += src[off + j * VL + lane];
            out[outOff + j] = x;
        }
    }

    /**
     * Variable dB (or dC) of the chunk's steps: for every state, the lane sums of its stored terms, VL steps at once,
     * into the super-chunk's [state][step] rows at t0 (added to memory once per super-chunk).
     */
    private static void laneSums(float[] terms, int n, int t0, int padded, float[] rows, float[] tmp) {
        for (int k = 0; k < n; k++) {
            for (int q = 0; q < padded; q += VL) {
                int src = (k * T + q) * VL;
                if (Transpose.ON) sum16(terms, src, tmp, rows, k * SCP + t0 + q);
                else sumNarrow(terms, src, rows, k * SCP + t0 + q);
            }
        }
    }

    // ------------------------------------------------------------------ finish

    /** du += D g; dDt *= softplus'(x) = 1 - exp(-dt); the per-lane sums of g u and dDelta. */
    private static void finish(Scratch s, int len, boolean sp) {
        FloatVector dv = FloatVector.fromArray(F, s.dSkip, 0), one = FloatVector.broadcast(F, 1f),
                nl2e = FloatVector.broadcast(F, -LOG2E);
        FloatVector accD = FloatVector.fromArray(F, s.sD, 0), accB = FloatVector.fromArray(F, s.sBias, 0);
        // steps last to first, as the reverse pass: the per-lane sums then run in one order along the row
        for (int t = len - 1; t >= 0; t--) {
            int i = t * VL;
            FloatVector g = FloatVector.fromArray(F, s.gC, i);
            dv.fma(g, FloatVector.fromArray(F, s.duAcc, i)).intoArray(s.duAcc, i);
            accD = g.fma(FloatVector.fromArray(F, s.uC, i), accD);
            FloatVector dd = FloatVector.fromArray(F, s.dDtAcc, i);
            if (sp) dd = dd.mul(one.sub(SimdMath.exp2Mul(FloatVector.fromArray(F, s.dtC, i), nl2e)));
            dd.intoArray(s.dDtAcc, i);
            accB = accB.add(dd);
        }
        accD.intoArray(s.sD, 0);
        accB.intoArray(s.sBias, 0);
    }
}
