package org.ss2d.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/**
 * The selective scan backward in plain Java, one (batch, channel) row at a time, float32 arithmetic (sums over
 * time in double): the readable statement of what the SIMD backward computes.
 *
 * <p>Memory: nothing is saved by the forward. A row is recomputed one state at a time: the forward recurrence of
 * state n fills {@code a_t} and {@code h_{t-1}} for the row (2 floats per step), then the reverse recurrence of
 * {@code lam_t = C_t g_t + a_{t+1} lam_{t+1}} consumes them. A thread thus holds O(seqlen) floats, never
 * O(seqlen x dstate) and nothing per batch. With a gate z the pre-gate output {@code y} is needed before the
 * first reverse pass, so for dstate > 1 one extra forward pass over all states computes it first.
 */
final class ScalarScanBackward {
    private ScalarScanBackward() {}

    /** A thread's row buffers, grown to the longest row seen. */
    private static final class Bufs {
        float[] dt = new float[0], g = new float[0], a = new float[0], hp = new float[0], du = new float[0],
                dDt = new float[0], y = new float[0];

        void ensure(int l) {
            if (dt.length >= l + 1) return;
            dt = new float[l + 1];
            g = new float[l + 1];
            a = new float[l + 1];
            hp = new float[l + 1];
            du = new float[l + 1];
            dDt = new float[l + 1];
            y = new float[l + 1];
        }
    }

    private static final ThreadLocal<Bufs> BUFS = ThreadLocal.withInitial(Bufs::new);

    static long scratchBytes(int seqlen) {
        return 7L * 4 * (seqlen + 1);
    }

    private static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    private static void set(MemorySegment s, long i, float v) {
        s.setAtIndex(JAVA_FLOAT_UNALIGNED, i, v);
    }

    static void row(ScanBackwardJob bj, int row) {
        ScanJob j = bj.fwd();
        final int l = j.seqlen(), n = j.dstate(), b = row / j.dim(), d = row % j.dim();
        final long base = (long) row * l;
        final long bRow = j.bVariable() ? j.bRow(b, d) : 0, cRow = j.cVariable() ? j.cRow(b, d) : 0;
        final float bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d);
        final float dSkip = j.dSkip() == null ? 0f : get(j.dSkip(), d);
        Bufs bf = BUFS.get();
        bf.ensure(l);
        float[] dt = bf.dt, g = bf.g, a = bf.a, hp = bf.hp, du = bf.du, dDt = bf.dDt, y = bf.y;
        for (int t = 0; t < l; t++) {
            float x = get(j.delta(), base + t) + bias;
            dt[t] = j.softplus() ? ScalarKernels.softplus(x) : x;
            g[t] = get(bj.dout(), base + t);
        }
        java.util.Arrays.fill(du, 0, l, 0f);
        java.util.Arrays.fill(dDt, 0, l, 0f);
        double[] part = bj.partials();
        int p0 = row * bj.partialStride();
        java.util.Arrays.fill(part, p0, p0 + bj.partialStride(), 0.0);
        if (j.z() != null) {
            for (int t = 0; t < l; t++) y[t] = dSkip * get(j.u(), base + t);
            for (int s = 0; s < n; s++) forward(j, s, d, base, bRow, cRow, dt, a, hp, y);
            for (int t = 0; t < l; t++) {
                float z = get(j.z(), base + t), sg = 1f / (1f + (float) Math.exp(-z));
                set(bj.dz(), base + t, g[t] * y[t] * sg * (1f + z * (1f - sg)));
                g[t] *= z * sg;
            }
        }
        for (int s = 0; s < n; s++) {
            if (j.z() == null || n > 1) forward(j, s, d, base, bRow, cRow, dt, a, hp, null);
            reverse(bj, s, row, d, base, bRow, cRow, dt, a, hp, g, du, dDt, part, p0);
        }
        double dD = 0, dBias = 0;
        for (int t = 0; t < l; t++) {
            float uu = get(j.u(), base + t);
            dD += (double) g[t] * uu;
            set(bj.du(), base + t, du[t] + dSkip * g[t]);
            float dd = dDt[t];
            if (j.softplus()) {
                float x = get(j.delta(), base + t) + bias;
                if (x <= 20f) dd *= 1f / (1f + (float) Math.exp(-x));
            }
            set(bj.dDelta(), base + t, dd);
            dBias += dd;
        }
        part[p0 + 3 * n] = dD;
        part[p0 + 3 * n + 1] = dBias;
    }

    private static float bAt(ScanJob j, int s, int d, long bRow, int t) {
        return j.bVariable() ? get(j.b(), bRow + s * j.bStateStride() + t) : get(j.b(), (long) d * j.dstate() + s);
    }

    private static float cAt(ScanJob j, int s, int d, long cRow, int t) {
        return j.cVariable() ? get(j.c(), cRow + s * j.cStateStride() + t) : get(j.c(), (long) d * j.dstate() + s);
    }

    /** State s forward: a[t], hp[t] = h_{t-1}; with {@code y}, also y += C h. */
    private static void forward(ScanJob j, int s, int d, long base, long bRow, long cRow, float[] dt, float[] a,
                                float[] hp, float[] y) {
        final int l = j.seqlen();
        final float an = get(j.a(), (long) d * j.dstate() + s);
        float h = 0f;
        for (int t = 0; t < l; t++) {
            hp[t] = h;
            a[t] = (float) Math.exp(dt[t] * an);
            h = a[t] * h + dt[t] * get(j.u(), base + t) * bAt(j, s, d, bRow, t);
            if (y != null) y[t] += cAt(j, s, d, cRow, t) * h;
        }
    }

    /** State s reverse: lam from the end, the per-step gradients into du/dDt/dB/dC, the row sums into part. */
    private static void reverse(ScanBackwardJob bj, int s, int row, int d, long base, long bRow, long cRow, float[] dt,
                                float[] a, float[] hp, float[] g, float[] du, float[] dDt, double[] part, int p0) {
        ScanJob j = bj.fwd();
        final int l = j.seqlen(), n = j.dstate();
        final float an = get(j.a(), (long) d * n + s);
        float carry = bj.dLastState() == null ? 0f : get(bj.dLastState(), (long) row * n + s);
        double dA = 0, dBc = 0, dCc = 0;
        for (int t = l - 1; t >= 0; t--) {
            float uu = get(j.u(), base + t), bb = bAt(j, s, d, bRow, t), cc = cAt(j, s, d, cRow, t);
            float lam = cc * g[t] + carry;
            float ah = a[t] * hp[t], h = ah + dt[t] * uu * bb;
            du[t] += dt[t] * lam * bb;
            dDt[t] += lam * (uu * bb + an * ah);
            dA += (double) (lam * dt[t]) * ah;
            float gb = lam * dt[t] * uu, gc = g[t] * h;
            if (j.bVariable()) {
                long i = bRow + s * j.bStateStride() + t;
                set(bj.dB(), i, get(bj.dB(), i) + gb);
            } else {
                dBc += gb;
            }
            if (j.cVariable()) {
                long i = cRow + s * j.cStateStride() + t;
                set(bj.dC(), i, get(bj.dC(), i) + gc);
            } else {
                dCc += gc;
            }
            carry = a[t] * lam;
        }
        part[p0 + s] = dA;
        part[p0 + n + s] = dBc;
        part[p0 + 2 * n + s] = dCc;
    }
}
