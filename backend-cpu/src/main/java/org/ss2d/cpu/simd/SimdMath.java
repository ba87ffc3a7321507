package org.ss2d.cpu.simd;

import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.I;
import static org.ss2d.cpu.simd.SimdConstants.VL;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Polynomial transcendentals for the hot loops (the JDK's SVML-backed EXP/LOG1P are accurate to the
 * last bit and several times slower; softplus alone was ~60% of the scan at dstate 1 in C). Relative
 * errors: exp2 2.6e-8, log1p(e)/e on [0, 1] 2.4e-7 (least-squares fits on Chebyshev nodes, coefficients
 * rounded to float and re-checked against double), well inside float32 scan tolerances. Lower
 * degree for log1p than first written (8 -> 7): one FMA less; its error only touches dt, it does not compound.
 */
final class SimdMath {
    private SimdMath() {}

    // coefficients as constant vectors: a broadcast per use costs C2 parse nodes, and the hot loops are
    // close to its inlining budget (NodeCountInliningCutoff), past which vectors get boxed
    // exp2 stays at degree 6 with p(0) = 1 exactly: a is ~1 for small dt and its error compounds along
    // the recurrence (a degree-5 fit with p(0) = 1 + 1.2e-7 moved the scan's error from 6e-7 to 1.7e-5)
    // log1p(e)/e on [0, 1], degree 7, relative error 2.4e-7
    private static final float G7 = -0.008336497470736504f;
    private static final float G6 = 0.04337085038423538f;
    private static final float G5 = -0.10667790472507477f;
    private static final float G4 = 0.1767549365758896f;
    private static final float G3 = -0.2447046935558319f;
    private static final float G2 = 0.3327118754386902f;
    private static final float G1 = -0.49997127056121826f;
    private static final float G0 = 0.9999997615814209f;
    // the same exp2 coefficients as scalars, for softplus and exp2Mul (broadcast where used)
    private static final float P6 = 1.5337577497120947e-4f, P5 = 1.3399859890341759e-3f,
            P4 = 9.618519805371761e-3f, P3 = 5.550329014658928e-2f, P2 = 0.24022646248340607f,
            P1 = 0.6931471824645996f, P0 = 1.0f;
    private static final FloatVector E6 = FloatVector.broadcast(F, 1.5337577497120947e-4f);
    private static final FloatVector E5 = FloatVector.broadcast(F, 1.3399859890341759e-3f);
    private static final FloatVector L8 = FloatVector.broadcast(F, 5.1058256067335606e-3f);
    private static final FloatVector L7 = FloatVector.broadcast(F, -2.8991956263780594e-2f);
    private static final FloatVector C0 = FloatVector.broadcast(F, 9.618519805371761e-3f);
    private static final FloatVector C1 = FloatVector.broadcast(F, 5.550329014658928e-2f);
    private static final FloatVector C2 = FloatVector.broadcast(F, 0.24022646248340607f);
    private static final FloatVector C3 = FloatVector.broadcast(F, 0.6931471824645996f);
    private static final FloatVector C4 = FloatVector.broadcast(F, 1.0f);
    private static final FloatVector C5 = FloatVector.broadcast(F, 7.738073915243149e-2f);
    private static final FloatVector C6 = FloatVector.broadcast(F, -0.13590599596500397f);
    private static final FloatVector C7 = FloatVector.broadcast(F, 0.1907130926847458f);
    private static final FloatVector C8 = FloatVector.broadcast(F, -0.2483394593000412f);
    private static final FloatVector C9 = FloatVector.broadcast(F, 0.3331793546676636f);
    private static final FloatVector C10 = FloatVector.broadcast(F, -0.4999943673610687f);
    private static final FloatVector C11 = FloatVector.broadcast(F, 0.9999999403953552f);
    private static final FloatVector C12 = FloatVector.broadcast(F, 1.421413741f);
    private static final FloatVector C13 = FloatVector.broadcast(F, -0.284496736f);
    private static final FloatVector C14 = FloatVector.broadcast(F, 0.254829592f);

