package org.ss2d.reference;

import java.util.SplittableRandom;
import org.ss2d.ops.BCMode;

/** Random scan problems for the reference's own tests; values are float32-exact. */
final class Problems {
    private Problems() {}

    static ScanRef.Problem random(long seed, int batch, int dim, int seqlen, int dstate, int groups, BCMode bm,
                                  BCMode cm, boolean withD, boolean withZ, boolean withBias, boolean softplus) {
        SplittableRandom r = new SplittableRandom(seed);
        int bd = batch * dim * seqlen;
        double[] u = gauss(r, bd, 1.0);
        double[] delta = new double[bd];
        for (int i = 0; i < bd; i++) delta[i] = f(softplus ? r.nextDouble(-4, 1) : r.nextDouble(0.001, 0.3));
        double[] a = new double[dim * dstate];
        for (int i = 0; i < a.length; i++) a[i] = f(-r.nextDouble(0.05, 3.0));
        return new ScanRef.Problem(batch, dim, seqlen, dstate, groups, bm, cm, u, delta, a,
                gauss(r, bcSize(bm, batch, dim, dstate, seqlen, groups), 1.0),
                gauss(r, bcSize(cm, batch, dim, dstate, seqlen, groups), 1.0),
                withD ? gauss(r, dim, 1.0) : null, withZ ? gauss(r, bd, 1.0) : null,
                withBias ? gauss(r, dim, 0.5) : null, softplus);
    }

    static int bcSize(BCMode m, int batch, int dim, int dstate, int seqlen, int groups) {
        return switch (m) {
            case CONSTANT -> dim * dstate;
            case VARIABLE -> batch * dstate * seqlen;
            case GROUPED -> batch * groups * dstate * seqlen;
        };
    }

    static double[] gauss(SplittableRandom r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = f(scale * r.nextGaussian());
        return v;
    }

    /** Rounded to float32 so the same values can be handed to float32 backends. */
    static double f(double x) {
        return (float) x;
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    static double maxAbsDiff(double[] a, double[] b) {
        if (a.length != b.length) throw new AssertionError("lengths " + a.length + " vs " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs(a[i] - b[i]);
            if (Double.isNaN(d)) return Double.NaN;
            m = Math.max(m, d);
        }
        return m;
    }
}
