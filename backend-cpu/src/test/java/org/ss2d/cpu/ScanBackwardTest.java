package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ss2d.reference.Doubles.of;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanGrads;
import org.ss2d.reference.ScanBackwardRef;
import org.ss2d.reference.ScanRef;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The scan backward of the CPU backend (scalar and process-wide kernels) against the float64 adjoint, on fresh
 * seeded inputs with NaN-poisoned gradient outputs, over the forward's option matrix, seqlen tails and dstate;
 * and bit-identical gradients from run to run and across thread counts.
 */
@org.junit.jupiter.api.Tag("width")
class ScanBackwardTest {
    /** Budget relative to each gradient's largest magnitude (conformance's selective_scan_backward budget). */
    static final double TOL = 2e-4;
    private static CpuBackend simd, scalar, one;

    @BeforeAll
    static void start() {
        simd = new CpuBackend(2);
        scalar = new CpuBackend(2, Kernels.scalar());
        one = new CpuBackend(1);
    }

    @AfterAll
    static void stop() {
        simd.close();
        scalar.close();
        one.close();
    }

    record Case(int batch, int dim, int seqlen, int dstate, int groups, BCMode b, BCMode c, boolean dSkip, boolean z,
                boolean bias, boolean softplus, boolean dlast) {
        @Override
        public String toString() {
            return "(batch " + batch + ", dim " + dim + ", seqlen " + seqlen + ", dstate " + dstate + ", groups " + groups
                    + ", B " + b + ", C " + c + (dSkip ? ", D" : "") + (z ? ", z" : "") + (bias ? ", delta_bias" : "")
                    + (softplus ? ", softplus" : "") + (dlast ? ", dlast_state" : "") + ")";
        }
    }

    static Stream<Case> cases() {
        List<Case> cs = new ArrayList<>();
        BCMode g = BCMode.GROUPED, v = BCMode.VARIABLE, k = BCMode.CONSTANT;
        for (BCMode bm : BCMode.values()) {
            for (BCMode cm : BCMode.values()) {
                int gr = bm == g && cm == g ? 2 : 1;
                cs.add(new Case(2, 6, 37, 3, gr, bm, cm, true, true, true, true, true));
                cs.add(new Case(2, 6, 37, 1, gr, bm, cm, false, false, false, false, false));
            }
        }
        for (int l : new int[] {1, 2, 15, 16, 17, 33, 2049}) {
            cs.add(new Case(2, 8, l, 1, 4, g, g, true, false, true, true, true));
            cs.add(new Case(1, 4, l, 5, 2, g, g, true, true, true, true, true));
        }
        for (int n : new int[] {2, 4, 16, 17, 64}) cs.add(new Case(1, 4, 40, n, 1, v, v, true, true, true, true, true));
        cs.add(new Case(3, 12, 300, 1, 4, g, g, true, false, true, true, false)); // VMamba's shape of call
        cs.add(new Case(2, 9, 77, 4, 1, k, k, true, true, false, false, true));
        // channel-lane blocks (dstate >= 2, no z): blocks of every vector width inside a group or a batch, the rows
        // left over on time lanes, chunk edges (32 steps) crossed
        cs.add(new Case(2, 32, 37, 3, 2, g, g, true, false, true, true, true));
        cs.add(new Case(2, 20, 40, 4, 1, k, k, true, false, true, true, true));
        cs.add(new Case(1, 48, 70, 5, 1, v, k, true, false, true, false, true));
        cs.add(new Case(2, 32, 33, 16, 1, k, v, false, false, false, true, false));
        cs.add(new Case(1, 64, 100, 2, 4, g, g, true, false, true, true, true));
        cs.add(new Case(1, 40, 65, 3, 2, g, g, true, false, false, true, true));
        // channel-lane blocks over several super-chunks (256 steps) with a partial last vector; an odd dstate (the
        // state loops' single state) with variable B and C; grouped dstate 16 (S5's kind) past two chunks
        cs.add(new Case(1, 32, 600, 4, 2, g, g, true, false, true, true, true));
        cs.add(new Case(2, 16, 45, 17, 1, v, v, true, false, true, true, true));
        cs.add(new Case(2, 16, 77, 16, 1, g, g, true, false, true, true, false));
        cs.add(new Case(1, 16, 300, 2, 1, v, v, false, false, false, false, true));
        // dstate 1 with the variable B/C row of a group held on the heap across its channels: long rows, many channels
        cs.add(new Case(2, 24, 520, 1, 2, g, g, true, false, true, true, true));
        cs.add(new Case(2, 6, 100, 1, 1, v, k, true, true, true, true, false));
        return cs.stream();
    }

