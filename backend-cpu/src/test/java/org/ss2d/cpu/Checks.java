package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.fail;

/** Comparison with a float64 result, relative to the largest magnitude of the expected tensor. */
final class Checks {
    private Checks() {}

    static void close(String what, float[] got, double[] want, double tol) {
        if (got.length != want.length) fail(what + ": " + got.length + " elements, expected " + want.length);
        double maxWant = 0;
        for (double w : want) maxWant = Math.max(maxWant, Math.abs(w));
        double scale = maxWant == 0 ? 1 : maxWant;
        double worst = 0;
        int at = -1;
        for (int i = 0; i < want.length; i++) {
            if (!Float.isFinite(got[i])) fail(what + ": element " + i + " is " + got[i] + " (expected " + want[i] + ")");
            double e = Math.abs(got[i] - want[i]) / scale;
            if (e > worst) {
                worst = e;
                at = i;
            }
        }
        if (worst > tol) {
            fail(what + ": relative error " + worst + " > " + tol + " at element " + at + " (got " + got[at]
                    + ", expected " + want[at] + ", max |expected| " + maxWant + ")");
        }
    }
}
