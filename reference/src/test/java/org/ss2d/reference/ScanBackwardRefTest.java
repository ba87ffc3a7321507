package org.ss2d.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.ops.BCMode;

/**
 * The float64 backward against central finite differences of the float64 forward, over every option of
 * the forward: each input element is nudged by +-eps and {@code sum(dout * out) + sum(dlast * last_state)}
 * re-evaluated. Central differences are exact to O(eps^2) (with eps = 1e-6 relative, far below the 1e-6
 * budget, relative to the gradient's largest magnitude) plus the rounding of the two loss values,
 * about 1e-16 of the loss's summed magnitudes divided by 2 eps: where delta + bias is negative without
 * softplus the states grow and that sum reaches 1e5, so the budget adds 1e-9 of it (ten times the
 * rounding bound), else a correct gradient would fail on the finite differences' own noise.
 */
class ScanBackwardRefTest {
    private static final String[] NAMES = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

    static double loss(ScanRef.Problem p, double[] dout, double[] dlast) {
        ScanRef.Result r = ScanRef.run(p);
        double s = 0;
        for (int i = 0; i < dout.length; i++) s += dout[i] * r.out()[i];
        if (dlast != null) for (int i = 0; i < dlast.length; i++) s += dlast[i] * r.lastState()[i];
        return s;
    }

    /** The summed magnitudes of the loss's terms: what its rounding is relative to. */
    static double lossMagnitude(ScanRef.Problem p, double[] dout, double[] dlast) {
        ScanRef.Result r = ScanRef.run(p);
        double s = 0;
        for (int i = 0; i < dout.length; i++) s += Math.abs(dout[i] * r.out()[i]);
        if (dlast != null) for (int i = 0; i < dlast.length; i++) s += Math.abs(dlast[i] * r.lastState()[i]);
        return s;
    }