    static Tensor bc(Fixture f, BCMode mode, int b, int dm, int n, int l, int groups) {
        return switch (mode) {
            case CONSTANT -> f.gauss(1.0, dm, n);
            case VARIABLE -> f.gauss(1.0, b, n, l);
            case GROUPED -> f.gauss(1.0, b, groups, n, l);
        };
    }

    /** Random inputs of a case (steps kept positive without softplus), dout and dlast_state. */
    record Inputs(ScanArgs args, Tensor dout, Tensor dlast, ScanRef.Problem problem) {}

    static Inputs inputs(Fixture f, Case c) {
        int b = c.batch(), dm = c.dim(), l = c.seqlen(), n = c.dstate(), gr = c.groups();
        Tensor u = f.gauss(1.0, b, dm, l);
        Tensor delta = c.softplus() ? f.gauss(1.0, b, dm, l) : f.uniform(0.001, 0.2, b, dm, l);
        Tensor a = f.uniform(-2.0, -0.05, dm, n);
        Tensor bm = bc(f, c.b(), b, dm, n, l, gr), cm = bc(f, c.c(), b, dm, n, l, gr);
        Tensor dSkip = c.dSkip() ? f.gauss(1.0, dm) : null;
        Tensor z = c.z() ? f.gauss(1.0, b, dm, l) : null;
        Tensor bias = c.bias() ? (c.softplus() ? f.uniform(-4.0, -1.0, dm) : f.uniform(0.0, 0.05, dm)) : null;
        Tensor dout = f.gauss(1.0, b, dm, l);
        Tensor dlast = c.dlast() ? f.gauss(1.0, b, dm, n) : null;
        ScanArgs args = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).z(z).deltaBias(bias)
                .deltaSoftplus(c.softplus()).build();
        ScanRef.Problem p = new ScanRef.Problem(b, dm, l, n, gr, c.b(), c.c(), of(u), of(delta), of(a), of(bm), of(cm),
                of(dSkip), of(z), of(bias), c.softplus());
        return new Inputs(args, dout, dlast, p);
    }

    /** Gradient outputs poisoned with NaN, shaped as the inputs (null where an input is absent). */
    static ScanGrads poisoned(Fixture f, ScanArgs a) {
        Tensor[] in = a.tensors(), out = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) out[i] = in[i] == null ? null : f.poisoned(in[i].shape());
        return ScanGrads.of(out);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheFloat64Adjoint(Case c) {
        for (CpuBackend be : new CpuBackend[] {scalar, simd}) {
            try (Fixture f = new Fixture("scan-backward", 17L * c.hashCode())) {
                Inputs in = inputs(f, c);
                ScanGrads got = poisoned(f, in.args());
                Ss2d.on(be).selectiveScanBackwardInto(in.args(), in.dout(), in.dlast(), got);
                double[][] want = ScanBackwardRef.run(in.problem(), of(in.dout()), of(in.dlast())).inOrder();
                Tensor[] g = got.tensors();
                for (int i = 0; i < g.length; i++) {
                    String who = Fixture.who(be) + " selective_scan_backward " + c + " " + ScanGrads.NAMES[i];
                    if (want[i] == null) {
                        assertNull(g[i], who);
                        continue;
                    }
                    Checks.close(who, g[i].toFloatArray(), want[i], TOL);
                }
            }
        }
    }

    /** Every reduced gradient (dA, dB/dC of all layouts, dD, delta_bias) bit for bit: twice, and 1 vs 2 threads. */
    @Test
    void deterministicRunToRunAndAcrossThreadCounts() {
        BCMode g = BCMode.GROUPED, k = BCMode.CONSTANT, v = BCMode.VARIABLE;
        for (Case c : List.of(new Case(4, 16, 257, 1, 4, g, g, true, true, true, true, true),
                new Case(4, 8, 129, 4, 1, k, v, true, false, true, true, true),
                new Case(3, 8, 100, 3, 1, v, k, true, true, true, true, false),
                new Case(4, 32, 100, 4, 2, g, g, true, false, true, true, true),
                new Case(3, 40, 70, 3, 1, k, k, true, false, true, true, true),
                new Case(2, 32, 300, 16, 2, g, g, true, false, true, true, true),
                new Case(3, 24, 300, 1, 2, g, g, true, false, true, true, false))) {
            try (Fixture f = new Fixture("scan-backward-bits", c.hashCode())) {
                Inputs in = inputs(f, c);
                float[][] first = null;
                for (CpuBackend be : new CpuBackend[] {simd, simd, one}) {
                    try (ScanGrads gr = Ss2d.on(be).selectiveScanBackward(f.scope, in.args(), in.dout(), in.dlast())) {
                        Tensor[] t = gr.tensors();
                        float[][] now = new float[t.length][];
                        for (int i = 0; i < t.length; i++) now[i] = t[i] == null ? null : t[i].toFloatArray();
                        if (first == null) {
                            first = now;
                            continue;
                        }
                        for (int i = 0; i < t.length; i++) {
                            if (now[i] == null) continue;
                            assertArrayEquals(first[i], now[i], Fixture.who(be) + " " + c + " " + ScanGrads.NAMES[i]
                                    + " differs in bits from the first run (2 threads)");
                        }
                    }
                }
            }
        }
    }

    /**
     * Rows whose |delta + bias| is past the fast kernels' range run the plain kernel: in the middle of a group whose
     * dB/dC rows the others add into (dstate 1 holds them on the heap; the channel-lane blocks fall back to rows), the
     * sums stay right.
     */
    @ParameterizedTest(name = "dstate {0}")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 4})
    void outOfRangeRowsFallBackInsideASharedBCRow(int n) {
        BCMode g = BCMode.GROUPED;
        Case c = new Case(2, 32, 70, n, 2, g, g, true, false, true, true, true);
        try (Fixture f = new Fixture("scan-backward-range", 31L * n)) {
            Inputs in = inputs(f, c);
            Tensor delta = in.args().delta();
            for (int t : new int[] {3, 40, 69}) delta.setFloat((0L * c.dim() + 5) * c.seqlen() + t, 95f); // batch 0, channel 5
            delta.setFloat((1L * c.dim() + 20) * c.seqlen() + 11, -120f); // batch 1, channel 20 (group 1)
            ScanRef.Problem p = new ScanRef.Problem(c.batch(), c.dim(), c.seqlen(), n, c.groups(), g, g, of(in.args().u()),
                    of(delta), of(in.args().A()), of(in.args().B()), of(in.args().C()), of(in.args().D()), null,
                    of(in.args().deltaBias()), true);
            double[][] want = ScanBackwardRef.run(p, of(in.dout()), of(in.dlast())).inOrder();
            ScanGrads got = poisoned(f, in.args());
            Ss2d.on(simd).selectiveScanBackwardInto(in.args(), in.dout(), in.dlast(), got);
            Tensor[] gt = got.tensors();
            for (int i = 0; i < gt.length; i++) {
                if (want[i] == null) continue;
                Checks.close(Fixture.who(simd) + " selective_scan_backward " + c + " with |delta| past 80 "
                        + ScanGrads.NAMES[i], gt[i].toFloatArray(), want[i], TOL);
            }
        }
    }

    @Test
    void doutIsValidatedByName() {
        try (Fixture f = new Fixture("scan-backward-bad", 5)) {
            Inputs in = inputs(f, new Case(1, 4, 8, 2, 1, BCMode.VARIABLE, BCMode.VARIABLE, true, false, false, true, true));
            Tensor wrong = f.gauss(1.0, 1, 4, 7);
            Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class,
                    () -> Ss2d.on(simd).selectiveScanBackward(f.scope, in.args(), wrong, null));
            assertTrue(e.getMessage().contains("dout"), e.getMessage());
            Tensor badLast = f.gauss(1.0, 1, 4, 3);
            e = assertThrows(Ss2dArgumentException.class,
                    () -> Ss2d.on(simd).selectiveScanBackward(f.scope, in.args(), in.dout(), badLast));
            assertTrue(e.getMessage().contains("dlast_state"), e.getMessage());
            e = assertThrows(Ss2dArgumentException.class,
                    () -> Ss2d.on(simd).selectiveScanBackward(f.scope, in.args(), null, null));
            assertTrue(e.getMessage().contains("dout"), e.getMessage());
        }
    }
}
