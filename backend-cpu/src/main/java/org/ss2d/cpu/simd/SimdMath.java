package org.ss2d.cpu.simd;

import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.I;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Polynomial transcendentals for the hot loops (the JDK's SVML-backed EXP/LOG1P are accurate to the
 * last bit and several times slower; softplus alone was ~60% of the scan at dstate 1 in C). Relative
 * errors: exp2 2.6e-8, log1p(e)/e on [0, 1] 7e-8 (least-squares fits on Chebyshev nodes, coefficients
 * rounded to float and re-checked), well inside float32 scan tolerances.
 */
final class SimdMath {
    private SimdMath() {}

    private static FloatVector k(float v) {
        return FloatVector.broadcast(F, v);
    }

    static final float LOG2E = 1.4426950408889634f;
    /** 1.5 * 2^23: adding it rounds to an integer, which then sits in the low mantissa bits. */
    private static final float MAGIC = 12582912f;

    /** 2^y for y in [-126, 127] (clamped outside). */
    static FloatVector exp2(FloatVector y) {
        y = y.max(-126f).min(127f);
        FloatVector t = y.add(MAGIC);
        FloatVector f = y.sub(t.sub(MAGIC)); // in [-0.5, 0.5]
        FloatVector p = f.fma(1.5337577497120947e-4f, 1.3399859890341759e-3f)
                .fma(f, k(9.618519805371761e-3f))
                .fma(f, k(5.550329014658928e-2f))
                .fma(f, k(0.24022646248340607f))
                .fma(f, k(0.6931471824645996f))
                .fma(f, k(1.0f));
        // bits(t) = bits(MAGIC) + k and bits(MAGIC) << 23 overflows away, so (bits(t) + 127) << 23 = 2^k
        FloatVector scale = t.reinterpretAsInts().add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(scale);
    }

    /** softplus(x) = max(x, 0) + log1p(exp(-|x|)): equals log1p(exp(x)) below 20 and x above, in float. */
    static FloatVector softplus(FloatVector x) {
        FloatVector e = exp2(x.abs().mul(-LOG2E)); // (0, 1]
        FloatVector q = e.fma(5.1058256067335606e-3f, -2.8991956263780594e-2f)
                .fma(e, k(7.738073915243149e-2f))
                .fma(e, k(-0.13590599596500397f))
                .fma(e, k(0.1907130926847458f))
                .fma(e, k(-0.2483394593000412f))
                .fma(e, k(0.3331793546676636f))
                .fma(e, k(-0.4999943673610687f))
                .fma(e, k(0.9999999403953552f));
        return x.max(0f).add(e.mul(q));
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
        FloatVector poly = t.fma(1.061405429f, -1.453152027f).fma(t, k(1.421413741f)).fma(t, k(-0.284496736f))
                .fma(t, k(0.254829592f)).mul(t);
        FloatVector erfAbs = poly.mul(exp2(a.mul(a).mul(-LOG2E))).neg().add(1f);
        FloatVector erf = erfAbs.reinterpretAsInts().or(s.reinterpretAsInts().and(0x80000000)).reinterpretAsFloats();
        return x.mul(0.5f).mul(erf.add(1f));
    }

    static {
        assert I.length() == F.length();
    }
}
