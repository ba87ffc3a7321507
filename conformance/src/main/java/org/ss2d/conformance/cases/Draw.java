package org.ss2d.conformance.cases;

import java.util.SplittableRandom;

/** Seeded float32 draws for case inputs (float32-exact, so float64 expectations see the same values). */
final class Draw {
    private final SplittableRandom r;

    Draw(long seed) {
        this.r = new SplittableRandom(seed);
    }

    float[] gauss(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (scale * r.nextGaussian());
        return v;
    }

    float[] uniform(int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return v;
    }

    static double[] widen(float[] f) {
        return f == null ? null : org.ss2d.reference.Doubles.widen(f);
    }
}
