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
import org.ss2d.cpu.kernel.ScanJob;
import org.ss2d.tensor.DType;

/**
 * Selective scan with lanes = the {@code VL} channels of one block (one batch, one group), the layout of
 * the C anchor: the recurrence is then one FMA per state per step for VL channels at once, B and C
 * are scalars broadcast per step, and nothing is scanned across lanes. Per chunk of {@code T} steps:
 * dt = softplus(delta + bias) and dt*u are computed along time (full vectors, no transpose), the
 * [channel][time] tiles are turned into [time][channel] with gathers, the state loop runs, and y is
 * gathered back into rows. B/C rows of the chunk are staged contiguously first: rows L floats apart
 * share L1 sets when L is a power of two. Pays off when dstate is large enough to amortise the
 * transposes; the time-lane kernel ({@link SimdScan}) covers everything else.
 */
final class SimdScanBlocked {
    private SimdScanBlocked() {}

    /** Steps per chunk of the state loop (a multiple of VL). */
    static final int T = 64;
    /**
     * Steps per super-chunk: delta, u and out are streamed one row at a time over this many steps (16
     * interleaved row streams defeat the hardware prefetcher, and Java has no prefetch instruction);
     * the row tiles (3 x VL x SC floats) and the staged B/C of the super-chunk stay in L2. 1024: in-process A/B
     * on S5 (2,2048,1,4096,16) 0.94x the time of 2048 at 1 and 2 threads (2048's ~650 KB per thread crowded the
     * 1 MiB L2); 512 about the same as 1024, 256 11-16% slower.
     */
    static final int SC = 1024;
    /**
     * Row stride of the [channel][time] tiles: SC plus one cache line, so that the VL rows' same steps fall in
     * different L1 sets (at a stride of a multiple of 4 KiB all 16 map to one 8-way set and evict each other).
     */
    static final int SCP = SC + 16;

    /** Per-thread buffers. */
    static final class Scratch {
        final float[] dtT = new float[VL * SCP], duT = new float[VL * SCP], yT = new float[VL * SCP],
                dtC = new float[T * VL], duC = new float[T * VL], yC = new float[T * VL], tmp = new float[256];
        final float[] a2T, bT, cT, bStage, cStage;
        /**
         * Of the current block and super-chunk: the largest bits(-|delta + bias|) and, with softplus, bits(dt), else
         * bits(-(delta + bias)), over its rows (see Guard); the range of A log2(e) over its channels.
         */
        int naxMost, secondMost;
        float aMin, aMax;
        /** The states of each block of a run, [block][state][channel]; hSaved: a block's at the super-chunk's start. */
        float[] h, hSaved;
        /** Blocks of the run that went to the exact path (for the rest of their rows). */
        boolean[] exact = new boolean[8];
        /**
         * 16-bit activations only (made on first use): a row's widened delta, u and z over a super-chunk (zero-padded
         * to whole vectors), the 16-bit buffer of the conversions, and the rows of the run whose gated out came out
         * NaN or infinite.
         */
        float[] dxH, uxH, zxH;
        short[] tmpH;
        boolean[] gateBad = new boolean[0];

        private static final ThreadLocal<java.lang.ref.SoftReference<Scratch>> KEPT = new ThreadLocal<>();

        /** Bytes of a thread's scratch for dstate {@code n}, with the states of up to {@code cpg} channels in a run. */
        static long bytes(int n, int cpg) {
            long floats = 3L * VL * SCP + 3L * T * VL + 256 + 5L * n * VL + 2L * n * SCP + (long) cpg * n;
            return 4 * floats;
        }

        /**
         * This thread's scratch for dstate {@code n} or more, kept between calls (softly): a fresh one per task
         * was ~6.5 MB allocated and zeroed per S5 call at 2 threads (16 tasks), and young GCs every few calls.
         */
        static Scratch forThread(int n) {
            java.lang.ref.SoftReference<Scratch> ref = KEPT.get();
            Scratch s = ref == null ? null : ref.get();
            if (s == null || s.a2T.length < n * VL) KEPT.set(new java.lang.ref.SoftReference<>(s = new Scratch(n)));
            return s;
        }

        Scratch(int n) {
            h = new float[n * VL];
            hSaved = new float[n * VL];
            a2T = new float[n * VL];
            bT = new float[n * VL];
            cT = new float[n * VL];
            bStage = new float[n * SCP];
            cStage = new float[n * SCP];
        }
    }

