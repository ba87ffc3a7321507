package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.GE1;
import static org.ss2d.cpu.simd.SimdConstants.GE2;
import static org.ss2d.cpu.simd.SimdConstants.GE4;
import static org.ss2d.cpu.simd.SimdConstants.GE8;
import static org.ss2d.cpu.simd.SimdConstants.I;
import static org.ss2d.cpu.simd.SimdConstants.LAST;
import static org.ss2d.cpu.simd.SimdConstants.SH1;
import static org.ss2d.cpu.simd.SimdConstants.SH2;
import static org.ss2d.cpu.simd.SimdConstants.SH4;
import static org.ss2d.cpu.simd.SimdConstants.SH8;
import static org.ss2d.cpu.simd.SimdConstants.VL;
import static org.ss2d.cpu.simd.SimdMath.LOG2E;
import static org.ss2d.cpu.simd.SimdScan.stageA;
import static org.ss2d.cpu.simd.SimdScan.stageB;
import static jdk.incubator.vector.VectorOperators.S2I;
import static org.ss2d.cpu.simd.SimdHalf.S;
import static org.ss2d.cpu.simd.SimdConstants.ORDER;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import org.ss2d.cpu.kernel.ScanJob;
import org.ss2d.tensor.DType;

/**
 * The dstate-1 selective scan (VMamba's default, {@link SimdScan}'s time lanes) on 16-bit activations: u, delta,
 * variable B and C, z and out hold bfloat16 or float16, arithmetic is float32. Per chunk of {@code CH} steps
 * (1) dt from delta, widened in the same loop, which also widens u into an L1 buffer, (2) exp2, the in-vector scans
 * and y, as in the float32 kernel, (3) the z gate and the one rounding to the output dtype, stored with a bulk copy.
 * The row is read once, in half the bytes; no float32 copy of it is made beyond a chunk (B and C are widened once per
 * (batch, group) row, as the float32 kernel stages C).
 *
 * <p>Why u goes through a buffer rather than being widened in the coefficient pass: that pass is at C2's inlining
 * budget (see SimdScan); a conversion inside it (bfloat16: a shift; float16: seven integer-lane operations, the
 * Vector API having no half-float lanes) would push it past and box its vectors. The gate is fused here (not a pass
 * over the row afterwards as in float32) because a half out may not be rounded twice; the exact path ({@link Guard})
 * applies it for these rows too.
 */
final class SimdScanHalf {
    private SimdScanHalf() {}

    /**
     * Steps per chunk: 512, not the float32 kernel's 128: the half chunk has three passes and a narrowing whose
     * per-call costs a short chunk does not amortise. In-process A/B on the loaded machine (1 thread, CPU time, ratio
     * to float32 in the same run): S3 bfloat16 1.11 / float16 1.21 at 128, 1.00 / 1.10 at 256, 0.84-0.88 / 0.91-0.93
     * at 512, 0.91 / 0.92 at 1024; S1 at 512 0.75 / 0.79. The chunk's buffers (4 x 2 KiB) stay in L1.
     */
    private static final int CH = Math.max(VL, 512 / VL * VL);

    /**
     * Variable B or C of the current (batch, group) row, widened once while that group's channels follow each other
     * (or chunk by chunk, for rows past C_ROW_MAX steps): {@code at} is the current chunk's start in {@code f}.
     */
    static final class Staged {
        float[] f = new float[CH];
        MemorySegment key;
        long keyRow;
        int at;
    }

    /** A thread's chunk buffers and the state of the current row, shared by the passes. */
    static final class H {
        final float[] ux = new float[CH], zx = new float[CH], a = new float[CH], y = new float[CH];
        final Staged b = new Staged(), c = new Staged();
        final short[] tmp = new short[CH];
        final float[] h1 = new float[1];
        MemorySegment delta, u, bs, cs, z, out;
        /** bad: the chunk is out of the fast path's range (see Guard); nonFinite: a gated output came out NaN or infinite. */
        boolean bf16, outHalf, sp, bVar, cVar, bad, nonFinite;
        long off, bOff;
        float bias, a2, bConst, cConst, dSkip, h;
        int len, naxLim, negLim;
    }

    private static final ThreadLocal<H> BUFS = ThreadLocal.withInitial(H::new);

    /** Bytes of a thread's buffers: the chunk buffers, a staged C row and its 16-bit copy. */
    static long scratchBytes() {
        return 4L * (4L * CH + 2L * SimdScan.C_ROW_MAX) + 2L * CH;
    }

    /** Rows {@code [rowFrom, rowTo)} of a dstate-1 job whose activations hold {@code half}; out too when {@code outHalf}. */
    static void scan(ScanJob j, DType half, boolean outHalf, int rowFrom, int rowTo) {
        H c = BUFS.get();
        c.b.key = null; // staged B/C rows are reused within this call only
        c.c.key = null;
        c.bf16 = half == DType.BF16;
        c.outHalf = outHalf;
        for (int row = rowFrom; row < rowTo; row++) row(j, row, c, half);
    }

