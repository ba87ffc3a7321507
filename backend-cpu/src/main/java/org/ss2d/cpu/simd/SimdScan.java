package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.GE1;
import static org.ss2d.cpu.simd.SimdConstants.GE2;
import static org.ss2d.cpu.simd.SimdConstants.GE4;
import static org.ss2d.cpu.simd.SimdConstants.GE8;
import static org.ss2d.cpu.simd.SimdConstants.I;
import static org.ss2d.cpu.simd.SimdConstants.LAST;
import static org.ss2d.cpu.simd.SimdConstants.ORDER;
import static org.ss2d.cpu.simd.SimdConstants.SH1;
import static org.ss2d.cpu.simd.SimdConstants.SH2;
import static org.ss2d.cpu.simd.SimdConstants.SH4;
import static org.ss2d.cpu.simd.SimdConstants.SH8;
import static org.ss2d.cpu.simd.SimdConstants.VL;
import static org.ss2d.cpu.simd.SimdMath.LOG2E;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import org.ss2d.cpu.kernel.ScanJob;

/**
 * Selective scan with lanes = time steps of one (batch, channel) row: u, delta, B, C and out are
 * contiguous along time, so every access is a plain vector load or store and softplus/exp run on full
 * vectors with no transpose. The recurrence {@code h_t = a_t h_{t-1} + b_t} inside a vector is a
 * log2(lanes)-step Hillis-Steele scan of (a, b) pairs; the carry from the previous vector enters with
 * one FMA at the end ({@code h = P h_prev + S}).
 *
 * <p>Why several passes over an L1 chunk instead of one fused loop: C2 stops inlining a method once
 * its parse reaches NodeCountInliningCutoff, and a Vector API call that is not inlined boxes its
 * vectors (10x slower). softplus + exp2 + scan in one loop is past that budget, so the work is split
 * into small loops over a chunk, passing data through float[] buffers that stay in L1 (measured:
 * fused 10+ ns/elem, split ~1-2 ns/elem on the same machine). Steps past the last full vector
 * (seqlen % lanes) run a scalar tail that continues the same state.
 */
final class SimdScan {
    private SimdScan() {}

    /** Time steps per chunk: the pass buffers (a few chunks of floats) stay in L1. */
    private static final int CHUNK = Math.max(VL, 512 / VL * VL);
    /**
     * Time steps per chunk at dstate 1: smaller than CHUNK, measured (in-process A/B on S1/S3, 1 and 2
     * threads) 3-6% faster than 256 and 5-10% faster than 512; 64 was 12% slower (per-chunk overhead).
     */
    static final int N1_CHUNK = Math.max(VL, 128 / VL * VL);

    /** A thread's chunk buffers, kept between calls: fresh ones were ~10 KB per task, 1.2 B/elem on small calls. */
    private static final class Bufs {
        final float[] b1 = new float[CHUNK], b2 = new float[CHUNK], b3 = new float[CHUNK], b4 = new float[CHUNK],
                b5 = new float[CHUNK];
        final N1 n1 = new N1();
        float[] hs = new float[16], hs0 = new float[16];
    }

    private static final ThreadLocal<Bufs> BUFS = ThreadLocal.withInitial(Bufs::new);

    /** Bytes of a thread's buffers for this dstate: the chunk buffers, staged C rows, the states (float and double). */
    static long scratchBytes(int dstate) {
        return 4L * (5L * CHUNK + 3L * N1_CHUNK + C_ROW_MAX) + 16L * dstate;
    }

