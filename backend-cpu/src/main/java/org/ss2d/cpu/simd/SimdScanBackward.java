package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.LAST;
import static org.ss2d.cpu.simd.SimdConstants.ORDER;
import static org.ss2d.cpu.simd.SimdConstants.FIRST;
import static org.ss2d.cpu.simd.SimdConstants.LT1;
import static org.ss2d.cpu.simd.SimdConstants.LT2;
import static org.ss2d.cpu.simd.SimdConstants.LT4;
import static org.ss2d.cpu.simd.SimdConstants.LT8;
import static org.ss2d.cpu.simd.SimdConstants.RSH1;
import static org.ss2d.cpu.simd.SimdConstants.RSH2;
import static org.ss2d.cpu.simd.SimdConstants.RSH4;
import static org.ss2d.cpu.simd.SimdConstants.RSH8;
import static org.ss2d.cpu.simd.SimdConstants.VL;
import static org.ss2d.cpu.simd.SimdMath.LOG2E;
import static org.ss2d.cpu.simd.SimdScan.get;
import static org.ss2d.cpu.simd.SimdScan.load;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import org.ss2d.cpu.kernel.ScanBackwardJob;
import org.ss2d.cpu.kernel.ScanJob;

/**
 * Selective scan backward with lanes = time steps of one (batch, channel) row, the same layout as {@link SimdScan}.
 * Per state: a forward pass recomputes {@code a_t = exp(dt A)} and {@code h_{t-1}} into row buffers (the in-vector
 * Hillis-Steele scan of the forward); a reverse pass runs {@code lam_t = C_t g_t + a_{t+1} lam_{t+1}} from the end,
 * the same in-vector scan with its shifts pointing the other way ({@code a_{t+1}} is an unaligned load one step
 * ahead), into a buffer (measured: 12% faster on the whole backward than scanning lane-reversed vectors); a gradient pass adds that state's share to du, dDelta and dB/dC and to the row's sums. The steps past the
 * last full vector run in scalar code (first in the reverse direction, last in the forward one), as in the forward.
 *
 * <p>Nothing is saved by the forward: a thread holds a few row buffers (O(seqlen) floats), the states are never
 * stored for a whole row and state set. Each pass is its own small loop (see {@link SimdScan} on C2's inlining
 * budget). A row with {@code |delta + bias|} beyond the range of the fast softplus, or non-finite, runs the plain
 * Java kernel instead.
 */
final class SimdScanBackward {
    private SimdScanBackward() {}

    /** Largest |delta + bias| the fast softplus and sigmoid take (far inside {@link Guard#X_MAX}). */
    private static final float X_LIMIT = 80f;

    private static final class Bufs {
        float[] dt = new float[0], g = new float[0], a = new float[0], hp = new float[0], lam = new float[0],
                du = new float[0], dDt = new float[0], y = new float[0], gb = new float[0], gc = new float[0],
                sig = new float[0];
        /** dstate 1: a variable dB/dC row being summed over its channels (see {@link Acc}). */
        final Acc accB = new Acc(), accC = new Acc();

        void ensure(int l) {
            int need = l + 2 * VL;
            if (dt.length >= need) return;
            dt = new float[need];
            g = new float[need];
            a = new float[need];
            hp = new float[need];
            lam = new float[need];
            du = new float[need];
            dDt = new float[need];
            y = new float[need];
            gb = new float[need];
            gc = new float[need];
            sig = new float[need];
            accB.flush();
            accC.flush();
            accB.row = new float[need];
            accC.row = new float[need];
        }
    }

    /**
     * At dstate 1, a variable dB (or dC) row of one (batch, group) on the heap while the group's channels add into it
     * one after the other (they run in channel order in one task), written back when another row is needed and at the
     * end of the task: a read and a write of the row per channel were ~4 of the 7 row-length copies of the backward.
     * Loaded from the segment, so the same float additions run in the same order as adding into the segment did.
     */
    static final class Acc {
        float[] row = new float[0];
        MemorySegment seg;
        long off;
        int len;