    static long scratchBytes(int n, int cpg) {
        return Scratch.bytes(n, cpg);
    }

    private static float get(MemorySegment m, long i) {
        return m.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    /**
     * Rows {@code [row0, row0 + blocks * VL)}: one batch, one group (the caller checks). Super-chunk by
     * super-chunk, the staged B/C serve every block of the run (staged per block, they were ~10% of S5); each
     * block keeps its states in {@code s.h} at {@code blk * n * VL}.
     */
    static void blocks(ScanJob j, int row0, int blocks, Scratch s) {
        blocks(j, row0, blocks, s, null, false);
    }

    /**
     * {@link #blocks} on 16-bit activations ({@code half} null: float32): u, delta, z and variable B/C hold
     * {@code half}, out too when {@code outHalf}. Only the row passes differ: the staged B/C and the rows of delta and u
     * are widened into the float buffers (super-chunk by super-chunk, no copy of a whole row), and out is written by
     * {@link #outRowHalf}, with the z gate fused before the one rounding (the exact path gates these rows too).
     */
    static void blocks(ScanJob j, int row0, int blocks, Scratch s, DType half, boolean outHalf) {
        final int l = j.seqlen(), n = j.dstate(), b = row0 / j.dim(), dr0 = row0 % j.dim();
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        final long bRow = bVar ? j.bRow(b, dr0) : 0, cRow = cVar ? j.cRow(b, dr0) : 0;
        if (s.h.length < blocks * n * VL) s.h = new float[blocks * n * VL];
        java.util.Arrays.fill(s.h, 0, blocks * n * VL, 0f);
        if (s.exact.length < blocks) s.exact = new boolean[blocks];
        java.util.Arrays.fill(s.exact, 0, blocks, false);
        final boolean sp = j.softplus(), bf16 = half == DType.BF16;
        if (half != null) {
            if (s.dxH == null) {
                s.dxH = new float[SCP];
                s.uxH = new float[SCP];
                s.zxH = new float[SCP];
                s.tmpH = new short[SCP];
            }
            if (s.gateBad.length < blocks * VL) s.gateBad = new boolean[blocks * VL];
            java.util.Arrays.fill(s.gateBad, 0, blocks * VL, false);
        }
        for (int s0 = 0; s0 < l; s0 += SC) {
            int slen = Math.min(SC, l - s0);
            if (half != null) {
                if (bVar) stageHalf(bf16, j.b(), bRow + s0, j.bStateStride(), n, slen, s.bStage);
                if (cVar) stageHalf(bf16, j.c(), cRow + s0, j.cStateStride(), n, slen, s.cStage);
            } else {
                if (bVar) stage(j.b(), bRow + s0, j.bStateStride(), n, slen, s.bStage);
                if (cVar) stage(j.c(), cRow + s0, j.cStateStride(), n, slen, s.cStage);
            }
            for (int blk = 0; blk < blocks; blk++) {
                if (s.exact[blk]) continue; // done to the end of its rows
                int r0 = row0 + blk * VL, d0 = dr0 + blk * VL, hOff = blk * n * VL;
                constants(j, d0, n, bVar, cVar, s);
                double lim = Guard.limit(sp, s.aMin, s.aMax);
                s.naxMost = s.secondMost = Integer.MIN_VALUE;
                for (int c = 0; lim >= 0 && c < VL; c++) {
                    float bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d0 + c);
                    if (half != null) {
                        prepRowHalf(bf16, j.delta(), j.u(), (long) (r0 + c) * l + s0, slen, bias, sp, s.dtT, s.duT, c * SCP, s);
                    } else {
                        prepRow(j.delta(), j.u(), (long) (r0 + c) * l + s0, slen, bias, sp, s.dtT, s.duT, c * SCP, s);
                    }
                }
                boolean fast = lim >= 0 && s.naxMost <= Guard.naxBits(lim)
                        && (sp || s.secondMost <= Guard.negBits(Guard.negLimit(s.aMin)));
                // exp2 without its clamps where dt A log2(e) is known to lie in [-126, 0] (2 instructions less per
                // state and step: S5 0.96x); else with them (accurate to -2^21, see Guard)
                boolean capped = fast && sp && s.aMax <= 0f
                        && (double) Float.intBitsToFloat(s.secondMost) * -s.aMin <= CAPPED_MAX;
                if (fast) {
                    System.arraycopy(s.h, hOff, s.hSaved, 0, n * VL);
                    for (int t0 = 0; t0 < slen; t0 += T) {
                        int len = Math.min(T, slen - t0);
                        toLanes(s.dtT, t0, s.dtC, len, s.tmp);
                        toLanes(s.duT, t0, s.duC, len, s.tmp);
                        states(s, n, hOff, t0, len, bVar, cVar, capped);
                        fromLanes(s.yC, s.yT, t0, len, s.tmp);
                    }
                    if (Guard.anyNonFinite(s.h, hOff, 1, n * VL)) { // an overflow float64 may not have
                        System.arraycopy(s.hSaved, 0, s.h, hOff, n * VL);
                        fast = false;
                    }
                }
                if (!fast) { // out of the fast path's range: these rows run exact from here to their end
                    for (int c = 0; c < VL; c++) Guard.exactRest(j, r0 + c, s0, s.h, hOff + c, VL, half, outHalf);
                    s.exact[blk] = true;
                    continue;
                }
                for (int c = 0; c < VL; c++) {
                    float dSkip = j.dSkip() == null ? 0f : get(j.dSkip(), d0 + c);
                    if (half != null) {
                        if (outRowHalf(bf16, outHalf, s, c * SCP, slen, j, (long) (r0 + c) * l + s0, dSkip)) {
                            s.gateBad[blk * VL + c] = true;
                        }
                    } else {
                        outRow(s.yT, c * SCP, slen, j.u(), j.out(), (long) (r0 + c) * l + s0, dSkip);
                    }
                }
            }
        }
        for (int blk = 0; blk < blocks; blk++) {
            int r0 = row0 + blk * VL, hOff = blk * n * VL;
            if (j.lastState() != null) {
                for (int c = 0; c < VL; c++) {
                    for (int st = 0; st < n; st++) {
                        j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, (long) (r0 + c) * n + st, s.h[hOff + st * VL + c]);
                    }
                }
            }
            if (half != null) { // gated in outRowHalf; a product past float32's range: the row exact (rare)
                for (int c = 0; c < VL; c++) {
                    if (s.gateBad[blk * VL + c]) Guard.exactRow(j, r0 + c, half, outHalf);
                }
            } else if (j.z() != null) {
                for (int c = 0; c < VL; c++) SimdScan.gate(j, r0 + c);
            }
        }
    }

    /** Largest -dt A log2(e) of the capped exp2 (exact to -126; 1 of margin for the product's rounding). */
    private static final double CAPPED_MAX = 125;

    /**
     * A * log2(e) and constant B/C of the block's channels, [state][channel], and the range of A log2(e) in
     * {@code s.aMin, s.aMax} (NaN if any is NaN).
     */
    private static void constants(ScanJob j, int d0, int n, boolean bVar, boolean cVar, Scratch s) {
        float aMin = Float.POSITIVE_INFINITY, aMax = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < VL; c++) {
            for (int st = 0; st < n; st++) {
                long an = (long) (d0 + c) * n + st;
                float a2 = get(j.a(), an) * LOG2E;
                s.a2T[st * VL + c] = a2;
                if (!bVar) s.bT[st * VL + c] = get(j.b(), an);
                if (!cVar) s.cT[st * VL + c] = get(j.c(), an);
                aMin = Math.min(aMin, a2);
                aMax = Math.max(aMax, a2);
            }
        }
        s.aMin = aMin;
        s.aMax = aMax;
    }

    /**
     * dt = softplus(delta + bias) and du = dt * u along one row, into the [channel][time] tiles; the largest
     * bits(-|x|) and bits(dt) (softplus) or bits(-x) (without) into {@code s.naxMost, s.secondMost} (see Guard).
     */
    private static void prepRow(MemorySegment delta, MemorySegment u, long off, int len, float bias, boolean sp,
                                float[] dtT, float[] duT, int at, Scratch s) {
        // masked segment accesses are slow (measured several times a plain one): full vectors go unmasked,
        // the tail through a zero-padded copy
        FloatVector bv = FloatVector.broadcast(F, bias);
        IntVector most = IntVector.broadcast(I, Integer.MIN_VALUE), second = most;
        int bound = len & -VL;
        for (int v = 0; v < bound; v += VL) {
            FloatVector x = FloatVector.fromMemorySegment(F, delta, (off + v) * 4, ORDER).add(bv);
            IntVector nax = x.reinterpretAsInts().or(Integer.MIN_VALUE);
            most = most.max(nax);
            FloatVector dt;
            if (sp) {
                dt = SimdMath.softplus(x, nax.reinterpretAsFloats());
                second = second.max(dt.reinterpretAsInts()); // dt >= 0 in range: its bits order as ints
            } else {
                dt = x;
                second = second.max(x.reinterpretAsInts().lanewise(VectorOperators.XOR, Integer.MIN_VALUE));
            }
            dt.intoArray(dtT, at + v);
            dt.mul(FloatVector.fromMemorySegment(F, u, (off + v) * 4, ORDER)).intoArray(duT, at + v);
        }
        if (bound < len) {
            float[] dx = new float[VL], ux = new float[VL];
            MemorySegment.copy(delta, JAVA_FLOAT_UNALIGNED, (off + bound) * 4, dx, 0, len - bound);
            MemorySegment.copy(u, JAVA_FLOAT_UNALIGNED, (off + bound) * 4, ux, 0, len - bound);
            FloatVector x = FloatVector.fromArray(F, dx, 0).add(bv);
            IntVector nax = x.reinterpretAsInts().or(Integer.MIN_VALUE);
            most = most.max(nax);
            FloatVector dt;
            if (sp) {
                dt = SimdMath.softplus(x, nax.reinterpretAsFloats());
                second = second.max(dt.reinterpretAsInts());
            } else {
                dt = x;
                second = second.max(x.reinterpretAsInts().lanewise(VectorOperators.XOR, Integer.MIN_VALUE));
            }
            dt.intoArray(dtT, at + bound);
            dt.mul(FloatVector.fromArray(F, ux, 0)).intoArray(duT, at + bound);
        }
        s.naxMost = Math.max(s.naxMost, most.reduceLanes(VectorOperators.MAX));
        s.secondMost = Math.max(s.secondMost, second.reduceLanes(VectorOperators.MAX));
    }

    /** [channel][time] (row stride SCP) to [time][channel] for steps [0, len). */
    private static void toLanes(float[] rows, int t0, float[] lanes, int len, float[] tmp) {
        if (Transpose.ON) {
            // whole 16-step tiles: the steps past len (up to the next multiple of 16) are prepRow's zero
            // padding or stale, and never read by the state loop
            for (int q = 0; q < len; q += 16) Transpose.tile(rows, t0 + q, SCP, lanes, q * 16, 16, tmp);
            return;
        }
        // plain loads and stores: measured faster here than Vector API gathers
        for (int c = 0; c < VL; c++) {
            int r = c * SCP + t0;
            for (int t = 0; t < len; t++) lanes[t * VL + c] = rows[r + t];
        }
    }

    /** [time][channel] y of a chunk back into the [channel][time] row tile. */
    private static void fromLanes(float[] yC, float[] yT, int t0, int len, float[] tmp) {
        if (Transpose.ON) {
            // whole tiles: steps past len land past the super-chunk's steps (< SC) and outRow never reads them
            for (int q = 0; q < len; q += 16) Transpose.tile(yC, q * 16, 16, yT, t0 + q, SCP, tmp);
            return;
        }
        for (int c = 0; c < VL; c++) {
            int r = c * SCP + t0;
            for (int t = 0; t < len; t++) yT[r + t] = yC[t * VL + c];
        }
    }

    /** Copies B (or C) rows [off + st * stride, + len) of the chunk into a contiguous (n, T) tile. */
    private static void stage(MemorySegment m, long off, long stride, int n, int len, float[] tile) {
        for (int st = 0; st < n; st++) {
            MemorySegment.copy(m, JAVA_FLOAT_UNALIGNED, (off + st * stride) * 4, tile, st * SCP, len);
        }
    }

    /**
     * The recurrence over the chunk, lanes = channels: states two at a time with their h in registers
     * across the chunk's steps (then y is read and written once per pair and step, not per state).
     * Two, not more: each state inlines an exp2, and C2's inlining budget caps a loop body.
     */
    private static void states(Scratch s, int n, int hOff, int t0, int len, boolean bVar, boolean cVar, boolean capped) {
        java.util.Arrays.fill(s.yC, 0, len * VL, 0f);
        int st = 0;
        for (; st + 2 <= n; st += 2) {
            pair(s, st, hOff, t0, len, bVar, cVar, capped);
        }
        if (st < n) single(s, st, hOff, t0, len, bVar, cVar);
    }

    /**
     * Two states over the chunk; {@code capped}: dt A log2(e) is known to lie in [-126, 0] (see {@link #blocks}), so
     * the exp2 goes without its clamps (C2 unswitches the loop on it; one method with both stays within its budget).
     */
    private static void pair(Scratch s, int st, int hOff, int t0, int len, boolean bVar, boolean cVar, boolean capped) {
        final float[] bS = s.bStage, cS = s.cStage, dtC = s.dtC, duC = s.duC, yC = s.yC;
        final FloatVector a0 = FloatVector.fromArray(F, s.a2T, st * VL), a1 = FloatVector.fromArray(F, s.a2T, st * VL + VL);
        final FloatVector bc0 = FloatVector.fromArray(F, s.bT, st * VL), bc1 = FloatVector.fromArray(F, s.bT, st * VL + VL);
        final FloatVector cc0 = FloatVector.fromArray(F, s.cT, st * VL), cc1 = FloatVector.fromArray(F, s.cT, st * VL + VL);
        final int r0 = st * SCP + t0, r1 = r0 + SCP;
        FloatVector h0 = FloatVector.fromArray(F, s.h, hOff + st * VL), h1 = FloatVector.fromArray(F, s.h, hOff + st * VL + VL);
        for (int t = 0; t < len; t++) {
            FloatVector dt = FloatVector.fromArray(F, dtC, t * VL), du = FloatVector.fromArray(F, duC, t * VL);
            FloatVector b0 = bVar ? FloatVector.broadcast(F, bS[r0 + t]) : bc0;
            FloatVector b1 = bVar ? FloatVector.broadcast(F, bS[r1 + t]) : bc1;
            h0 = (capped ? SimdMath.exp2MulCapped(dt, a0) : SimdMath.exp2Mul(dt, a0)).fma(h0, du.mul(b0));
            h1 = (capped ? SimdMath.exp2MulCapped(dt, a1) : SimdMath.exp2Mul(dt, a1)).fma(h1, du.mul(b1));
            FloatVector c0 = cVar ? FloatVector.broadcast(F, cS[r0 + t]) : cc0;
            FloatVector c1 = cVar ? FloatVector.broadcast(F, cS[r1 + t]) : cc1;
            h1.fma(c1, h0.fma(c0, FloatVector.fromArray(F, yC, t * VL))).intoArray(yC, t * VL);
        }
        h0.intoArray(s.h, hOff + st * VL);
        h1.intoArray(s.h, hOff + st * VL + VL);
    }

    private static void single(Scratch s, int st, int hOff, int t0, int len, boolean bVar, boolean cVar) {
        final float[] bS = s.bStage, cS = s.cStage, dtC = s.dtC, duC = s.duC, yC = s.yC;
        final FloatVector a0 = FloatVector.fromArray(F, s.a2T, st * VL);
        final FloatVector bc0 = FloatVector.fromArray(F, s.bT, st * VL), cc0 = FloatVector.fromArray(F, s.cT, st * VL);
        final int r0 = st * SCP + t0;
        FloatVector h0 = FloatVector.fromArray(F, s.h, hOff + st * VL);
        for (int t = 0; t < len; t++) {
            FloatVector dt = FloatVector.fromArray(F, dtC, t * VL), du = FloatVector.fromArray(F, duC, t * VL);
            FloatVector b0 = bVar ? FloatVector.broadcast(F, bS[r0 + t]) : bc0;
            h0 = SimdMath.exp2Mul(dt, a0).fma(h0, du.mul(b0));
            FloatVector c0 = cVar ? FloatVector.broadcast(F, cS[r0 + t]) : cc0;
            h0.fma(c0, FloatVector.fromArray(F, yC, t * VL)).intoArray(yC, t * VL);
        }
        h0.intoArray(s.h, hOff + st * VL);
    }

    /** {@link #stage} of 16-bit B (or C) rows, widened. */
    private static void stageHalf(boolean bf16, MemorySegment m, long off, long stride, int n, int len, float[] tile) {
        for (int st = 0; st < n; st++) SimdHalf.toArray(bf16, m, off + st * stride, len, tile, st * SCP);
    }

    /**
     * {@link #prepRow} on 16-bit delta and u: the row's super-chunk widened into {@code s.dxH, s.uxH}, zero-padded to
     * whole vectors as prepRow pads its tail, then the same vector loop on the buffers.
     */
    private static void prepRowHalf(boolean bf16, MemorySegment delta, MemorySegment u, long off, int len, float bias,
                                    boolean sp, float[] dtT, float[] duT, int at, Scratch s) {
        final float[] dx = s.dxH, ux = s.uxH;
        SimdHalf.toArray(bf16, delta, off, len, dx, 0);
        SimdHalf.toArray(bf16, u, off, len, ux, 0);
        int padded = (len + VL - 1) & -VL;
        java.util.Arrays.fill(dx, len, padded, 0f);
        java.util.Arrays.fill(ux, len, padded, 0f);
        FloatVector bv = FloatVector.broadcast(F, bias);
        IntVector most = IntVector.broadcast(I, Integer.MIN_VALUE), second = most;
        for (int v = 0; v < padded; v += VL) {
            FloatVector x = FloatVector.fromArray(F, dx, v).add(bv);
            IntVector nax = x.reinterpretAsInts().or(Integer.MIN_VALUE);
            most = most.max(nax);
            FloatVector dt;
            if (sp) {
                dt = SimdMath.softplus(x, nax.reinterpretAsFloats());
                second = second.max(dt.reinterpretAsInts()); // dt >= 0 in range: its bits order as ints
            } else {
                dt = x;
                second = second.max(x.reinterpretAsInts().lanewise(VectorOperators.XOR, Integer.MIN_VALUE));
            }
            dt.intoArray(dtT, at + v);
            dt.mul(FloatVector.fromArray(F, ux, v)).intoArray(duT, at + v);
        }
        s.naxMost = Math.max(s.naxMost, most.reduceLanes(VectorOperators.MAX));
        s.secondMost = Math.max(s.secondMost, second.reduceLanes(VectorOperators.MAX));
    }

    /**
     * One row of y plus D u, times silu(z) with a gate, rounded to the output dtype (float32 when {@code !outHalf}) and
     * stored; y is taken from the row tile in place. Returns whether a gated product is NaN or infinite.
     */
    private static boolean outRowHalf(boolean bf16, boolean outHalf, Scratch s, int at, int len, ScanJob j, long off,
                                      float dSkip) {
        final float[] yT = s.yT, ux = s.uxH, zx = s.zxH;
        SimdHalf.toArray(bf16, j.u(), off, len, ux, 0);
        final boolean gated = j.z() != null;
        if (gated) SimdHalf.toArray(bf16, j.z(), off, len, zx, 0);
        int padded = (len + VL - 1) & -VL; // zeros past len (yT holds stale steps there): the results are not stored
        java.util.Arrays.fill(yT, at + len, at + padded, 0f);
        java.util.Arrays.fill(ux, len, padded, 0f);
        if (gated) java.util.Arrays.fill(zx, len, padded, 0f);
        FloatVector dv = FloatVector.broadcast(F, dSkip);
        IntVector most = IntVector.zero(I);
        for (int v = 0; v < padded; v += VL) {
            FloatVector y = FloatVector.fromArray(F, ux, v).fma(dv, FloatVector.fromArray(F, yT, at + v));
            if (gated) {
                y = y.mul(SimdMath.silu(FloatVector.fromArray(F, zx, v)));
                most = most.max(y.reinterpretAsInts().and(Integer.MAX_VALUE));
            }
            y.intoArray(yT, at + v);
        }
        if (outHalf) SimdHalf.fromArray(bf16, yT, at, len, j.out(), off, s.tmpH);
        else MemorySegment.copy(yT, at, j.out(), JAVA_FLOAT_UNALIGNED, off * 4, len);
        return gated && most.compare(VectorOperators.GE, 0x7f800000).anyTrue();
    }

    /** One row of y plus D u, streamed out. */
    private static void outRow(float[] yT, int at, int len, MemorySegment u, MemorySegment out, long off, float dSkip) {
        FloatVector dv = FloatVector.broadcast(F, dSkip);
        int bound = len & -VL;
        for (int v = 0; v < bound; v += VL) {
            FloatVector y = FloatVector.fromArray(F, yT, at + v);
            y = FloatVector.fromMemorySegment(F, u, (off + v) * 4, ORDER).fma(dv, y);
            y.intoMemorySegment(out, (off + v) * 4, ORDER);
        }
        for (int t = bound; t < len; t++) {
            out.setAtIndex(JAVA_FLOAT_UNALIGNED, off + t, yT[at + t] + dSkip * get(u, off + t));
        }
    }
}
