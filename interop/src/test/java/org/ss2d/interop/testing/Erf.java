package org.ss2d.interop.testing;

/**
 * erf in double precision (the JDK has none): Maclaurin series for |x| < 2.5, Lentz's continued
 * fraction of erfc beyond. Both converge to about 1e-16 relative there, far below what the
 * fixture comparisons need.
 */
public final class Erf {
    private Erf() {}

    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double a = Math.abs(x);
        double r = a < 2.5 ? series(a) : 1 - erfcFraction(a);
        return Math.copySign(r, x);
    }

    private static double series(double x) {
        // erf x = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        double term = x, sum = x, x2 = x * x;
        for (int n = 1; n < 200; n++) {
            term *= -x2 / n;
            double add = term / (2 * n + 1);
            sum += add;
            if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    private static double erfcFraction(double x) {
        if (x > 27) return 0;
        // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), modified Lentz.
        double tiny = 1e-300, f = x, c = x, dd = 0;
        for (int n = 1; n < 500; n++) {
            double an = n / 2.0;
            dd = x + an * dd;
            dd = dd == 0 ? tiny : dd;
            c = x + an / c;
            c = c == 0 ? tiny : c;
            dd = 1 / dd;
            double delta = c * dd;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }
}
