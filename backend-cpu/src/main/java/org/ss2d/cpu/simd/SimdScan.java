package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.GE1;
import static org.ss2d.cpu.simd.SimdConstants.GE2;
import static org.ss2d.cpu.simd.SimdConstants.GE4;
import static org.ss2d.cpu.simd.SimdConstants.GE8;
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
import jdk.incubator.vector.VectorMask;
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
    private static final int N1_CHUNK = Math.max(VL, 128 / VL * VL);

    /** A thread's chunk buffers, kept between calls: fresh ones were ~10 KB per task, 1.2 B/elem on small calls. */
    private static final class Bufs {
        final float[] b1 = new float[CHUNK], b2 = new float[CHUNK], b3 = new float[CHUNK], b4 = new float[CHUNK],
                b5 = new float[CHUNK];
        final N1 n1 = new N1();
        float[] hs = new float[16];
    }

    private static final ThreadLocal<Bufs> BUFS = ThreadLocal.withInitial(Bufs::new);

    static void scan(ScanJob j, int rowFrom, int rowTo) {
        Bufs bf = BUFS.get();
        if (bf.hs.length < j.dstate()) bf.hs = new float[j.dstate()];
        N1 n1 = j.dstate() == 1 ? bf.n1 : null;
        if (n1 != null) n1.cKey = null; // staged C rows are reused within this call only (inputs may change between calls)
        for (int row = rowFrom; row < rowTo; row++) {
            if (n1 != null) n1Row(j, row, n1);
            else generalRow(j, row, bf.b1, bf.b2, bf.b3, bf.b4, bf.b5, bf.hs);
            if (j.z() != null) gate(j.out(), j.z(), (long) row * j.seqlen(), j.seqlen());
        }
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    private static FloatVector load(MemorySegment s, long elem) {
        return FloatVector.fromMemorySegment(F, s, elem * 4, ORDER);
    }

    // ------------------------------------------------------------------ the in-register scan

    private static final FloatVector ZERO = FloatVector.zero(F);

    private static FloatVector stageB(FloatVector a, FloatVector b, VectorShuffle<Float> sh, VectorMask<Float> ge) {
        // a_i b_{i-k} + b_i; the zero fill keeps b_i for i < k (a blend: the masked rearrange re-checks the
        // shuffle against the mask on every call)
        return a.fma(ZERO.blend(b.rearrange(sh), ge), b);
    }

    private static FloatVector stageA(FloatVector a, VectorShuffle<Float> sh, VectorMask<Float> ge) {
        return a.mul(a.rearrange(sh), ge); // a_i a_{i-k}; lanes i < k keep a_i
    }

    /** Inclusive scan of (a, b) pairs across lanes, then the carry: h for every lane. */
    private static FloatVector scanLanes(FloatVector a, FloatVector b, FloatVector carry) {
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

    /** dt = softplus(delta + bias) (or without softplus) for {@code len} steps, into {@code dt}. */
    private static void dtPass(MemorySegment delta, long off, int len, float bias, boolean softplus, float[] dt) {
        dtPass(delta, off, len, bias, softplus, dt, 0);
    }

    private static void dtPass(MemorySegment delta, long off, int len, float bias, boolean softplus, float[] dt, int at) {
        FloatVector bv = FloatVector.broadcast(F, bias);
        if (softplus) {
            for (int v = 0; v < len; v += VL) SimdMath.softplus(load(delta, off + v).add(bv)).intoArray(dt, at + v);
        } else {
            for (int v = 0; v < len; v += VL) load(delta, off + v).add(bv).intoArray(dt, at + v);
        }
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

    /** out *= silu(z) over a whole row (vector part, then scalar tail). */
    static void gate(MemorySegment out, MemorySegment z, long off, int len) {
        int bound = F.loopBound(len), v = 0;
        for (; v < bound; v += VL) {
            load(out, off + v).mul(SimdMath.silu(load(z, off + v))).intoMemorySegment(out, (off + v) * 4, ORDER);
        }
        for (; v < len; v++) {
            float zz = get(z, off + v);
            out.setAtIndex(JAVA_FLOAT_UNALIGNED, off + v, get(out, off + v) * (zz / (1f + (float) Math.exp(-zz))));
        }
    }

    static float softplus(float x) {
        return x <= 20f ? (float) Math.log1p(Math.exp(x)) : x;
    }

    // ------------------------------------------------------------------ rows

    /** State of one dstate-1 row chunk, shared by the passes. */
    static final class N1 {
        final float[] a = new float[N1_CHUNK], bu = new float[N1_CHUNK];
        /** C of the current (batch, group) row (or chunk, for long rows), see stageC; cbOff = the chunk's start in it. */
        float[] cb = new float[N1_CHUNK];
        MemorySegment cKey;
        long cKeyRow;
        int cbOff;
        MemorySegment delta, u, bs, cs, out;
        boolean sp, bVar, cVar;
        long off, bOff;
        float bias, a2, bConst, cConst, dSkip, h;
        int len;
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
        c -> softplusPass(c.delta, c.off, c.bias, c.sp, c.a, c.len),
        c -> c.h = coeffScanOutPass(c),
    };

    // softplus is its own pass, apart from exp2 and the scan: each loop is then small enough for C2 to keep
    // SimdMath's broadcast constants in registers (and to unroll the softplus loop) within its inlining
    // budget. y is written to a float[] and copied out in bulk: a store to a segment inside a loop made C2
    // redo every segment access's bounds, liveness and type checks per vector (~50 scalar instructions).

    /** dt = softplus(delta + bias) (or delta + bias) into {@code dt}. */
    private static void softplusPass(MemorySegment delta, long off, float bias, boolean sp, float[] dt, int len) {
        FloatVector bv = FloatVector.broadcast(F, bias);
        if (!sp) {
            for (int v = 0; v < len; v += VL) load(delta, off + v).add(bv).intoArray(dt, v);
            return;
        }
        for (int v = 0; v < len; v += VL) SimdMath.softplus(load(delta, off + v).add(bv)).intoArray(dt, v);
    }

    /**
     * Rows up to this many steps have C staged whole (64 KiB per thread at most); longer ones chunk by chunk, so
     * that a very long sequence does not cost a buffer of its length per thread.
     */
    private static final int C_ROW_MAX = 16384;

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
        final float aRaw = get(j.a(), d);
        c.a2 = aRaw * LOG2E;
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
        final int bound = F.loopBound(l);
        for (int t0 = 0; t0 < bound; t0 += N1_CHUNK) {
            c.len = Math.min(N1_CHUNK, bound - t0);
            c.off = base + t0;
            c.bOff = bRow + t0;
            stageC(c, cRow, l, t0, c.len);
            for (N1Pass p : N1_PASSES) p.run(c);
        }
        float h = c.h;
        for (int t = bound; t < l; t++) { // scalar tail
            float x = get(j.delta(), base + t) + c.bias, dt = c.sp ? softplus(x) : x, uu = get(j.u(), base + t);
            float bb = c.bVar ? get(j.b(), bRow + t) : c.bConst, cc = c.cVar ? get(j.c(), cRow + t) : c.cConst;
            h = (float) Math.exp(dt * aRaw) * h + dt * uu * bb;
            j.out().setAtIndex(JAVA_FLOAT_UNALIGNED, base + t, cc * h + c.dSkip * uu);
        }
        if (j.lastState() != null) j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, row, h);
    }

    /**
     * Any dstate, chunk by chunk: dt, dt*u and D*u of a chunk are computed once into L1 buffers, then each
     * state runs its own scan over the chunk and adds C h into y; the states' carries live in {@code hs}.
     */
    private static void generalRow(ScanJob j, int row, float[] dt, float[] du, float[] a, float[] y, float[] bu,
                                   float[] hs) {
        final int l = j.seqlen(), dim = j.dim(), n = j.dstate(), b = row / dim, d = row % dim;
        final long base = (long) row * l;
        final boolean bVar = j.bVariable(), cVar = j.cVariable(), sp = j.softplus();
        final long bRow = bVar ? j.bRow(b, d) : 0, cRow = cVar ? j.cRow(b, d) : 0;
        final long bStride = j.bStateStride(), cStride = j.cStateStride();
        final float bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d);
        final float dSkip = j.dSkip() == null ? 0f : get(j.dSkip(), d);
        final int bound = F.loopBound(l);
        java.util.Arrays.fill(hs, 0f);
        for (int t0 = 0; t0 < bound; t0 += CHUNK) {
            int len = Math.min(CHUNK, bound - t0);
            dtPass(j.delta(), base + t0, len, bias, sp, dt);
            duPass(dt, j.u(), base + t0, dSkip, du, y, len);
            for (int s = 0; s < n; s++) {
                long an = (long) d * n + s;
                float a2 = get(j.a(), an) * LOG2E;
                float bConst = bVar ? 0f : get(j.b(), an), cConst = cVar ? 0f : get(j.c(), an);
                stateCoeffPass(dt, du, a, bu, j.b(), bRow + s * bStride + t0, bVar, bConst, a2, len);
                hs[s] = scanAccPass(a, bu, j.c(), cRow + s * cStride + t0, cVar, cConst, y, len, hs[s]);
            }
            storePass(y, j.out(), base + t0, len);
        }
        for (int t = bound; t < l; t++) { // scalar tail
            float x = get(j.delta(), base + t) + bias, dtt = sp ? softplus(x) : x, uu = get(j.u(), base + t);
            float acc = 0f;
            for (int s = 0; s < n; s++) {
                long an = (long) d * n + s;
                float bb = bVar ? get(j.b(), bRow + s * bStride + t) : get(j.b(), an);
                float cc = cVar ? get(j.c(), cRow + s * cStride + t) : get(j.c(), an);
                hs[s] = (float) Math.exp(dtt * get(j.a(), an)) * hs[s] + dtt * uu * bb;
                acc += cc * hs[s];
            }
            j.out().setAtIndex(JAVA_FLOAT_UNALIGNED, base + t, acc + dSkip * uu);
        }
        if (j.lastState() != null) {
            for (int s = 0; s < n; s++) j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, (long) row * n + s, hs[s]);
        }
    }
}
