package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ss2d.reference.Doubles.of;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.reference.CrossRef;
import org.ss2d.tensor.Tensor;

/**
 * CrossScan/CrossMerge backward on the CPU backend: each is the other's adjoint, so
 * {@code <crossScan(x), dys> = <x, crossScanBackward(dys)>} and {@code <crossMerge(ys), dout> =
 * <ys, crossMergeBackward(dout)>} (in double, to float32 rounding), and each gradient equals the float64
 * reference of the adjoint op (the scan's gradient bit for bit: a permutation).
 */
class CrossBackwardTest {
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    static double dot(float[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @ParameterizedTest(name = "batch 2, C 3, {0}x{1}")
    @CsvSource({"1, 6", "6, 1", "3, 3", "4, 5", "7, 2", "56, 56"})
    void eachIsTheOthersAdjoint(int h, int w) {
        try (Fixture f = new Fixture("cross-backward", 31L * h + w)) {
            int b = 2, c = 3, l = h * w;
            Tensor x = f.gauss(1.0, b, c, h, w), dys = f.gauss(1.0, b, 4, c, l);
            Tensor ys = f.gauss(1.0, b, 4, c, l), dout = f.gauss(1.0, b, c, h, w);
            Ss2d ss = Ss2d.on(backend);
            String who = Fixture.who(backend) + " cross backward (2, 3, " + h + ", " + w + ")";
            try (Tensor xs = ss.crossScan(f.scope, x); Tensor dx = ss.crossScanBackward(f.scope, dys, h, w)) {
                double lhs = dot(xs.toFloatArray(), dys.toFloatArray()), rhs = dot(x.toFloatArray(), dx.toFloatArray());
                assertTrue(Math.abs(lhs - rhs) <= 1e-6 * Math.max(1, Math.abs(lhs)), who + ": <scan x, dys> " + lhs
                        + " vs <x, scan backward dys> " + rhs);
                Checks.close(who + " grad.x", dx.toFloatArray(), CrossRef.merge(of(dys), b, c, h, w), 1e-6);

                try (Tensor merged = ss.crossMerge(f.scope, ys, h, w); Tensor dys2 = ss.crossMergeBackward(f.scope, dout)) {
                    double l2 = dot(merged.toFloatArray(), dout.toFloatArray()), r2 = dot(ys.toFloatArray(), dys2.toFloatArray());
                    assertTrue(Math.abs(l2 - r2) <= 1e-6 * Math.max(1, Math.abs(l2)), who + ": <merge ys, dout> " + l2
                            + " vs <ys, merge backward dout> " + r2);
                    double[] want = CrossRef.scan(of(dout), b, c, h, w);
                    float[] wf = new float[want.length];
                    for (int i = 0; i < wf.length; i++) wf[i] = (float) want[i];
                    assertArrayEquals(wf, dys2.toFloatArray(), who + " grad.ys (a permutation: bit for bit)");
                }
            }
        }
    }
}
