package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import org.ss2d.cpu.kernel.ScanJob;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;

/**
 * Where the scan's fast exponentials hold, and the exact path for where they do not.
 *
 * <p>The vector kernels compute {@code exp(dt A)} as {@code 2^(dt A log2 e)} and softplus with the same rounding
 * trick and clamped exponents: accurate for {@code |delta + bias| <= X_MAX} and {@code dt A log2 e} in
 * {@code [-Y_NEG, Y_POS]}, meaningless beyond (NaN and infinities come out as finite garbage, huge arguments as
 * garbage). So that the inner loops stay as they are, the passes that compute dt also track the largest
 * {@code |delta + bias|} (one integer max per vector, on the {@code -|x|} softplus computes anyway) and the kernel
 * compares it per chunk with a limit computed once per row (or channel block) from A. A chunk over the limit, a
 * row whose {@code A log2 e} is not finite, or a chunk after which the state is no longer finite (an intermediate
 * overflow that float64 may not have) runs, with the rest of its row, here: in double precision with the
 * library's exp, as the float64 reference does. Slow, and only for inputs that real models do not produce.
 */
final class Guard {
    private Guard() {}

    /** Largest |delta + bias| of the fast path: the rounding trick holds to 2^22 (softplus) with margin. */
    static final double X_MAX = 0x1p20;
    /** Largest -dt A log2(e): the exponent clamp makes 2^y ~2^-126 instead of 0 there, the trick holds to 2^22. */
    static final double Y_NEG = 0x1p21;
    /** Largest positive dt A log2(e): the in-register scan multiplies up to 16 of them (2^64, no overflow). */
    static final double Y_POS = 4;

    /**
     * The largest {@code |delta + bias|} with which a row whose {@code A log2 e} lie in {@code [aMin, aMax]} runs
     * on the fast path; negative when none does (A not finite: the row runs exact). With softplus dt is at most
     * {@code max(x, 0) + ln 2}, hence the {@code - 1}.
     */
    static double limit(boolean softplus, float aMin, float aMax) {
        if (!Float.isFinite(aMin) || !Float.isFinite(aMax)) return -1;
        double neg = Math.max(0, -(double) aMin), pos = Math.max(0, (double) aMax);
        if (softplus) return Math.min(X_MAX, Math.min(Y_NEG / neg - 1, Y_POS / pos - 1));
        return Math.min(X_MAX, Math.min(Y_NEG / Math.max(neg, pos), Y_POS / pos));
    }

    /** Without softplus: the largest {@code -(delta + bias)} (a negative step makes {@code dt A > 0} for A < 0). */
    static double negLimit(float aMin) {
        return Math.min(X_MAX, Y_POS / Math.max(0, -(double) aMin));
    }

    /**
     * {@code limit} as the int the passes compare their running max of {@code bits(-|x|)} with: those bits, read as
     * an int, grow with |x| (and NaN lies above infinity), so {@code max > naxBits(limit)} means out of range.
     */
    static int naxBits(double limit) {
        return Integer.MIN_VALUE + Float.floatToRawIntBits((float) limit);
    }

    /** {@code negLimit} as the int the passes compare their running max of {@code bits(-x)} with. */
    static int negBits(double negLimit) {
        return Float.floatToRawIntBits((float) negLimit);
    }

    /** Whether any of {@code n} states at {@code h[off + s * stride]} is NaN or infinite. */
    static boolean anyNonFinite(float[] h, int off, int stride, int n) {
        for (int s = 0; s < n; s++) {
            if (!Float.isFinite(h[off + s * stride])) return true;
        }
        return false;
    }

    /**
     * Steps {@code [t0, seqlen)} of one row in double precision, from the states {@code h[hOff + s * hStride]}
     * (updated to the row's last state, rounded to float): {@code out = sum_s C h + D u} (the z gate is the
     * caller's, as on the fast path).
     */
    static void exactRest(ScanJob j, int row, int t0, float[] h, int hOff, int hStride) {
        exactRest(j, row, t0, h, hOff, hStride, false, null, false);
    }