        /** This thread's row for {@code seg[off, off + len)}, loaded (after writing back the previous one) on a change. */
        float[] at(MemorySegment m, long at, int l) {
            if (seg != m || off != at || len != l) {
                flush();
                MemorySegment.copy(m, JAVA_FLOAT_UNALIGNED, at * 4, row, 0, l);
                seg = m;
                off = at;
                len = l;
            }
            return row;
        }

        void flush() {
            if (seg != null) MemorySegment.copy(row, 0, seg, JAVA_FLOAT_UNALIGNED, off * 4, len);
            seg = null;
        }
    }

    /**
     * Writes back this thread's dB/dC rows held by {@link Acc}: at the end of a task, and before any other kernel adds
     * into dB/dC.
     */
    static void flush() {
        Bufs bf = BUFS.get();
        bf.accB.flush();
        bf.accC.flush();
    }

    private static final ThreadLocal<Bufs> BUFS = ThreadLocal.withInitial(Bufs::new);

    static long scratchBytes(int seqlen) {
        return 13L * 4 * (seqlen + 2L * VL);
    }

    private static void set(MemorySegment s, long i, float v) {
        s.setAtIndex(JAVA_FLOAT_UNALIGNED, i, v);
    }

    private static final FloatVector ZERO = FloatVector.zero(F);

    /**
     * The reverse of {@link SimdScan#scanLanes}: {@code lam_i = c_i + a_i lam_{i+1}} across lanes from the last one, whose
     * successor is {@code carry} (the next vector's first lam); {@code a_i} is already the next step's decay.
     */
    private static FloatVector scanLanesReverse(FloatVector a, FloatVector c, FloatVector carry) {
        c = SimdScan.stageB(a, c, RSH1, LT1);
        a = SimdScan.stageA(a, RSH1, LT1);
        if (VL > 2) {
            c = SimdScan.stageB(a, c, RSH2, LT2);
            a = SimdScan.stageA(a, RSH2, LT2);
        }
        if (VL > 4) {
            c = SimdScan.stageB(a, c, RSH4, LT4);
            a = SimdScan.stageA(a, RSH4, LT4);
        }
        if (VL > 8) {
            c = SimdScan.stageB(a, c, RSH8, LT8);
            a = SimdScan.stageA(a, RSH8, LT8);
        }
        return a.fma(carry, c);
    }