    static void scan(ScanJob j, int rowFrom, int rowTo) {
        Bufs bf = BUFS.get();
        if (bf.hs.length < j.dstate()) {
            bf.hs = new float[j.dstate()];
            bf.hs0 = new float[j.dstate()];
        }
        N1 n1 = j.dstate() == 1 ? bf.n1 : null;
        if (n1 != null) n1.cKey = null; // staged C rows are reused within this call only (inputs may change between calls)
        for (int row = rowFrom; row < rowTo; row++) {
            if (n1 != null) n1Row(j, row, n1);
            else generalRow(j, row, bf.b1, bf.b2, bf.b3, bf.b4, bf.b5, bf.hs, bf.hs0);
            if (j.z() != null) gate(j, row);
        }
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    static FloatVector load(MemorySegment s, long elem) {
        return FloatVector.fromMemorySegment(F, s, elem * 4, ORDER);
    }

    // ------------------------------------------------------------------ the in-register scan

    private static final FloatVector ZERO = FloatVector.zero(F);

    static FloatVector stageB(FloatVector a, FloatVector b, VectorShuffle<Float> sh, VectorMask<Float> ge) {
        // a_i b_{i-k} + b_i; the zero fill keeps b_i for i < k (a blend: the masked rearrange re-checks the
        // shuffle against the mask on every call)
        return a.fma(ZERO.blend(b.rearrange(sh), ge), b);
    }

    static FloatVector stageA(FloatVector a, VectorShuffle<Float> sh, VectorMask<Float> ge) {
        return a.mul(a.rearrange(sh), ge); // a_i a_{i-k}; lanes i < k keep a_i
    }

    /** Inclusive scan of (a, b) pairs across lanes, then the carry: h for every lane (the backward's too). */
    static FloatVector scanLanes(FloatVector a, FloatVector b, FloatVector carry) {
        b = stageB(a, b, SH1, GE1);
        a = stageA(a, SH1, GE1);
        if (VL > 2) {
            b = stageB(a, b, SH2, GE2);
            a = stageA(a, SH2, GE2);
        }
        if (VL > 4) {
            b = stageB(a, b, SH4, GE4);
            a = stageA(a, SH4, GE4);
        }
        if (VL > 8) {
            b = stageB(a, b, SH8, GE8);
            a = stageA(a, SH8, GE8);
        }
        return a.fma(carry, b);
    }

    // ------------------------------------------------------------------ passes (each its own small loop)

    /**
     * dt = softplus(delta + bias) (or without softplus) for {@code len} steps, into {@code dt}. Returns whether some
     * |delta + bias| is over the row's limit ({@code naxLim}, {@code negLim}: see {@link Guard}), NaN included.
     */
    static boolean dtPass(MemorySegment delta, long off, int len, float bias, boolean softplus, float[] dt,
                          int naxLim, int negLim) {
        FloatVector bv = FloatVector.broadcast(F, bias);
        IntVector most = IntVector.broadcast(I, Integer.MIN_VALUE);
        if (softplus) {
            for (int v = 0; v < len; v += VL) {
                FloatVector x = load(delta, off + v).add(bv);
                IntVector nax = x.reinterpretAsInts().or(Integer.MIN_VALUE);
                most = most.max(nax);
                SimdMath.softplus(x, nax.reinterpretAsFloats()).intoArray(dt, v);
            }
            return most.compare(VectorOperators.GT, naxLim).anyTrue();
        }
        IntVector neg = most;
        for (int v = 0; v < len; v += VL) {
            FloatVector x = load(delta, off + v).add(bv);
            x.intoArray(dt, v);
            IntVector xi = x.reinterpretAsInts();
            most = most.max(xi.or(Integer.MIN_VALUE));
            neg = neg.max(xi.lanewise(VectorOperators.XOR, Integer.MIN_VALUE));
        }
        return most.compare(VectorOperators.GT, naxLim).or(neg.compare(VectorOperators.GT, negLim)).anyTrue();
    }

    /** Any dstate: h scan of one state, y += C h in the chunk buffer; returns the carry. */
    private static float scanAccPass(float[] a, float[] bu, MemorySegment cs, long cOff, boolean cVar, float cConst,
                                     float[] y, int len, float h) {
        FloatVector carry = FloatVector.broadcast(F, h), cc = FloatVector.broadcast(F, cConst);
        for (int v = 0; v < len; v += VL) {
            FloatVector hv = scanLanes(FloatVector.fromArray(F, a, v), FloatVector.fromArray(F, bu, v), carry);
            FloatVector c = cVar ? load(cs, cOff + v) : cc;
            hv.fma(c, FloatVector.fromArray(F, y, v)).intoArray(y, v);
            carry = hv.rearrange(LAST);
        }
        return carry.lane(0);
    }

    /** du = dt * u into {@code du}; y = D u into {@code y}. */
    private static void duPass(float[] dt, MemorySegment u, long off, float dSkip, float[] du, float[] y, int len) {
        FloatVector dv = FloatVector.broadcast(F, dSkip);
        for (int v = 0; v < len; v += VL) {
            FloatVector uu = load(u, off + v);
            FloatVector.fromArray(F, dt, v).mul(uu).intoArray(du, v);
            uu.mul(dv).intoArray(y, v);
        }
    }

    /** In place dt -> a = exp2(dt * a2) into {@code a}; bu = du * B. */
    private static void stateCoeffPass(float[] dt, float[] du, float[] a, float[] bu, MemorySegment bs, long bOff,
                                       boolean bVar, float bConst, float a2, int len) {
        FloatVector a2v = FloatVector.broadcast(F, a2), bc = FloatVector.broadcast(F, bConst);
        for (int v = 0; v < len; v += VL) {
            FloatVector bb = bVar ? load(bs, bOff + v) : bc;
            FloatVector.fromArray(F, du, v).mul(bb).intoArray(bu, v);
            SimdMath.exp2Mul(FloatVector.fromArray(F, dt, v), a2v).intoArray(a, v);
        }
    }

    private static void storePass(float[] y, MemorySegment out, long off, int len) {
        for (int v = 0; v < len; v += VL) FloatVector.fromArray(F, y, v).intoMemorySegment(out, (off + v) * 4, ORDER);
    }

    /**
     * out *= silu(z) over a whole row. A NaN or infinity in the gated row (rare: non-finite inputs, or an out beyond
     * float32's range that the gate would have brought back) has the row recomputed in double precision, gate
     * included (see {@link Guard#exactRow}); the check is one integer max per vector of this memory-bound pass.
     */
    static void gate(ScanJob j, int row) {
        if (gate(j.out(), j.z(), (long) row * j.seqlen(), j.seqlen())) Guard.exactRow(j, row);
    }

    /** out *= silu(z) (vector part, then scalar tail); returns whether some result is NaN or infinite. */
    private static boolean gate(MemorySegment out, MemorySegment z, long off, int len) {
        int bound = F.loopBound(len), v = 0;
        IntVector most = IntVector.zero(I);
        for (; v < bound; v += VL) {
            FloatVector r = load(out, off + v).mul(SimdMath.silu(load(z, off + v)));
            r.intoMemorySegment(out, (off + v) * 4, ORDER);
            most = most.max(r.reinterpretAsInts().and(Integer.MAX_VALUE));
        }
        boolean nonFinite = most.compare(VectorOperators.GE, 0x7f800000).anyTrue();
        for (; v < len; v++) {
            float zz = get(z, off + v), r = get(out, off + v) * (zz / (1f + (float) Math.exp(-zz)));
            out.setAtIndex(JAVA_FLOAT_UNALIGNED, off + v, r);
            nonFinite |= !Float.isFinite(r);
        }
        return nonFinite;
    }

    // ------------------------------------------------------------------ rows

    /** State of one dstate-1 row chunk, shared by the passes. */
    static final class N1 {
        final float[] a = new float[N1_CHUNK], bu = new float[N1_CHUNK];
        /** C of the current (batch, group) row (or chunk, for long rows), see stageC; cbOff = the chunk's start in it. */
        float[] cb = new float[N1_CHUNK];
        /** The state handed to the exact path (tail or rest of a row). */
        final float[] h1 = new float[1];
        MemorySegment cKey;
        long cKeyRow;
        int cbOff;
        MemorySegment delta, u, bs, cs, out;
        /** bad: the chunk's |delta + bias| is over the row's limits naxLim/negLim (see Guard). */
        boolean sp, bVar, cVar, bad;
        long off, bOff;
        float bias, a2, bConst, cConst, dSkip, h;
        int len, naxLim, negLim;
    }

    /**
     * The passes of a dstate-1 chunk, called through this interface from a loop so that each compiles on its
     * own: inlined into the row loop together they pass NodeCountInliningCutoff and the vectors get boxed
     * (measured 4x slower). With two passes the site is bimorphic and C2 inlines the lambdas, but not the pass
     * methods (-XX:+PrintInlining: coeffScanOutPass "hot method too big", softplusPass "already compiled into
     * a big method"); the copy-out used to be a third pass, folded into coeffScanOutPass (3.5% faster on S1).
     */
    interface N1Pass {
        void run(N1 c);
    }

    private static final N1Pass[] N1_PASSES = {
        c -> c.bad = dtPass(c.delta, c.off, c.len, c.bias, c.sp, c.a, c.naxLim, c.negLim),
        c -> {
            if (!c.bad) c.h = coeffScanOutPass(c);
        },
    };

    // softplus is its own pass, apart from exp2 and the scan: each loop is then small enough for C2 to keep
    // SimdMath's broadcast constants in registers (and to unroll the softplus loop) within its inlining
    // budget. y is written to a float[] and copied out in bulk: a store to a segment inside a loop made C2
    // redo every segment access's bounds, liveness and type checks per vector (~50 scalar instructions).

    /**
     * Rows up to this many steps have C staged whole (64 KiB per thread at most); longer ones chunk by chunk, so
     * that a very long sequence does not cost a buffer of its length per thread.
     */
    static final int C_ROW_MAX = 16384;

    /**
     * C of steps [t0, t0 + len) into c.cb, at c.cbOff. Rows of up to C_ROW_MAX steps are staged whole, once per
     * (batch, group) while that group's channels follow each other (a bulk copy per chunk cost ~0.3 ns/elem in
     * call overhead), or once per row for a constant C; longer rows per chunk.
     */
    private static void stageC(N1 c, long cRow, int l, int t0, int len) {
        if (l > C_ROW_MAX) {
            c.cKey = null;
            c.cbOff = 0;
            if (c.cVar) MemorySegment.copy(c.cs, JAVA_FLOAT_UNALIGNED, (cRow + t0) * 4, c.cb, 0, len);
            else java.util.Arrays.fill(c.cb, 0, len, c.cConst);
            return;
        }
        c.cbOff = t0;
        if (t0 > 0) return; // staged at the row's first chunk
        if (c.cb.length < l) {
            c.cb = new float[l];
            c.cKey = null;
        }
        if (!c.cVar) {
            java.util.Arrays.fill(c.cb, 0, l, c.cConst);
            c.cKey = null;
        } else if (c.cKey != c.cs || c.cKeyRow != cRow) {
            MemorySegment.copy(c.cs, JAVA_FLOAT_UNALIGNED, cRow * 4, c.cb, 0, l);
            c.cKey = c.cs;
            c.cKeyRow = cRow;
        }
    }

    /**
     * dt (in c.a) -> y (in c.bu, in place): a = exp2(dt A), bu = dt u B, their in-vector scans, h = A_scan
     * carry + B_scan and y = C h + D u, then y copied out. The carry is h's last lane, rearranged into every
     * lane (one permute on the loop-carried chain; an extract and a broadcast before: 2 more instructions). Two
     * vectors per iteration (interleaved chains) pass C2's inlining budget; as three passes (exp2 apart) 1.18x slower.
     */
    private static float coeffScanOutPass(N1 c) {
        final float[] a = c.a, bu = c.bu, cb = c.cb;
        final int cbOff = c.cbOff;
        final MemorySegment u = c.u, bs = c.bs;
        final long off = c.off, bOff = c.bOff;
        final boolean bVar = c.bVar;
        final int len = c.len;
        FloatVector carry = FloatVector.broadcast(F, c.h);
        FloatVector a2v = FloatVector.broadcast(F, c.a2), bc = FloatVector.broadcast(F, c.bConst),
                dv = FloatVector.broadcast(F, c.dSkip);
        for (int v = 0; v < len; v += VL) {
            FloatVector dt = FloatVector.fromArray(F, a, v), uu = load(u, off + v);
            FloatVector bb = bVar ? load(bs, bOff + v) : bc;
            FloatVector bv = dt.mul(uu).mul(bb);
            FloatVector av = SimdMath.exp2Mul(dt, a2v);
            bv = stageB(av, bv, SH1, GE1);
            av = stageA(av, SH1, GE1);
            if (VL > 2) {
                bv = stageB(av, bv, SH2, GE2);
                av = stageA(av, SH2, GE2);
            }
            if (VL > 4) {
                bv = stageB(av, bv, SH4, GE4);
                av = stageA(av, SH4, GE4);
            }
            if (VL > 8) {
                bv = stageB(av, bv, SH8, GE8);
                av = stageA(av, SH8, GE8);
            }
            FloatVector hv = av.fma(carry, bv);
            carry = hv.rearrange(LAST);
            uu.fma(dv, hv.mul(FloatVector.fromArray(F, cb, cbOff + v))).intoArray(bu, v);
        }
        MemorySegment.copy(bu, 0, c.out, JAVA_FLOAT_UNALIGNED, off * 4, len);
        return carry.lane(0);
    }

    /**
     * dstate 1 (VMamba's default): C staged once per (batch, group) row; per chunk (1) dt = softplus(delta + bias)
     * along time, (2) exp2, the in-vector scans, the carry and y into an L1 buffer, copied out.
     */
    private static void n1Row(ScanJob j, int row, N1 c) {
        final int l = j.seqlen(), dim = j.dim(), b = row / dim, d = row % dim;
        final long base = (long) row * l;
        c.bVar = j.bVariable();
        c.cVar = j.cVariable();
        c.sp = j.softplus();
        final long bRow = c.bVar ? j.bRow(b, d) : 0, cRow = c.cVar ? j.cRow(b, d) : 0;
        c.a2 = get(j.a(), d) * LOG2E;
        final double lim = Guard.limit(c.sp, c.a2, c.a2);
        c.naxLim = Guard.naxBits(lim);
        c.negLim = Guard.negBits(Guard.negLimit(c.a2));
        c.bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d);
        c.dSkip = j.dSkip() == null ? 0f : get(j.dSkip(), d);
        c.bConst = c.bVar ? 0f : get(j.b(), d);
        c.cConst = c.cVar ? 0f : get(j.c(), d);
        c.delta = j.delta();
        c.u = j.u();
        c.bs = j.b();
        c.cs = j.c();
        c.out = j.out();
        c.h = 0f;
        final int bound = lim < 0 ? 0 : F.loopBound(l); // A not finite: the whole row runs exact
        int t0 = 0;
        for (; t0 < bound; t0 += N1_CHUNK) {
            c.len = Math.min(N1_CHUNK, bound - t0);
            c.off = base + t0;
            c.bOff = bRow + t0;
            stageC(c, cRow, l, t0, c.len);
            float h0 = c.h;
            for (N1Pass p : N1_PASSES) p.run(c);
            if (c.bad || !Float.isFinite(c.h)) { // out of the fast path's range: this chunk and the rest exact
                c.h = h0;
                c.cKey = null;
                break;
            }
        }
        t0 = Math.min(t0, bound);
        c.h1[0] = c.h;
        Guard.exactRest(j, row, t0, c.h1, 0, 1); // the steps past the last full vector, or the rest of the row
        if (j.lastState() != null) j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, row, c.h1[0]);
    }

    /**
     * Any dstate, chunk by chunk: dt, dt*u and D*u of a chunk are computed once into L1 buffers, then each
     * state runs its own scan over the chunk and adds C h into y; the states' carries live in {@code hs}.
     */
    private static void generalRow(ScanJob j, int row, float[] dt, float[] du, float[] a, float[] y, float[] bu,
                                   float[] hs, float[] hs0) {
        final int l = j.seqlen(), dim = j.dim(), n = j.dstate(), b = row / dim, d = row % dim;
        final long base = (long) row * l;
        final boolean bVar = j.bVariable(), cVar = j.cVariable(), sp = j.softplus();
        final long bRow = bVar ? j.bRow(b, d) : 0, cRow = cVar ? j.cRow(b, d) : 0;
        final long bStride = j.bStateStride(), cStride = j.cStateStride();
        final float bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d);
        final float dSkip = j.dSkip() == null ? 0f : get(j.dSkip(), d);
        float aMin = Float.POSITIVE_INFINITY, aMax = Float.NEGATIVE_INFINITY;
        for (int s = 0; s < n; s++) {
            float a2 = get(j.a(), (long) d * n + s) * LOG2E;
            aMin = Math.min(aMin, a2); // NaN-propagating: a NaN makes the row exact
            aMax = Math.max(aMax, a2);
        }
        final double lim = Guard.limit(sp, aMin, aMax);
        final int naxLim = Guard.naxBits(lim), negLim = Guard.negBits(Guard.negLimit(aMin));
        final int bound = lim < 0 ? 0 : F.loopBound(l); // A not finite: the whole row runs exact
        java.util.Arrays.fill(hs, 0, n, 0f);
        int t0 = 0;
        for (; t0 < bound; t0 += CHUNK) {
            int len = Math.min(CHUNK, bound - t0);
            if (dtPass(j.delta(), base + t0, len, bias, sp, dt, naxLim, negLim)) break;
            System.arraycopy(hs, 0, hs0, 0, n);
            duPass(dt, j.u(), base + t0, dSkip, du, y, len);
            for (int s = 0; s < n; s++) {
                long an = (long) d * n + s;
                float a2 = get(j.a(), an) * LOG2E;
                float bConst = bVar ? 0f : get(j.b(), an), cConst = cVar ? 0f : get(j.c(), an);
                stateCoeffPass(dt, du, a, bu, j.b(), bRow + s * bStride + t0, bVar, bConst, a2, len);
                hs[s] = scanAccPass(a, bu, j.c(), cRow + s * cStride + t0, cVar, cConst, y, len, hs[s]);
            }
            if (Guard.anyNonFinite(hs, 0, 1, n)) { // an overflow float64 may not have: this chunk and the rest exact
                System.arraycopy(hs0, 0, hs, 0, n);
                break;
            }
            storePass(y, j.out(), base + t0, len);
        }
        t0 = Math.min(t0, bound);
        Guard.exactRest(j, row, t0, hs, 0, 1); // the steps past the last full vector, or the rest of the row
        if (j.lastState() != null) {
            for (int s = 0; s < n; s++) j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, (long) row * n + s, hs[s]);
        }
    }
}
