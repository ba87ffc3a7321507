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
import org.ss2d.cpu.kernel.ScanJob;

/**
 * Selective scan with lanes = time steps of one (batch, channel) row: u, delta, B, C and out are
 * contiguous along time, so every load and store is a plain vector access and softplus/exp run on
 * full vectors with no transpose. The recurrence {@code h_t = a_t h_{t-1} + b_t} inside a vector is a
 * log2(lanes)-step Hillis-Steele scan of (a, b) pairs; the carry from the previous vector enters with
 * one FMA at the end ({@code h = P * h_prev + S}), which keeps the loop-carried chain to an FMA and a
 * lane broadcast.
 */
final class SimdScan {
    private SimdScan() {}

    /** Time steps per chunk of the general path: dt, dt*u and y of a chunk stay in L1 across the state loop. */
    private static final int CHUNK = Math.max(VL, 1024 / VL * VL);

    static void scan(ScanJob j, int rowFrom, int rowTo) {
        if (j.dstate() == 1) {
            for (int row = rowFrom; row < rowTo; row++) n1Row(j, row);
        } else {
            float[] dtBuf = new float[CHUNK], duBuf = new float[CHUNK], yBuf = new float[CHUNK], hs = new float[j.dstate()];
            for (int row = rowFrom; row < rowTo; row++) generalRow(j, row, dtBuf, duBuf, yBuf, hs);
        }
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    private static FloatVector load(MemorySegment s, long elem) {
        return FloatVector.fromMemorySegment(F, s, elem * 4, ORDER);
    }

    private static FloatVector load(MemorySegment s, long elem, VectorMask<Float> m) {
        return FloatVector.fromMemorySegment(F, s, elem * 4, ORDER, m);
    }

    /** Inclusive scan of (a, b) pairs across lanes, then the carry: returns h for every lane. */
    private static FloatVector scanLanes(FloatVector a, FloatVector b, FloatVector carry) {
        // stage k: (a_i, b_i) <- (a_i a_{i-k}, a_i b_{i-k} + b_i) for i >= k; the zero fill keeps b for i < k
        b = a.fma(b.rearrange(SH1, GE1), b);
        a = a.mul(a.rearrange(SH1), GE1);
        if (VL > 2) {
            b = a.fma(b.rearrange(SH2, GE2), b);
            a = a.mul(a.rearrange(SH2), GE2);
        }
        if (VL > 4) {
            b = a.fma(b.rearrange(SH4, GE4), b);
            a = a.mul(a.rearrange(SH4), GE4);
        }
        if (VL > 8) {
            b = a.fma(b.rearrange(SH8, GE8), b);
            a = a.mul(a.rearrange(SH8), GE8);
        }
        return a.fma(carry, b);
    }

    // ------------------------------------------------------------------ dstate = 1

    /** dstate 1 (VMamba's default): one fused pass, nothing leaves registers but y. */
    private static void n1Row(ScanJob j, int row) {
        final int l = j.seqlen(), dim = j.dim();
        final int b = row / dim, d = row % dim;
        final long base = (long) row * l;
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        final long bRow = bVar ? j.bRow(b, d) : 0, cRow = cVar ? j.cRow(b, d) : 0;
        final FloatVector a2 = FloatVector.broadcast(F, get(j.a(), d) * LOG2E);
        final FloatVector bias = FloatVector.broadcast(F, j.deltaBias() == null ? 0f : get(j.deltaBias(), d));
        final FloatVector dSkip = FloatVector.broadcast(F, j.dSkip() == null ? 0f : get(j.dSkip(), d));
        final FloatVector bConst = FloatVector.broadcast(F, bVar ? 0f : get(j.b(), d));
        final FloatVector cConst = FloatVector.broadcast(F, cVar ? 0f : get(j.c(), d));
        final boolean hasBias = j.deltaBias() != null, hasD = j.dSkip() != null, hasZ = j.z() != null, sp = j.softplus();
        final MemorySegment u = j.u(), delta = j.delta(), out = j.out(), bs = j.b(), cs = j.c(), zs = j.z();

        FloatVector carry = FloatVector.zero(F);
        final int bound = F.loopBound(l);
        int t = 0;
        for (; t < bound; t += VL) { // main loop: full vectors
            FloatVector x = load(delta, base + t);
            if (hasBias) x = x.add(bias);
            FloatVector dt = sp ? SimdMath.softplus(x) : x;
            FloatVector uu = load(u, base + t);
            FloatVector a = SimdMath.exp2(dt.mul(a2));
            FloatVector bu = dt.mul(uu).mul(bVar ? load(bs, bRow + t) : bConst);
            FloatVector h = scanLanes(a, bu, carry);
            FloatVector y = h.mul(cVar ? load(cs, cRow + t) : cConst);
            if (hasD) y = uu.fma(dSkip, y);
            if (hasZ) y = y.mul(SimdMath.silu(load(zs, base + t)));
            y.intoMemorySegment(out, (base + t) * 4, ORDER);
            carry = h.rearrange(LAST);
        }
        float last = carry.lane(0);
        if (t < l) { // tail: masked loads read zeros past the end; those lanes are never stored
            VectorMask<Float> m = F.indexInRange(t, l);
            FloatVector x = load(delta, base + t, m);
            if (hasBias) x = x.add(bias);
            FloatVector dt = sp ? SimdMath.softplus(x) : x;
            FloatVector uu = load(u, base + t, m);
            FloatVector a = SimdMath.exp2(dt.mul(a2));
            FloatVector bu = dt.mul(uu).mul(bVar ? load(bs, bRow + t, m) : bConst);
            FloatVector h = scanLanes(a, bu, carry);
            FloatVector y = h.mul(cVar ? load(cs, cRow + t, m) : cConst);
            if (hasD) y = uu.fma(dSkip, y);
            if (hasZ) y = y.mul(SimdMath.silu(load(zs, base + t, m)));
            y.intoMemorySegment(out, (base + t) * 4, ORDER, m);
            last = h.lane(l - 1 - t);
        }
        if (j.lastState() != null) j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, row, last);
    }