    /** Returns false when the row must run the plain kernel (delta + bias out of the fast range). */
    static boolean row(ScanBackwardJob bj, int row) {
        ScanJob j = bj.fwd();
        final int l = j.seqlen(), n = j.dstate(), b = row / j.dim(), d = row % j.dim();
        final long base = (long) row * l;
        final int bound = F.loopBound(l);
        final float bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d);
        final float dSkip = j.dSkip() == null ? 0f : get(j.dSkip(), d);
        Bufs bf = BUFS.get();
        bf.ensure(l);
        if (n == 1 ? !dtSigPass(j.delta(), base, l, bound, bias, j.softplus(), bf.dt, bf.sig)
                : !dtPass(j.delta(), base, l, bound, bias, j.softplus(), bf.dt)) {
            return false;
        }
        // dstate 1 without z reads dout where it lies; the others take it into g (gated in place with z)
        final boolean gInPlace = n == 1 && j.z() == null;
        if (!gInPlace) MemorySegment.copy(bj.dout(), JAVA_FLOAT_UNALIGNED, base * 4, bf.g, 0, l);
        if (n > 1) {
            java.util.Arrays.fill(bf.du, 0, l, 0f);
            java.util.Arrays.fill(bf.dDt, 0, l, 0f);
        }
        java.util.Arrays.fill(bf.a, l, l + VL, 1f); // a_L = 1: lam_{L-1} = C g + dlast_state
        final long bRow = j.bVariable() ? j.bRow(b, d) : 0, cRow = j.cVariable() ? j.cRow(b, d) : 0;
        double[] part = bj.partials();
        final int p0 = row * bj.partialStride();
        if (j.z() != null) {
            for (int t = 0; t < l; t++) bf.y[t] = dSkip * get(j.u(), base + t);
            for (int s = 0; s < n; s++) forward(j, s, d, base, bRow, cRow, bf, bound, true);
            gatePass(j.z(), bj.dz(), base, l, bound, bf.g, bf.y);
        }
        if (n == 1) {
            if (j.z() == null) forward(j, 0, d, base, bRow, cRow, bf, bound, false);
            if (gInPlace && bound < l) { // the scalar tails read g from the buffer
                MemorySegment.copy(bj.dout(), JAVA_FLOAT_UNALIGNED, (base + bound) * 4, bf.g, bound, l - bound);
            }
            float[] sums = onlyStatePass(bj, d, base, bRow, cRow, bf, bound, dSkip,
                    reverseTail(bj, 0, row, d, base, bRow, cRow, bf, bound), gInPlace ? bj.dout() : null);
            part[p0] = sums[0];
            part[p0 + 1] = sums[1];
            part[p0 + 2] = sums[2];
            part[p0 + 3] = sums[3];
            part[p0 + 4] = sums[4];
            return true;
        }
        for (int s = 0; s < n; s++) {
            forward(j, s, d, base, bRow, cRow, bf, bound, false); // with z, the y pass above left only the last state
            float lastLam = reverseTail(bj, s, row, d, base, bRow, cRow, bf, bound);
            lamPass(j, s, d, cRow, bf, bound, lastLam);
            float[] sums = gradPass(bj, s, d, base, bRow, cRow, bf, bound);
            part[p0 + s] = sums[0];
            part[p0 + n + s] = sums[1];
            part[p0 + 2 * n + s] = sums[2];
        }
        double[] dd = finishPass(j, bj, base, l, bound, bias, dSkip, bf);
        part[p0 + 3 * n] = dd[0];
        part[p0 + 3 * n + 1] = dd[1];
        return true;
    }

    /** {@link #X_LIMIT} as the bound {@link SimdScan#dtPass} checks bits(-|x|) against (NaN lies above it). */
    private static final int NAX_LIMIT = Guard.naxBits(X_LIMIT);

    /**
     * dt = softplus(delta + bias) (or without softplus); false when some |delta + bias| is over X_LIMIT or NaN. The
     * full vectors through the forward's pass (integer range check on the -|x| softplus computes anyway: the float
     * max/abs of the first version made this pass cost as much as the whole forward scan).
     */
    private static boolean dtPass(MemorySegment delta, long off, int l, int bound, float bias, boolean softplus,
                                  float[] dt) {
        if (SimdScan.dtPass(delta, off, bound, bias, softplus, dt, NAX_LIMIT, Integer.MAX_VALUE)) return false;
        float m = 0f;
        for (int v = bound; v < l; v++) {
            float x = get(delta, off + v) + bias;
            m = Math.max(m, Float.isNaN(x) ? Float.POSITIVE_INFINITY : Math.abs(x));
            dt[v] = softplus ? (x <= 20f ? (float) Math.log1p(Math.exp(x)) : x) : x;
        }
        return m <= X_LIMIT;
    }

    /**
     * dstate 1: {@link #dtPass} that also leaves softplus'(delta + bias) = sigmoid in {@code sig} (1 without softplus)
     * for the full vectors, from the exponential softplus computes anyway: sigmoid(x) = 1 / (1 + e) for x >= 0 and
     * e / (1 + e) below, e = exp(-|x|). One division and a store here, one load and multiply in the reverse pass, where
     * a pass of its own computed 1 - exp(-dt) (an exponential, two row buffers read and one written again); the
     * division form also keeps its relative accuracy for very negative x, where 1 - exp(-dt) cancels.
     */
    private static boolean dtSigPass(MemorySegment delta, long off, int l, int bound, float bias, boolean softplus,
                                     float[] dt, float[] sig) {
        if (!softplus) {
            java.util.Arrays.fill(sig, 0, bound, 1f);
            return dtPass(delta, off, l, bound, bias, false, dt);
        }
        FloatVector bv = FloatVector.broadcast(F, bias), one = FloatVector.broadcast(F, 1f);
        IntVector most = IntVector.broadcast(SimdConstants.I, Integer.MIN_VALUE);
        for (int v = 0; v < bound; v += VL) {
            FloatVector x = load(delta, off + v).add(bv);
            IntVector xi = x.reinterpretAsInts(), nax = xi.or(Integer.MIN_VALUE);
            most = most.max(nax);
            FloatVector e = SimdMath.expNegAbs(nax.reinterpretAsFloats());
            SimdMath.softplusOf(x, e).intoArray(dt, v);
            one.blend(e, xi.compare(VectorOperators.LT, 0).cast(SimdConstants.F)).div(one.add(e)).intoArray(sig, v);
        }
        if (most.compare(VectorOperators.GT, NAX_LIMIT).anyTrue()) return false;
        float m = 0f;
        for (int v = bound; v < l; v++) {
            float x = get(delta, off + v) + bias;
            m = Math.max(m, Float.isNaN(x) ? Float.POSITIVE_INFINITY : Math.abs(x));
            dt[v] = x <= 20f ? (float) Math.log1p(Math.exp(x)) : x;
        }
        return m <= X_LIMIT;
    }

    /** State s: a[t] and hp[t] = h_{t-1} for the row; with {@code accY}, y += C h. */
    private static void forward(ScanJob j, int s, int d, long base, long bRow, long cRow, Bufs bf, int bound,
                                boolean accY) {
        final int l = j.seqlen(), n = j.dstate();
        final float an = get(j.a(), (long) d * n + s);
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        final long bOff = bRow + s * j.bStateStride(), cOff = cRow + s * j.cStateStride();
        final float bConst = bVar ? 0f : get(j.b(), (long) d * n + s), cConst = cVar ? 0f : get(j.c(), (long) d * n + s);
        bf.hp[0] = 0f;
        float h = forwardVectors(j.u(), base, j.b(), bOff, bVar, bConst, j.c(), cOff, cVar, cConst, an * LOG2E, bf.dt,
                bf.a, bf.hp, accY ? bf.y : null, bound);
        for (int t = bound; t < l; t++) {
            float bb = bVar ? get(j.b(), bOff + t) : bConst;
            bf.hp[t] = h;
            bf.a[t] = (float) Math.exp(bf.dt[t] * an);
            h = bf.a[t] * h + bf.dt[t] * get(j.u(), base + t) * bb;
            if (accY) bf.y[t] += (cVar ? get(j.c(), cOff + t) : cConst) * h;
        }
    }

    private static float forwardVectors(MemorySegment u, long base, MemorySegment bs, long bOff, boolean bVar,
                                        float bConst, MemorySegment cs, long cOff, boolean cVar, float cConst, float a2,
                                        float[] dt, float[] a, float[] hp, float[] y, int bound) {
        FloatVector carry = ZERO, a2v = FloatVector.broadcast(F, a2), bc = FloatVector.broadcast(F, bConst),
                cc = FloatVector.broadcast(F, cConst);
        for (int v = 0; v < bound; v += VL) {
            FloatVector dtv = FloatVector.fromArray(F, dt, v);
            FloatVector av = SimdMath.exp2Mul(dtv, a2v);
            FloatVector bv = dtv.mul(load(u, base + v)).mul(bVar ? load(bs, bOff + v) : bc);
            FloatVector hv = SimdScan.scanLanes(av, bv, carry);
            av.intoArray(a, v);
            hv.intoArray(hp, v + 1); // hp[t] = h_{t-1}: h stored one step on (hp[0] = 0 set by the caller)
            if (y != null) hv.fma(cVar ? load(cs, cOff + v) : cc, FloatVector.fromArray(F, y, v)).intoArray(y, v);
            carry = hv.rearrange(LAST);
        }
        return carry.lane(0);
    }

    /** The steps past the last full vector, from the end: lam there and its share of the gradients; returns lam_bound. */
    private static float reverseTail(ScanBackwardJob bj, int s, int row, int d, long base, long bRow, long cRow, Bufs bf,
                                     int bound) {
        ScanJob j = bj.fwd();
        final int l = j.seqlen(), n = j.dstate();
        final float an = get(j.a(), (long) d * n + s);
        float lam = bj.dLastState() == null ? 0f : get(bj.dLastState(), (long) row * n + s);
        if (bound == l) return lam; // lam_L = dlast_state, with a_L = 1 in the buffer
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        final long bOff = bRow + s * j.bStateStride(), cOff = cRow + s * j.cStateStride();
        float carry = lam;
        for (int t = l - 1; t >= bound; t--) {
            float cc = cVar ? get(j.c(), cOff + t) : get(j.c(), (long) d * n + s);
            lam = cc * bf.g[t] + carry;
            bf.lam[t] = lam;
            carry = bf.a[t] * lam;
        }
        return lam;
    }

    /** lam for the full vectors, from the last one down, seeded with lam_bound. */
    private static void lamPass(ScanJob j, int s, int d, long cRow, Bufs bf, int bound, float lamBound) {
        final boolean cVar = j.cVariable();
        final long cOff = cRow + s * j.cStateStride();
        final MemorySegment cs = j.c();
        final float[] a = bf.a, g = bf.g, lam = bf.lam;
        FloatVector cc = FloatVector.broadcast(F, cVar ? 0f : get(cs, (long) d * j.dstate() + s));
        FloatVector carry = FloatVector.broadcast(F, lamBound);
        for (int v = bound - VL; v >= 0; v -= VL) {
            FloatVector c = (cVar ? load(cs, cOff + v) : cc).mul(FloatVector.fromArray(F, g, v));
            FloatVector an = FloatVector.fromArray(F, a, v + 1); // a_{t+1}
            FloatVector r = scanLanesReverse(an, c, carry);
            r.intoArray(lam, v);
            carry = r.rearrange(FIRST);
        }
    }

    /** State s's share of du, dDelta, variable dB/dC (in place), and its sums dA, constant dB, constant dC. */
    private static float[] gradPass(ScanBackwardJob bj, int s, int d, long base, long bRow, long cRow, Bufs bf,
                                    int bound) {
        ScanJob j = bj.fwd();
        final int l = j.seqlen(), n = j.dstate();
        final float an = get(j.a(), (long) d * n + s);
        final boolean bVar = j.bVariable(), cVar = j.cVariable();
        final long bOff = bRow + s * j.bStateStride(), cOff = cRow + s * j.cStateStride();
        final float bConst = bVar ? 0f : get(j.b(), (long) d * n + s);
        float[] sums = {gradVectors(j.u(), base, j.b(), bOff, bVar, bConst, an, bf, bound),
            addOrSum(bj.dB(), bOff, bVar, bf.gb, bound, bf.y), addOrSum(bj.dC(), cOff, cVar, bf.gc, bound, bf.y)};
        for (int t = bound; t < l; t++) {
            float uu = get(j.u(), base + t), bb = bVar ? get(j.b(), bOff + t) : bConst, lam = bf.lam[t], dt = bf.dt[t];
            float ah = bf.a[t] * bf.hp[t], h = ah + dt * uu * bb;
            bf.du[t] += dt * lam * bb;
            bf.dDt[t] += lam * (uu * bb + an * ah);
            sums[0] += lam * dt * ah;
            float gb = lam * dt * uu, gc = bf.g[t] * h;
            if (bVar) set(bj.dB(), bOff + t, get(bj.dB(), bOff + t) + gb);
            else sums[1] += gb;
            if (cVar) set(bj.dC(), cOff + t, get(bj.dC(), cOff + t) + gc);
            else sums[2] += gc;
        }
        return sums;
    }

    /**
     * du, dDt (in place) and the per-step dB, dC shares into bf.gb, bf.gc; returns the sum for dA. The dB/dC updates
     * are their own pass ({@link #addOrSum}): in this loop they took it past NodeCountInliningCutoff (their loads
     * were left as calls, boxing every vector).
     */
    private static float gradVectors(MemorySegment u, long base, MemorySegment bs, long bOff, boolean bVar,
                                     float bConst, float an, Bufs bf, int bound) {
        final float[] a = bf.a, hp = bf.hp, lam = bf.lam, dt = bf.dt, g = bf.g, du = bf.du, dDt = bf.dDt, gbs = bf.gb,
                gcs = bf.gc;
        FloatVector anv = FloatVector.broadcast(F, an), bc = FloatVector.broadcast(F, bConst);
        FloatVector sA = ZERO;
        for (int v = 0; v < bound; v += VL) {
            FloatVector uu = load(u, base + v), bb = bVar ? load(bs, bOff + v) : bc;
            FloatVector lv = FloatVector.fromArray(F, lam, v), dtv = FloatVector.fromArray(F, dt, v);
            FloatVector ah = FloatVector.fromArray(F, a, v).mul(FloatVector.fromArray(F, hp, v));
            FloatVector ld = lv.mul(dtv), ub = uu.mul(bb);
            ld.fma(bb, FloatVector.fromArray(F, du, v)).intoArray(du, v);
            lv.fma(anv.fma(ah, ub), FloatVector.fromArray(F, dDt, v)).intoArray(dDt, v);
            sA = ld.fma(ah, sA);
            ld.mul(uu).intoArray(gbs, v);
            FloatVector.fromArray(F, g, v).mul(dtv.fma(ub, ah)).intoArray(gcs, v);
        }
        return SimdMath.sum(sA);
    }

    /**
     * Variable: dst[off + t] += src[t] for the full vectors (through {@code tmp}: read, added and written back in
     * bulk, no segment store inside the loop, see {@link #onlyStateVectors}); constant: the sum of src (returned; 0
     * when variable).
     */
    private static float addOrSum(MemorySegment dst, long off, boolean variable, float[] src, int bound, float[] tmp) {
        FloatVector sum = ZERO;
        if (variable) {
            MemorySegment.copy(dst, JAVA_FLOAT_UNALIGNED, off * 4, tmp, 0, bound);
            for (int v = 0; v < bound; v += VL) {
                FloatVector.fromArray(F, tmp, v).add(FloatVector.fromArray(F, src, v)).intoArray(tmp, v);
            }
            MemorySegment.copy(tmp, 0, dst, JAVA_FLOAT_UNALIGNED, off * 4, bound);
            return 0f;
        }
        for (int v = 0; v < bound; v += VL) sum = sum.add(FloatVector.fromArray(F, src, v));
        return SimdMath.sum(sum);
    }

    /**
     * dstate 1 (VMamba's): the one state's gradients and the row's finish in one pass, straight to the outputs (no
     * du/dDelta accumulators to clear, add and re-read). Returns the sums dA, constant dB, constant dC, dD, dDeltaBias.
     * {@code gs}: dout, read in place by the vector loop (null: the gated g in {@code bf.g}).
     */
    private static float[] onlyStatePass(ScanBackwardJob bj, int d, long base, long bRow, long cRow, Bufs bf, int bound,
                                         float dSkip, float lamBound, MemorySegment gs) {
        ScanJob j = bj.fwd();
        final int l = j.seqlen();
        final float an = get(j.a(), d);
        final boolean bVar = j.bVariable(), cVar = j.cVariable(), sp = j.softplus();
        final float bConst = bVar ? 0f : get(j.b(), d), cConst = cVar ? 0f : get(j.c(), d);
        final float[] accB = bVar ? bf.accB.at(bj.dB(), bRow, l) : null, accC = cVar ? bf.accC.at(bj.dC(), cRow, l) : null;
        float[] sums = onlyStateVectors(j.c(), cRow, cVar, cConst, lamBound, j.u(), base, j.b(), bRow, bVar, bConst, an,
                dSkip, bf, accB, accC, gs, bj.du(), bj.dDelta(), bound);
        final float bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d);
        for (int t = bound; t < l; t++) {
            float uu = get(j.u(), base + t), bb = bVar ? get(j.b(), bRow + t) : bConst, lam = bf.lam[t], dt = bf.dt[t];
            float ah = bf.a[t] * bf.hp[t], h = ah + dt * uu * bb, g = bf.g[t];
            bf.du[t] = dt * lam * bb + dSkip * g;
            float dd = lam * (uu * bb + an * ah);
            if (sp) {
                float x = get(j.delta(), base + t) + bias;
                if (x <= 20f) dd *= 1f / (1f + (float) Math.exp(-x));
            }
            bf.dDt[t] = dd;
            sums[0] += lam * dt * ah;
            float gb = lam * dt * uu, gc = g * h;
            if (bVar) accB[t] += gb;
            else sums[1] += gb;
            if (cVar) accC[t] += gc;
            else sums[2] += gc;
            sums[3] += g * uu;
            sums[4] += dd;
        }
        if (bound < l) {
            MemorySegment.copy(bf.du, bound, bj.du(), JAVA_FLOAT_UNALIGNED, (base + bound) * 4, l - bound);
            MemorySegment.copy(bf.dDt, bound, bj.dDelta(), JAVA_FLOAT_UNALIGNED, (base + bound) * 4, l - bound);
        }
        return sums;
    }

    /**
     * The full vectors from the last one down: lam by the reverse in-vector scan (seeded with lam_bound) and at once the
     * state's gradients: du and dDelta (softplus' applied) stored straight into their outputs (through row buffers and
     * a bulk copy before: measured 4% slower on the whole backward; this loop reads segments anyway, so their stores do
     * not add checks the way a lone segment store in a short loop does, see {@link SimdScan}), variable dB/dC added
     * into the group's heap rows, the sums dA, constant dB, constant dC, dD, dDeltaBias. One pass where lam used to be
     * stored by its own pass and read by this one, and dB/dC went through two more buffers.
     */
    private static float[] onlyStateVectors(MemorySegment cs, long cOff, boolean cVar, float cConst, float lamBound,
                                            MemorySegment u, long base, MemorySegment bs, long bOff, boolean bVar,
                                            float bConst, float an, float dSkip, Bufs bf, float[] accB, float[] accC,
                                            MemorySegment gs, MemorySegment duOut, MemorySegment ddOut, int bound) {
        final float[] a = bf.a, hp = bf.hp, dt = bf.dt, g = bf.g, du = bf.du, dDelta = bf.dDt, sig = bf.sig;
        FloatVector anv = FloatVector.broadcast(F, an), bc = FloatVector.broadcast(F, bConst),
                cc = FloatVector.broadcast(F, cConst), dv = FloatVector.broadcast(F, dSkip);
        FloatVector carry = FloatVector.broadcast(F, lamBound);
        FloatVector sA = ZERO, sD = ZERO, sB = ZERO, sC = ZERO, sBias = ZERO;
        for (int v = bound - VL; v >= 0; v -= VL) {
            FloatVector gv = gs != null ? load(gs, base + v) : FloatVector.fromArray(F, g, v);
            FloatVector lv = scanLanesReverse(FloatVector.fromArray(F, a, v + 1), (cVar ? load(cs, cOff + v) : cc).mul(gv),
                    carry); // a_{t+1}
            carry = lv.rearrange(FIRST);
            FloatVector uu = load(u, base + v), bb = bVar ? load(bs, bOff + v) : bc;
            FloatVector dtv = FloatVector.fromArray(F, dt, v);
            FloatVector ah = FloatVector.fromArray(F, a, v).mul(FloatVector.fromArray(F, hp, v));
            FloatVector ld = lv.mul(dtv), ub = uu.mul(bb);
            ld.fma(bb, dv.mul(gv)).intoMemorySegment(duOut, (base + v) * 4, ORDER);
            FloatVector dd = lv.mul(anv.fma(ah, ub)).mul(FloatVector.fromArray(F, sig, v));
            dd.intoMemorySegment(ddOut, (base + v) * 4, ORDER);
            sBias = sBias.add(dd);
            sD = gv.fma(uu, sD);
            sA = ld.fma(ah, sA);
            FloatVector gb = ld.mul(uu), gc = gv.mul(dtv.fma(ub, ah));
            if (bVar) FloatVector.fromArray(F, accB, v).add(gb).intoArray(accB, v);
            else sB = sB.add(gb);
            if (cVar) FloatVector.fromArray(F, accC, v).add(gc).intoArray(accC, v);
            else sC = sC.add(gc);
        }
        return new float[] {SimdMath.sum(sA), SimdMath.sum(sB), SimdMath.sum(sC), SimdMath.sum(sD), SimdMath.sum(sBias)};
    }

    /** dz and the gated g from the pre-gate y: g~ = g silu(z), dz = g y sigmoid(z) (1 + z (1 - sigmoid(z))). */
    private static void gatePass(MemorySegment z, MemorySegment dz, long base, int l, int bound, float[] g, float[] y) {
        FloatVector one = FloatVector.broadcast(F, 1f);
        int v = 0;
        for (; v < bound; v += VL) {
            FloatVector zz = load(z, base + v), gv = FloatVector.fromArray(F, g, v);
            FloatVector sg = one.div(SimdMath.exp2(zz.mul(-LOG2E)).add(one));
            gv.mul(FloatVector.fromArray(F, y, v)).mul(sg).mul(zz.fma(one.sub(sg), one))
                    .intoMemorySegment(dz, (base + v) * 4, ORDER);
            gv.mul(zz).mul(sg).intoArray(g, v);
        }
        for (; v < l; v++) {
            float zz = get(z, base + v), sg = 1f / (1f + (float) Math.exp(-zz));
            set(dz, base + v, g[v] * y[v] * sg * (1f + zz * (1f - sg)));
            g[v] *= zz * sg;
        }
    }

    /** du = du + D g and dDelta = dDt softplus'(delta + bias) stored; returns the row's sums of g u and dDelta. */
    private static double[] finishPass(ScanJob j, ScanBackwardJob bj, long base, int l, int bound, float bias,
                                       float dSkip, Bufs bf) {
        final float[] g = bf.g, du = bf.du, dDt = bf.dDt;
        final boolean sp = j.softplus();
        FloatVector dv = FloatVector.broadcast(F, dSkip), one = FloatVector.broadcast(F, 1f),
                nl2e = FloatVector.broadcast(F, -LOG2E);
        FloatVector sD = ZERO, sBias = ZERO;
        int v = 0;
        for (; v < bound; v += VL) {
            FloatVector gv = FloatVector.fromArray(F, g, v);
            dv.fma(gv, FloatVector.fromArray(F, du, v)).intoArray(du, v);
            sD = gv.fma(load(j.u(), base + v), sD);
            FloatVector dd = FloatVector.fromArray(F, dDt, v);
            if (sp) {
                // softplus'(x) = sigmoid(x) = 1 - exp(-softplus(x)): no division, and dt holds softplus(x) already
                // (above the threshold dt = x and 1 - exp(-x) rounds to 1, the identity's derivative)
                dd = dd.mul(one.sub(SimdMath.exp2Mul(FloatVector.fromArray(F, bf.dt, v), nl2e)));
            }
            dd.intoArray(dDt, v);
            sBias = sBias.add(dd);
        }
        double dD = SimdMath.sum(sD), dBias = SimdMath.sum(sBias);
        for (; v < l; v++) {
            float uu = get(j.u(), base + v);
            dD += (double) g[v] * uu;
            du[v] += dSkip * g[v];
            float dd = dDt[v];
            if (sp) {
                float x = get(j.delta(), base + v) + bias;
                if (x <= 20f) dd *= 1f / (1f + (float) Math.exp(-x));
            }
            dDt[v] = dd;
            dBias += dd;
        }
        MemorySegment.copy(du, 0, bj.du(), JAVA_FLOAT_UNALIGNED, base * 4, l); // bulk: see onlyStateVectors
        MemorySegment.copy(dDt, 0, bj.dDelta(), JAVA_FLOAT_UNALIGNED, base * 4, l);
        return new double[] {dD, dBias};
    }
}
