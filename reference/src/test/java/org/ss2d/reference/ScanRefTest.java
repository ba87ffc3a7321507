package org.ss2d.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.ops.BCMode;

/** The recurrence against the closed form of spec 1.2: h_t = sum_{s<=t} exp(A (S_t - S_s)) b_s. */
class ScanRefTest {

    /** Second formulation, O(L^2), written from the closed form; never from the recurrence. */
    static ScanRef.Result closedForm(ScanRef.Problem p) {
        int L = p.seqlen(), N = p.dstate();
        double[] out = new double[p.batch() * p.dim() * L];
        double[] last = new double[p.batch() * p.dim() * N];
        for (int b = 0; b < p.batch(); b++) {
            for (int d = 0; d < p.dim(); d++) {
                double[] cum = new double[L]; // S_t
                double run = 0;
                for (int t = 0; t < L; t++) {
                    run += p.step(b, d, t);
                    cum[t] = run;
                }
                for (int t = 0; t < L; t++) {
                    double y = 0;
                    for (int n = 0; n < N; n++) {
                        double h = 0;
                        for (int s = 0; s <= t; s++) {
                            double bs = p.step(b, d, s) * p.u()[p.idx(b, d, s)] * p.bAt(b, d, n, s);
                            h += Math.exp(p.A()[d * N + n] * (cum[t] - cum[s])) * bs;
                        }
                        y += p.cAt(b, d, n, t) * h;
                        if (t == L - 1) last[(b * p.dim() + d) * N + n] = h;
                    }
                    double u = p.u()[p.idx(b, d, t)];
                    if (p.D() != null) y += p.D()[d] * u;
                    if (p.z() != null) {
                        double z = p.z()[p.idx(b, d, t)];
                        y *= z / (1 + Math.exp(-z));
                    }
                    out[p.idx(b, d, t)] = y;
                }
            }
        }
        return new ScanRef.Result(out, last);
    }

    @TestFactory
    List<DynamicTest> recurrenceEqualsClosedFormOverTheOptionMatrix() {
        List<DynamicTest> tests = new ArrayList<>();
        BCMode[] modes = BCMode.values();
        long seed = 1;
        for (BCMode bm : modes) {
            for (BCMode cm : modes) {
                for (int opts = 0; opts < 16; opts++) {
                    boolean withD = (opts & 1) != 0, withZ = (opts & 2) != 0, bias = (opts & 4) != 0, sp = (opts & 8) != 0;
                    int groups = bm == BCMode.GROUPED && cm == BCMode.GROUPED ? 2 : 1;
                    long s = seed++;
                    String name = "B=" + bm + " C=" + cm + " D=" + withD + " z=" + withZ + " bias=" + bias
                            + " softplus=" + sp + " groups=" + groups + " seed=" + s;
                    tests.add(DynamicTest.dynamicTest(name, () -> {
                        ScanRef.Problem p = Problems.random(s, 2, 4, 37, 3, groups, bm, cm, withD, withZ, bias, sp);
                        assertSame(ScanRef.run(p), closedForm(p), name);
                    }));
                }
            }
        }
        return tests;
    }

    @Test
    void dstate257AndOddSizesToo() {
        ScanRef.Problem p = Problems.random(99, 1, 3, 9, 257, 1, BCMode.VARIABLE, BCMode.CONSTANT, true, false, true, true);
        assertSame(ScanRef.run(p), closedForm(p), "dstate 257");
    }

    @Test
    void lastStateIsTheTrueStateForConstantB() {
        // One channel, one state, B = 3: h after two steps is a2*(d1 u1 B) + d2 u2 B, not h/B (mamba's quirk).
        double a = -0.5, b = 3.0, d1 = 0.25, d2 = 0.5, u1 = 2.0, u2 = -1.0;
        ScanRef.Problem p = new ScanRef.Problem(1, 1, 2, 1, 1, BCMode.CONSTANT, BCMode.CONSTANT,
                new double[] {u1, u2}, new double[] {d1, d2}, new double[] {a}, new double[] {b}, new double[] {1.0},
                null, null, null, false);
        double h = Math.exp(d2 * a) * (d1 * u1 * b) + d2 * u2 * b;
        ScanRef.Result r = ScanRef.run(p);
        assertEquals(h, r.lastState()[0], 1e-15);
        assertEquals(h, r.out()[1], 1e-15);
    }

    @Test
    void groupOfAChannelIsItsBlockNotItsResidue() {
        // dim 4, groups 2: channels 0,1 read group 0 and channels 2,3 read group 1 (d / (dim/G), spec 1.1).
        int L = 3;
        double[] bGrouped = new double[2 * 1 * L];
        java.util.Arrays.fill(bGrouped, 0, L, 1.0);
        java.util.Arrays.fill(bGrouped, L, 2 * L, 10.0);
        double[] ones = new double[4 * L];
        java.util.Arrays.fill(ones, 1.0);
        ScanRef.Problem p = new ScanRef.Problem(1, 4, L, 1, 2, BCMode.GROUPED, BCMode.GROUPED, ones, ones.clone(),
                new double[] {-1, -1, -1, -1}, bGrouped, bGrouped.clone(), null, null, null, false);
        double[] out = ScanRef.run(p).out();
        assertEquals(out[0], out[L], 0.0);
        assertEquals(100 * out[0], out[2 * L], 1e-12);
        assertEquals(100 * out[0], out[3 * L], 1e-12);
    }

    @Test
    void underflowingDecayGivesTheInputTermOnly() {
        // exp(delta A) underflows to 0: the state forgets everything before each step.
        ScanRef.Problem p = new ScanRef.Problem(1, 1, 3, 1, 1, BCMode.CONSTANT, BCMode.CONSTANT,
                new double[] {1, 2, 3}, new double[] {200, 200, 200}, new double[] {-10}, new double[] {1}, new double[] {1},
                null, null, null, false);
        double[] out = ScanRef.run(p).out();
        assertEquals(200 * 2, out[1], 0.0);
        assertEquals(200 * 3, out[2], 0.0);
    }

    static void assertSame(ScanRef.Result a, ScanRef.Result b, String what) {
        double scale = Math.max(Problems.maxAbs(b.out()), 1e-300);
        double err = Problems.maxAbsDiff(a.out(), b.out()) / scale;
        assertTrue(err < 1e-12, what + ": out differs by " + err + " of max |out| " + scale);
        double sScale = Math.max(Problems.maxAbs(b.lastState()), 1e-300);
        double sErr = Problems.maxAbsDiff(a.lastState(), b.lastState()) / sScale;
        assertTrue(sErr < 1e-12, what + ": last_state differs by " + sErr);
    }
}