    /**
     * The passes of a chunk, called through this interface from the row loop so that each compiles on its own (see
     * SimdScan.N1Pass: inlined together they would pass C2's inlining budget and box their vectors).
     */
    interface Pass {
        void run(H c);
    }

    private static final Pass[] PASSES_BF16 = {
        c -> c.bad = dtPassBf16(c.delta, c.u, c.off, c.len, c.bias, c.sp, c.a, c.ux, c.naxLim, c.negLim),
        c -> {
            if (!c.bad) c.h = coeffScanPass(c);
        },
        c -> {
            if (!c.bad && Float.isFinite(c.h)) outPass(c);
        },
    };

    // float16's u is widened in a pass of its own: with both conversions written out in the dt loop, C2 stopped
    // inlining SimdMath.softplus into it and boxed its vectors (JFR: softplus and FloatVector.lanewiseTemplate on
    // top; S1/S3 at 2.0-2.2x float32 on a quiet host)
    private static final Pass[] PASSES_F16 = {
        c -> SimdHalf.toArray(false, c.u, c.off, c.len, c.ux, 0),
        c -> c.bad = dtPassF16(c.delta, c.off, c.len, c.bias, c.sp, c.a, c.naxLim, c.negLim),
        PASSES_BF16[1],
        PASSES_BF16[2],
    };

    /*
     * SimdScan.dtPass on 16-bit delta, widening the chunk's u into ux in the same loop: one method per dtype, each with
     * its lane conversion written out (see SimdHalf.toArray: a conversion helper compiled on its own first is not
     * inlined, and boxes), so that each dt loop holds one conversion and stays within C2's inlining budget.
     */

    private static boolean dtPassBf16(MemorySegment delta, MemorySegment u, long off, int len, float bias,
                                      boolean softplus, float[] dt, float[] ux, int naxLim, int negLim) {
        FloatVector bv = FloatVector.broadcast(F, bias);
        IntVector most = IntVector.broadcast(I, Integer.MIN_VALUE), neg = most;
        for (int v = 0; v < len; v += VL) {
            IntVector ui = (IntVector) ShortVector.fromMemorySegment(S, u, (off + v) * 2, ORDER).convertShape(S2I, I, 0);
            ui.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(ux, v);
            IntVector di = (IntVector) ShortVector.fromMemorySegment(S, delta, (off + v) * 2, ORDER).convertShape(S2I, I, 0);
            FloatVector x = di.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().add(bv);
            IntVector xi = x.reinterpretAsInts(), nax = xi.or(Integer.MIN_VALUE);
            most = most.max(nax);
            if (softplus) {
                SimdMath.softplus(x, nax.reinterpretAsFloats()).intoArray(dt, v);
            } else {
                x.intoArray(dt, v);
                neg = neg.max(xi.lanewise(VectorOperators.XOR, Integer.MIN_VALUE));
            }
        }
        return most.compare(VectorOperators.GT, naxLim).or(neg.compare(VectorOperators.GT, negLim)).anyTrue();
    }

    private static boolean dtPassF16(MemorySegment delta, long off, int len, float bias, boolean softplus, float[] dt,
                                     int naxLim, int negLim) {
        FloatVector bv = FloatVector.broadcast(F, bias);
        IntVector most = IntVector.broadcast(I, Integer.MIN_VALUE), neg = most;
        for (int v = 0; v < len; v += VL) {
            // float16 in integer lanes, as SimdHalf.toArray
            IntVector di = (IntVector) ShortVector.fromMemorySegment(S, delta, (off + v) * 2, ORDER).convertShape(S2I, I, 0);
            IntVector dm = di.and(0x7fff), dMoved = dm.lanewise(VectorOperators.LSHL, 13);
            FloatVector x = dMoved.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts()
                    .blend(dMoved.or(0x7f800000), dm.compare(VectorOperators.GE, 0x7c00))
                    .or(di.and(Integer.MIN_VALUE)).reinterpretAsFloats().add(bv);
            IntVector xi = x.reinterpretAsInts(), nax = xi.or(Integer.MIN_VALUE);
            most = most.max(nax);
            if (softplus) {
                SimdMath.softplus(x, nax.reinterpretAsFloats()).intoArray(dt, v);
            } else {
                x.intoArray(dt, v);
                neg = neg.max(xi.lanewise(VectorOperators.XOR, Integer.MIN_VALUE));
            }
        }
        return most.compare(VectorOperators.GT, naxLim).or(neg.compare(VectorOperators.GT, negLim)).anyTrue();
    }