    // exp2 of degree 5 for the channel-lane state loop (one FMA less per state and step: S5 0.93x), with p(0) = 1 and
    // p'(0) = ln 2 (P1) held exactly and the rest a relative-error fit on [-0.5, 0.5]: 1.0e-7 in double, 1.8e-7
    // evaluated in float. With those two fixed, the error is O(f^2) near f = 0 (a ~ 1), so it does not build up
    // along the recurrence as the degree-5 fit with p(0) = 1 + 1.2e-7 did (6e-7 -> 1.7e-5)
    private static final float Q5 = 0.0013300605351105332f, Q4 = 0.009669692255556583f, Q3 = 0.05550558492541313f,
            Q2 = 0.24022282660007477f;
    static final float LOG2E = 1.4426950408889634f;
    /** 1.5 * 2^23: adding it rounds to an integer, which then sits in the low mantissa bits. */
    private static final FloatVector MAGIC_V = FloatVector.broadcast(F, 12582912f);
    private static final FloatVector LO = FloatVector.broadcast(F, -126f), HI = FloatVector.broadcast(F, 128f);
    

    private static final int MAGIC_BITS = Float.floatToRawIntBits(12582912f);

    /**
     * 2^y with 13 vector instructions: round with the 1.5 * 2^23 trick (the integer lands in the low
     * mantissa bits of t), a degree-6 polynomial on the fraction, then the exponent added to the bits of
     * the result (no multiply). The integer part is clamped in the integer domain (one instruction each,
     * where FloatVector.max/min cost ~5 for Math.max's NaN rules): below -126 the result is ~2^-126 times
     * a value near 1 instead of 0, above 127 it saturates near 2^127 instead of +inf; neither matters for
     * exp(dt * A) with dt >= 0 and A < 0 or for exp(-|x|).
     */
    static FloatVector exp2(FloatVector y) {
        FloatVector t = y.add(MAGIC_V);
        FloatVector f = y.sub(t.sub(MAGIC_V)); // in [-0.5, 0.5]
        FloatVector p = f.fma(E6, E5)
                .fma(f, C0)
                .fma(f, C1)
                .fma(f, C2)
                .fma(f, C3)
                .fma(f, C4);
        IntVector k = t.reinterpretAsInts().max(MAGIC_BITS - 126).min(MAGIC_BITS + 127);
        // bits(MAGIC) << 23 overflows away, so k << 23 is the unbiased exponent in place
        return p.reinterpretAsInts().add(k.lanewise(VectorOperators.LSHL, 23)).reinterpretAsFloats();
    }

    /** softplus(x) = max(x, 0) + log1p(exp(-|x|)): equals log1p(exp(x)) below 20 and x above, in float. */
    static FloatVector softplus(FloatVector x) {
        return softplus(x, x.reinterpretAsInts().or(0x80000000).reinterpretAsFloats());
    }

    /**
     * {@link #softplus(FloatVector)} given {@code nax = -|x|} (the scan passes compute it once and also track its
     * largest magnitude, see {@link Guard}). Valid for |x| up to {@link Guard#X_MAX}: beyond, the rounding trick
     * of the exponential fails and the result is garbage (NaN and infinities included), so callers route such
     * inputs elsewhere.
     */
    static FloatVector softplus(FloatVector x, FloatVector nax) {
        return softplusOf(x, expNegAbs(nax));
    }

    /** exp(-|x|) given {@code nax = -|x|} (|x| up to {@link Guard#X_MAX}): the exponential inside softplus. */
    static FloatVector expNegAbs(FloatVector nax) {
        FloatVector magic = FloatVector.broadcast(F, 12582912f), l2e = FloatVector.broadcast(F, LOG2E);
        FloatVector t = nax.fma(l2e, magic);
        FloatVector f = nax.fma(l2e, magic.sub(t)); // -|x| log2(e) - k, in [-0.5, 0.5]
        FloatVector p = f.fma(P6, P5).fma(f, FloatVector.broadcast(F, P4)).fma(f, FloatVector.broadcast(F, P3))
                .fma(f, FloatVector.broadcast(F, P2)).fma(f, FloatVector.broadcast(F, P1))
                .fma(f, FloatVector.broadcast(F, P0));
        IntVector k = t.reinterpretAsInts().max(MAGIC_BITS - 126); // k <= 0
        return p.reinterpretAsInts().add(k.lanewise(VectorOperators.LSHL, 23)).reinterpretAsFloats();
    }

    /** softplus(x) = max(x, 0) + log1p(e) given {@code e = exp(-|x|)} ({@link #expNegAbs}). */
    static FloatVector softplusOf(FloatVector x, FloatVector e) {
        FloatVector q = e.fma(G7, G6).fma(e, FloatVector.broadcast(F, G5)).fma(e, FloatVector.broadcast(F, G4))
                .fma(e, FloatVector.broadcast(F, G3)).fma(e, FloatVector.broadcast(F, G2))
                .fma(e, FloatVector.broadcast(F, G1)).fma(e, FloatVector.broadcast(F, G0));
        return e.fma(q, x.reinterpretAsInts().max(0).reinterpretAsFloats());
    }