    /** The problem with input {@code which} (NAMES order) replaced. */
    static ScanRef.Problem with(ScanRef.Problem p, int which, double[] v) {
        double[][] in = {p.u(), p.delta(), p.A(), p.B(), p.C(), p.D(), p.z(), p.deltaBias()};
        in[which] = v;
        return new ScanRef.Problem(p.batch(), p.dim(), p.seqlen(), p.dstate(), p.groups(), p.bMode(), p.cMode(),
                in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], p.deltaSoftplus());
    }

    static double[] finiteDifferences(ScanRef.Problem p, int which, double[] dout, double[] dlast) {
        double[] x = new double[][] {p.u(), p.delta(), p.A(), p.B(), p.C(), p.D(), p.z(), p.deltaBias()}[which];
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double eps = 1e-6 * Math.max(1.0, Math.abs(x[i]));
            double[] plus = x.clone(), minus = x.clone();
            plus[i] += eps;
            minus[i] -= eps;
            g[i] = (loss(with(p, which, plus), dout, dlast) - loss(with(p, which, minus), dout, dlast)) / (2 * eps);
        }
        return g;
    }

    static void assertMatchesFiniteDifferences(ScanRef.Problem p, double[] dout, double[] dlast, String what) {
        ScanBackwardRef.Grads g = ScanBackwardRef.run(p, dout, dlast);
        double[][] got = g.inOrder();
        double[][] in = {p.u(), p.delta(), p.A(), p.B(), p.C(), p.D(), p.z(), p.deltaBias()};
        double rounding = 1e-9 * lossMagnitude(p, dout, dlast);
        for (int k = 0; k < NAMES.length; k++) {
            if (in[k] == null) {
                assertNull(got[k], what + ": grad." + NAMES[k] + " for an absent input");
                continue;
            }
            double[] fd = finiteDifferences(p, k, dout, dlast);
            double scale = Problems.maxAbs(fd);
            assertTrue(scale > 0, what + ": grad." + NAMES[k] + " is all zero by finite differences (a test that proves nothing)");
            double err = Problems.maxAbsDiff(got[k], fd);
            assertTrue(err < 1e-6 * scale + rounding, what + ": grad." + NAMES[k]
                    + " differs from central finite differences by " + err / scale + " of max |grad| " + scale
                    + " (budget 1e-6 plus the differences' rounding " + rounding / scale + ")");
        }
    }

    static double[] random(long seed, int n) {
        return Problems.gauss(new SplittableRandom(seed), n, 1.0);
    }

    @TestFactory
    List<DynamicTest> gradientsEqualFiniteDifferencesOverTheOptionMatrix() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 100;
        for (BCMode bm : BCMode.values()) {
            for (BCMode cm : BCMode.values()) {
                for (int opts = 0; opts < 32; opts += (bm == cm ? 1 : 3)) {
                    boolean withD = (opts & 1) != 0, withZ = (opts & 2) != 0, bias = (opts & 4) != 0,
                            sp = (opts & 8) != 0, dlast = (opts & 16) != 0;
                    // B and C share the group count; grouped with one group when only one of them is grouped
                    int g = bm == BCMode.GROUPED && cm == BCMode.GROUPED ? 2 : 1;
                    long s = seed++;
                    String name = "B=" + bm + " C=" + cm + " D=" + withD + " z=" + withZ + " bias=" + bias
                            + " softplus=" + sp + " dlast_state=" + dlast + " groups=" + g + " seed=" + s;
                    tests.add(DynamicTest.dynamicTest(name, () -> {
                        ScanRef.Problem p = Problems.random(s, 2, 4, 7, 3, g, bm, cm, withD, withZ, bias, sp);
                        double[] dout = random(s + 1000, 2 * 4 * 7);
                        double[] dl = dlast ? random(s + 2000, 2 * 4 * 3) : null;
                        assertMatchesFiniteDifferences(p, dout, dl, name);
                    }));
                }
            }
        }
        return tests;
    }

    @Test
    void softplusAboveTheThresholdPassesTheGradientUnchanged() {
        // delta + bias > 20: softplus is the identity there, so grad.delta equals dL/d(step).
        ScanRef.Problem p = new ScanRef.Problem(1, 1, 2, 1, 1, BCMode.CONSTANT, BCMode.CONSTANT,
                new double[] {0.5, -1.0}, new double[] {25.0, 21.0}, new double[] {-0.01}, new double[] {1.5},
                new double[] {0.75}, null, null, new double[] {0.5}, true);
        double[] dout = {1.0, -2.0};
        ScanBackwardRef.Grads g = ScanBackwardRef.run(p, dout, null);
        ScanRef.Problem noSoftplus = new ScanRef.Problem(1, 1, 2, 1, 1, BCMode.CONSTANT, BCMode.CONSTANT,
                p.u(), new double[] {25.5, 21.5}, p.A(), p.B(), p.C(), null, null, null, false);
        ScanBackwardRef.Grads plain = ScanBackwardRef.run(noSoftplus, dout, null);
        assertEquals(plain.dDelta()[0], g.dDelta()[0], 1e-12);
        assertEquals(plain.dDelta()[1], g.dDelta()[1], 1e-12);
        assertEquals(plain.dDelta()[0] + plain.dDelta()[1], g.dDeltaBias()[0], 1e-12);
    }

    @Test
    void lastStateGradientOnlyReachesTheStateThroughTheDecay() {
        // One step, N=1, dout = 0: L = dlast * h_0 = dlast * delta u B, so grad.u = dlast delta B exactly.
        ScanRef.Problem p = new ScanRef.Problem(1, 1, 1, 1, 1, BCMode.CONSTANT, BCMode.CONSTANT,
                new double[] {2.0}, new double[] {0.25}, new double[] {-1.0}, new double[] {3.0},
                new double[] {5.0}, null, null, null, false);
        ScanBackwardRef.Grads g = ScanBackwardRef.run(p, new double[] {0.0}, new double[] {4.0});
        assertEquals(4.0 * 0.25 * 3.0, g.du()[0], 0.0);
        assertEquals(4.0 * 0.25 * 2.0, g.dB()[0], 0.0);
        assertEquals(0.0, g.dC()[0], 0.0);
        assertEquals(0.0, g.dA()[0], 0.0); // h_{-1} = 0: the decay multiplies nothing
    }

    @Test
    void largerStateAndLongerSequenceToo() {
        ScanRef.Problem p = Problems.random(7, 1, 3, 40, 9, 1, BCMode.VARIABLE, BCMode.CONSTANT, true, true, true, true);
        assertMatchesFiniteDifferences(p, random(8, 3 * 40), random(9, 3 * 9), "N=9 L=40");
    }
}