    /** SimdScan.coeffScanOutPass on the widened chunk: y (before the gate) into c.y; returns the carry. */
    private static float coeffScanPass(H c) {
        final float[] a = c.a, ux = c.ux, bx = c.b.f, cb = c.c.f, y = c.y;
        final int bxOff = c.b.at, cbOff = c.c.at, len = c.len;
        final boolean bVar = c.bVar;
        FloatVector carry = FloatVector.broadcast(F, c.h);
        FloatVector a2v = FloatVector.broadcast(F, c.a2), bc = FloatVector.broadcast(F, c.bConst),
                dv = FloatVector.broadcast(F, c.dSkip);
        for (int v = 0; v < len; v += VL) {
            FloatVector dt = FloatVector.fromArray(F, a, v), uu = FloatVector.fromArray(F, ux, v);
            FloatVector bb = bVar ? FloatVector.fromArray(F, bx, bxOff + v) : bc;
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
            uu.fma(dv, hv.mul(FloatVector.fromArray(F, cb, cbOff + v))).intoArray(y, v);
        }
        return carry.lane(0);
    }

    /** y *= silu(z) (noting a NaN or infinite product), then y rounded to the output dtype (or float32) and stored. */
    private static void outPass(H c) {
        final float[] y = c.y;
        final int len = c.len;
        if (c.z != null) {
            final float[] zx = c.zx;
            SimdHalf.toArray(c.bf16, c.z, c.off, len, zx, 0);
            IntVector most = IntVector.zero(I);
            for (int v = 0; v < len; v += VL) {
                FloatVector r = FloatVector.fromArray(F, y, v).mul(SimdMath.silu(FloatVector.fromArray(F, zx, v)));
                r.intoArray(y, v);
                most = most.max(r.reinterpretAsInts().and(Integer.MAX_VALUE));
            }
            if (most.compare(VectorOperators.GE, 0x7f800000).anyTrue()) c.nonFinite = true;
        }
        if (c.outHalf) SimdHalf.fromArray(c.bf16, y, 0, len, c.out, c.off, c.tmp);
        else MemorySegment.copy(y, 0, c.out, JAVA_FLOAT_UNALIGNED, c.off * 4, len);
    }

    /**
     * B or C of steps [t0, t0 + len) into st.f at st.at, widened: SimdScan.stageC on 16-bit rows (a constant C is
     * broadcast into the buffer as there; a constant B is not staged).
     */
    private static void stage(Staged st, boolean bf16, boolean var, float cst, MemorySegment m, long row, int l, int t0,
                              int len) {
        if (l > SimdScan.C_ROW_MAX) {
            st.key = null;
            st.at = 0;
            if (var) SimdHalf.toArray(bf16, m, row + t0, len, st.f, 0);
            else java.util.Arrays.fill(st.f, 0, len, cst);
            return;
        }
        st.at = t0;
        if (t0 > 0) return; // staged at the row's first chunk
        if (st.f.length < l) {
            st.f = new float[l];
            st.key = null;
        }
        if (!var) {
            java.util.Arrays.fill(st.f, 0, l, cst);
            st.key = null;
        } else if (st.key != m || st.keyRow != row) {
            SimdHalf.toArray(bf16, m, row, l, st.f, 0);
            st.key = m;
            st.keyRow = row;
        }
    }

    private static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    /** One row: SimdScan.n1Row with the passes above; the exact path (tails, out-of-range chunks) reads halves too. */
    private static void row(ScanJob j, int row, H c, DType half) {
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
        c.z = j.z();
        c.out = j.out();
        c.h = 0f;
        c.nonFinite = false;
        final int bound = lim < 0 ? 0 : F.loopBound(l); // A not finite: the whole row runs exact
        final Pass[] passes = c.bf16 ? PASSES_BF16 : PASSES_F16;
        int t0 = 0;
        for (; t0 < bound; t0 += CH) {
            c.len = Math.min(CH, bound - t0);
            c.off = base + t0;
            c.bOff = bRow + t0;
            if (c.bVar) stage(c.b, c.bf16, true, 0f, c.bs, bRow, l, t0, c.len);
            stage(c.c, c.bf16, c.cVar, c.cConst, c.cs, cRow, l, t0, c.len);
            float h0 = c.h;
            for (Pass p : passes) p.run(c);
            if (c.bad || !Float.isFinite(c.h)) { // out of the fast path's range: this chunk and the rest exact
                c.h = h0;
                c.b.key = null;
                c.c.key = null;
                break;
            }
        }
        t0 = Math.min(t0, bound);
        c.h1[0] = c.h;
        Guard.exactRest(j, row, t0, c.h1, 0, 1, half, c.outHalf); // the tail past the last full vector, or the rest
        if (j.lastState() != null) j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, row, c.h1[0]);
        // a gated product past float32's range that float64 may bring back: the whole row exact (rare)
        if (c.nonFinite) Guard.exactRow(j, row, half, c.outHalf);
    }
}