    /**
     * 2^(x * s), for the scan passes: {@link #exp2} with the multiply folded into the rounding ({@code x s + magic})
     * and the fraction ({@code x s - k}, one rounding instead of two), and with its constants broadcast here:
     * constant vector fields are reloaded from memory at every use inside a loop, broadcasts are hoisted into
     * registers (measured 5-10% on the whole scan). Costs more C2 parse nodes than exp2 (the inlining budget),
     * so silu/gelu keep exp2. (Estrin's scheme instead of Horner was tried: 2 more multiplies, no faster, and
     * the scan's error doubled.)
     */
    static FloatVector exp2Mul(FloatVector x, FloatVector s) {
        FloatVector magic = FloatVector.broadcast(F, 12582912f);
        FloatVector t = x.fma(s, magic);
        FloatVector f = x.fma(s, magic.sub(t));
        FloatVector p = f.fma(P6, P5).fma(f, FloatVector.broadcast(F, P4)).fma(f, FloatVector.broadcast(F, P3))
                .fma(f, FloatVector.broadcast(F, P2)).fma(f, FloatVector.broadcast(F, P1))
                .fma(f, FloatVector.broadcast(F, P0));
        IntVector k = t.reinterpretAsInts().max(MAGIC_BITS - 126).min(MAGIC_BITS + 127);
        return p.reinterpretAsInts().add(k.lanewise(VectorOperators.LSHL, 23)).reinterpretAsFloats();
    }

    /**
     * {@link #exp2Mul} without the clamps of the exponent (the caller guarantees {@code x s} in [-126, 0]) and with
     * the degree-5 polynomial (Q5..Q2, P1, P0).
     */
    static FloatVector exp2MulCapped(FloatVector x, FloatVector s) {
        FloatVector magic = FloatVector.broadcast(F, 12582912f);
        FloatVector t = x.fma(s, magic);
        FloatVector f = x.fma(s, magic.sub(t));
        FloatVector p = f.fma(Q5, Q4).fma(f, FloatVector.broadcast(F, Q3))
                .fma(f, FloatVector.broadcast(F, Q2)).fma(f, FloatVector.broadcast(F, P1))
                .fma(f, FloatVector.broadcast(F, P0));
        return p.reinterpretAsInts().add(t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23)).reinterpretAsFloats();
    }

    /**
     * The sum of the lanes, added in one fixed order (butterflies, the widest first). {@code reduceLanes(ADD)} on
     * floats leaves the order to the implementation: its C2 intrinsic and its Java fallback (interpreter, C1) add
     * in different orders, so the same call could give different bits before and after JIT compilation, which the
     * deterministic backward cannot have.
     */
    static float sum(FloatVector v) {
        if (VL > 8) v = v.add(v.rearrange(SimdConstants.XOR8));
        if (VL > 4) v = v.add(v.rearrange(SimdConstants.XOR4));
        if (VL > 2) v = v.add(v.rearrange(SimdConstants.XOR2));
        return v.add(v.rearrange(SimdConstants.XOR1)).lane(0);
    }

    /** silu(z) = z / (1 + exp(-z)). */
    static FloatVector silu(FloatVector z) {
        return z.div(exp2(z.mul(-LOG2E)).add(1f));
    }

    /** GELU, erf form, with erf from Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
    static FloatVector gelu(FloatVector x) {
        FloatVector s = x.mul(0.70710678118654752f);
        FloatVector a = s.abs();
        FloatVector t = a.fma(0.3275911f, 1f);
        t = FloatVector.broadcast(F, 1f).div(t);
        FloatVector poly = t.fma(1.061405429f, -1.453152027f).fma(t, C12).fma(t, C13)
                .fma(t, C14).mul(t);
        FloatVector erfAbs = poly.mul(exp2(a.mul(a).mul(-LOG2E))).neg().add(1f);
        FloatVector erf = erfAbs.reinterpretAsInts().or(s.reinterpretAsInts().and(0x80000000)).reinterpretAsFloats();
        return x.mul(0.5f).mul(erf.add(1f));
    }

    static {
        assert I.length() == F.length();
    }
}