    // ------------------------------------------------------------------ any dstate

    /**
     * Any dstate, chunk by chunk: dt, dt*u and D*u of a chunk are computed once into L1 buffers, then each
     * state runs its own scan over the chunk and adds C*h into y; the states' carries live in {@code hs}.
     */
    private static void generalRow(ScanJob j, int row, float[] dtBuf, float[] duBuf, float[] yBuf, float[] hs) {
        final int l = j.seqlen(), dim = j.dim(), n = j.dstate();
        final int b = row / dim, d = row % dim;
        final long base = (long) row * l;
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        final long bRow = bVar ? j.bRow(b, d) : 0, cRow = cVar ? j.cRow(b, d) : 0;
        final long bStride = j.bStateStride(), cStride = j.cStateStride();
        final FloatVector bias = FloatVector.broadcast(F, j.deltaBias() == null ? 0f : get(j.deltaBias(), d));
        final FloatVector dSkip = FloatVector.broadcast(F, j.dSkip() == null ? 0f : get(j.dSkip(), d));
        final boolean sp = j.softplus();
        final MemorySegment u = j.u(), delta = j.delta(), out = j.out(), bs = j.b(), cs = j.c(), zs = j.z();
        java.util.Arrays.fill(hs, 0f);

        for (int t0 = 0; t0 < l; t0 += CHUNK) {
            final int len = Math.min(CHUNK, l - t0);
            final int fullV = len / VL, nv = (len + VL - 1) / VL;
            final VectorMask<Float> tail = F.indexInRange(fullV * VL, len);
            for (int v = 0; v < nv; v++) {
                long t = base + t0 + (long) v * VL;
                FloatVector x = v < fullV ? load(delta, t) : load(delta, t, tail);
                FloatVector uu = v < fullV ? load(u, t) : load(u, t, tail);
                x = x.add(bias);
                FloatVector dt = sp ? SimdMath.softplus(x) : x;
                dt.intoArray(dtBuf, v * VL);
                dt.mul(uu).intoArray(duBuf, v * VL);
                uu.mul(dSkip).intoArray(yBuf, v * VL);
            }
            for (int s = 0; s < n; s++) {
                final FloatVector a2 = FloatVector.broadcast(F, get(j.a(), (long) d * n + s) * LOG2E);
                final FloatVector bConst = FloatVector.broadcast(F, bVar ? 0f : get(bs, (long) d * n + s));
                final FloatVector cConst = FloatVector.broadcast(F, cVar ? 0f : get(cs, (long) d * n + s));
                final long bOff = bRow + s * bStride + t0, cOff = cRow + s * cStride + t0;
                FloatVector carry = FloatVector.broadcast(F, hs[s]);
                for (int v = 0; v < fullV; v++) {
                    FloatVector a = SimdMath.exp2(FloatVector.fromArray(F, dtBuf, v * VL).mul(a2));
                    FloatVector bu = FloatVector.fromArray(F, duBuf, v * VL).mul(bVar ? load(bs, bOff + v * VL) : bConst);
                    FloatVector h = scanLanes(a, bu, carry);
                    FloatVector cv = cVar ? load(cs, cOff + v * VL) : cConst;
                    h.fma(cv, FloatVector.fromArray(F, yBuf, v * VL)).intoArray(yBuf, v * VL);
                    carry = h.rearrange(LAST);
                }
                float last = carry.lane(0);
                if (fullV < nv) {
                    int v = fullV;
                    FloatVector a = SimdMath.exp2(FloatVector.fromArray(F, dtBuf, v * VL).mul(a2));
                    FloatVector bu = FloatVector.fromArray(F, duBuf, v * VL)
                            .mul(bVar ? load(bs, bOff + v * VL, tail) : bConst);
                    FloatVector h = scanLanes(a, bu, carry);
                    FloatVector cv = cVar ? load(cs, cOff + v * VL, tail) : cConst;
                    h.fma(cv, FloatVector.fromArray(F, yBuf, v * VL)).intoArray(yBuf, v * VL);
                    last = h.lane(len - 1 - v * VL);
                }
                hs[s] = last;
            }
            for (int v = 0; v < nv; v++) {
                long t = base + t0 + (long) v * VL;
                FloatVector y = FloatVector.fromArray(F, yBuf, v * VL);
                if (zs != null) y = y.mul(SimdMath.silu(v < fullV ? load(zs, t) : load(zs, t, tail)));
                if (v < fullV) y.intoMemorySegment(out, t * 4, ORDER);
                else y.intoMemorySegment(out, t * 4, ORDER, tail);
            }
        }
        if (j.lastState() != null) {
            for (int s = 0; s < n; s++) j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, (long) row * n + s, hs[s]);
        }
    }
}
