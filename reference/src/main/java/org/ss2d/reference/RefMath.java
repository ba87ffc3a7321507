package org.ss2d.reference;

/**
 * Scalar functions in double precision with the exact conventions of PyTorch/Mamba: softplus with
 * threshold 20, SiLU, GELU in its erf form. {@code Math} has no erf, so it is computed here to full
 * double precision: a positive-term series below 3 (no cancellation), a continued fraction for the
 * complement above.
 */
public final class RefMath {
    private RefMath() {}

    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;
    private static final double ONE_OVER_SQRT_PI = 0.5641895835477563;

    /** {@code x <= 20 ? log1p(exp(x)) : x}, exactly Mamba's and torch's threshold. */
    public static double softplus(double x) {
        return x <= 20.0 ? Math.log1p(Math.exp(x)) : x;
    }

    public static double sigmoid(double x) {
        return 1.0 / (1.0 + Math.exp(-x));
    }

    public static double silu(double x) {
        return x * sigmoid(x);
    }

    /** {@code 0.5 x (1 + erf(x / sqrt 2))}: torch's default GELU, not the tanh approximation. */
    public static double gelu(double x) {
        return 0.5 * x * (1.0 + erf(x / Math.sqrt(2.0)));
    }

    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double a = Math.abs(x);
        double r = a < 3.0 ? erfSeries(a) : 1.0 - erfcContinuedFraction(a);
        return x < 0 ? -r : r;
    }

    /** erf(x) = 2/sqrt(pi) e^{-x^2} sum_n (2x^2)^n x / (1*3*...*(2n+1)); every term is positive. */
    private static double erfSeries(double x) {
        double term = x, sum = x, twoX2 = 2 * x * x;
        for (int n = 1; n < 200; n++) {
            term *= twoX2 / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
    }

    /**
     * erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), x >= 3,
     * evaluated with the modified Lentz method.
     */
    private static double erfcContinuedFraction(double x) {
        if (x > 27) return 0.0; // e^{-729} underflows
        final double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int k = 1; k < 500; k++) {
            double ak = k / 2.0;
            d = x + ak * d;
            if (d == 0) d = tiny;
            c = x + ak / c;
            if (c == 0) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return ONE_OVER_SQRT_PI * Math.exp(-x * x) / f;
    }
}