    /**
     * {@link #exactRest} for a scan on 16-bit activations ({@code half}: u, delta, z and variable B/C hold it; out too
     * when {@code outHalf}, rounded once): the half kernels fuse the z gate into their output pass, so it is applied
     * here as well. {@code half} null: float32, ungated (the float32 kernels gate the whole row afterwards).
     */
    static void exactRest(ScanJob j, int row, int t0, float[] h, int hOff, int hStride, DType half, boolean outHalf) {
        exactRest(j, row, t0, h, hOff, hStride, half != null && j.z() != null, half, outHalf); // float32 gates later
    }

    /**
     * A whole row in double precision, z gate included (out and last_state rewritten): for a gated row that came
     * out non-finite, which float64 may not be (an out past float32's range brought back by the gate).
     */
    static void exactRow(ScanJob j, int row) {
        exactRow(j, row, null, false);
    }

    /** {@link #exactRow} on 16-bit activations ({@code half} null: float32), see {@link #exactRest}. */
    static void exactRow(ScanJob j, int row, DType half, boolean outHalf) {
        float[] h = new float[j.dstate()];
        exactRest(j, row, 0, h, 0, 1, true, half, outHalf);
        if (j.lastState() != null) {
            for (int s = 0; s < h.length; s++) {
                j.lastState().setAtIndex(JAVA_FLOAT_UNALIGNED, (long) row * h.length + s, h[s]);
            }
        }
    }

    /** A thread's double states and A of the exact path (the tails of ordinary rows come here too). */
    private static final ThreadLocal<double[][]> STATES = ThreadLocal.withInitial(() -> new double[2][16]);

    private static void exactRest(ScanJob j, int row, int t0, float[] h, int hOff, int hStride, boolean gate, DType half,
                                  boolean outHalf) {
        final int l = j.seqlen(), n = j.dstate(), dim = j.dim(), b = row / dim, d = row % dim;
        if (t0 >= l) return;
        final long base = (long) row * l;
        final boolean bVar = j.bVariable(), cVar = j.cVariable(), sp = j.softplus();
        final long bRow = bVar ? j.bRow(b, d) : 0, cRow = cVar ? j.cRow(b, d) : 0;
        final double bias = j.deltaBias() == null ? 0 : get(j.deltaBias(), d);
        final boolean withD = j.dSkip() != null;
        final double dSkip = withD ? get(j.dSkip(), d) : 0;
        double[][] kept = STATES.get();
        if (kept[0].length < n) {
            kept[0] = new double[n];
            kept[1] = new double[n];
        }
        final double[] hd = kept[0], a = kept[1];
        for (int s = 0; s < n; s++) {
            hd[s] = h[hOff + s * hStride];
            a[s] = get(j.a(), (long) d * n + s);
        }
        for (int t = t0; t < l; t++) {
            double x = in(j.delta(), half, base + t) + bias;
            double dt = sp ? (x <= 20 ? Math.log1p(Math.exp(x)) : x) : x;
            double uu = in(j.u(), half, base + t), du = dt * uu, y = 0;
            for (int s = 0; s < n; s++) {
                long an = (long) d * n + s;
                double bb = bVar ? in(j.b(), half, bRow + s * j.bStateStride() + t) : get(j.b(), an);
                double cc = cVar ? in(j.c(), half, cRow + s * j.cStateStride() + t) : get(j.c(), an);
                hd[s] = Math.exp(dt * a[s]) * hd[s] + du * bb;
                y += cc * hd[s];
            }
            if (withD) y += dSkip * uu; // not 0 * u without D: u may be infinite
            if (gate) {
                double zz = in(j.z(), half, base + t);
                y *= zz * (1 / (1 + Math.exp(-zz))); // silu, as the float64 reference writes it
            }
            if (outHalf) HalfFloats.set(j.out(), half, base + t, (float) y);
            else j.out().setAtIndex(JAVA_FLOAT_UNALIGNED, base + t, (float) y);
        }
        for (int s = 0; s < n; s++) h[hOff + s * hStride] = (float) hd[s];
    }

    private static float get(MemorySegment m, long i) {
        return m.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    /** An activation: float32, or the 16-bit {@code half}. */
    private static float in(MemorySegment m, DType half, long i) {
        return half == null ? get(m, i) : HalfFloats.get(m, half, i);
    }
}
