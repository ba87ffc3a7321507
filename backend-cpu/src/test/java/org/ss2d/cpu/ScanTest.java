package org.ss2d.cpu;

import static org.ss2d.reference.Doubles.of;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.reference.ScanRef;
import org.ss2d.tensor.Tensor;

/**
 * The selective scan against a float64 sequential recurrence, on fresh seeded inputs with NaN-poisoned
 * outputs, over seqlen tails (1, 2, 31, 2047..2049, 5000), dstate 1..256 and 300, dims that are not a
 * multiple of the vector width, 1/2/4 groups and every option. Tolerance 1e-4 of the largest |value|.
 */
@Tag("width")
class ScanTest {
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    /** One case: sizes, B/C layouts, options. */
    record Case(int batch, int dim, int seqlen, int dstate, int groups, BCMode b, BCMode c, boolean dSkip, boolean z,
                boolean bias, boolean softplus, boolean last) {
        @Override
        public String toString() {
            return "(batch " + batch + ", dim " + dim + ", seqlen " + seqlen + ", dstate " + dstate + ", groups " + groups
                    + ", B " + b + ", C " + c + (dSkip ? ", D" : "") + (z ? ", z" : "") + (bias ? ", delta_bias" : "")
                    + (softplus ? ", softplus" : "") + (last ? ", last_state" : "") + ")";
        }
    }

    static Stream<Case> cases() {
        List<Case> cs = new ArrayList<>();
        BCMode g = BCMode.GROUPED, v = BCMode.VARIABLE, k = BCMode.CONSTANT;
        // every seqlen tail, at VMamba's dstate 1 and a general one
        for (int l : new int[] {1, 2, 31, 2047, 2048, 2049, 5000}) {
            cs.add(new Case(2, 20, l, 1, 4, g, g, true, false, true, true, true));
            cs.add(new Case(1, 12, l, 5, 2, g, g, true, true, true, true, true));
        }
        // dstate sweep, no MAX_DSTATE
        for (int n : new int[] {2, 3, 4, 7, 8, 16, 17, 64, 256, 300}) {
            cs.add(new Case(1, 6, 37, n, 2, g, g, true, false, true, true, true));
        }
        // B/C layouts and groups, options on and off
        for (int groups : new int[] {1, 2, 4}) {
            cs.add(new Case(2, 4 * 9, 50, 3, groups, g, g, false, false, false, false, true));
            cs.add(new Case(2, 4 * 9, 50, 1, groups, g, g, true, true, true, true, false));
        }
        cs.add(new Case(2, 9, 77, 1, 1, k, k, true, false, true, true, true));
        cs.add(new Case(2, 9, 77, 4, 1, k, k, true, true, false, true, true));
        cs.add(new Case(2, 9, 77, 1, 1, v, v, false, true, true, false, true));
        cs.add(new Case(2, 9, 77, 4, 1, v, k, true, false, true, true, true));
        cs.add(new Case(2, 9, 77, 3, 1, k, v, true, true, true, true, true));
        cs.add(new Case(3, 17, 33, 1, 1, v, v, true, true, true, true, true));
        // channel-lane kernel: dim and channels per group multiples of 16 (of every vector width), super-chunk
        // (1024) and chunk (64) edges crossed, all layouts
        for (int l : new int[] {1, 31, 64, 65, 2049, 5000}) {
            cs.add(new Case(1, 32, l, 5, 2, g, g, true, true, true, true, true));
        }
        cs.add(new Case(2, 64, 100, 16, 4, g, g, true, false, true, true, true));
        // dstate 1 rows longer than the kernel stages C for whole (16384 steps): C staged chunk by chunk
        cs.add(new Case(1, 4, 17000, 1, 2, g, g, true, true, true, true, true));
        cs.add(new Case(1, 3, 16500, 1, 1, k, k, true, false, true, true, true));
        // runs of several blocks per (batch, group) sharing the staged B/C, across a super-chunk edge, z and last state
        cs.add(new Case(2, 64, 1100, 4, 2, g, g, true, true, true, true, true));
        cs.add(new Case(1, 16, 130, 17, 1, k, k, true, true, true, true, true));
        cs.add(new Case(1, 48, 77, 2, 1, v, k, false, false, false, false, true));
        cs.add(new Case(2, 32, 90, 3, 1, k, v, true, false, true, true, false));
        cs.add(new Case(1, 16, 40, 300, 1, v, v, true, false, true, true, true));
        // mixed: channel-lane blocks inside each group, time lanes for the channels left over
        cs.add(new Case(2, 40, 70, 4, 2, g, g, true, true, true, true, true));
        cs.add(new Case(1, 50, 2049, 2, 1, v, v, true, false, true, true, true));
        cs.add(new Case(3, 21, 33, 3, 1, k, k, true, false, true, true, true));
        return cs.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheFloat64Recurrence(Case c) {
        try (Fixture f = new Fixture("scan", 31L * c.hashCode())) {
            int b = c.batch(), dm = c.dim(), l = c.seqlen(), n = c.dstate(), gr = c.groups();
            Tensor u = f.gauss(1.0, b, dm, l);
            Tensor delta = f.gauss(0.5, b, dm, l);
            Tensor a = f.uniform(-2.0, -0.05, dm, n);
            Tensor bm = bc(f, c.b(), b, dm, n, l, gr), cm = bc(f, c.c(), b, dm, n, l, gr);
            Tensor dSkip = c.dSkip() ? f.gauss(1.0, dm) : null;
            Tensor z = c.z() ? f.gauss(1.0, b, dm, l) : null;
            // softplus off: delta + bias must be a positive step itself
            Tensor bias = c.bias() ? (c.softplus() ? f.uniform(-4.0, -1.0, dm) : f.uniform(0.0, 0.05, dm)) : null;
            if (!c.softplus()) delta = f.uniform(0.001, 0.2, b, dm, l);
            Tensor out = f.poisoned(b, dm, l);
            Tensor last = c.last() ? f.poisoned(b, dm, n) : null;
            ScanArgs args = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).z(z).deltaBias(bias)
                    .deltaSoftplus(c.softplus()).returnLastState(c.last()).build();
            Ss2d.on(backend).selectiveScanInto(args, out, last);

            ScanRef.Result want = ScanRef.run(new ScanRef.Problem(b, dm, l, n, gr, c.b(), c.c(), of(u), of(delta), of(a),
                    of(bm), of(cm), of(dSkip), of(z), of(bias), c.softplus()));
            String who = Fixture.who(backend) + " scan " + c;
            Checks.close(who + " out", out.toFloatArray(), want.out(), 1e-4);
            if (c.last()) Checks.close(who + " last_state", last.toFloatArray(), want.lastState(), 1e-4);
        }
    }

    /**
     * A outside the usual range, on channel-lane shapes (dim 32, dstate 4 and 5) and time-lane ones (dim 9): very
     * negative A, where exp(dt A) falls below 2^-126 (the kernel must not choose its clamp-free exp2 there),
     * and A with positive entries (the kernel must keep the clamped exp2).
     */
    @ParameterizedTest(name = "A in [{0}, {1}], dim {2}, dstate {3}")
    @org.junit.jupiter.params.provider.CsvSource({"-300, -60, 32, 4", "-300, -60, 32, 5", "-0.5, 0.3, 32, 4",
            "-300, -60, 9, 1", "-0.5, 0.3, 9, 1"})
    void extremeA(double aLo, double aHi, int dm, int n) {
        try (Fixture f = new Fixture("scan-extreme-a", (long) (aLo * 1000 + n))) {
            int b = 2, l = 70, gr = 1;
            Tensor u = f.gauss(1.0, b, dm, l);
            Tensor delta = f.gauss(1.0, b, dm, l);
            Tensor a = f.uniform(aLo, aHi, dm, n);
            Tensor bm = f.gauss(1.0, b, gr, n, l), cm = f.gauss(1.0, b, gr, n, l);
            Tensor bias = f.uniform(0.0, 1.0, dm);
            Tensor out = f.poisoned(b, dm, l), last = f.poisoned(b, dm, n);
            ScanArgs args = ScanArgs.builder(u, delta, a, bm, cm).deltaBias(bias).deltaSoftplus(true)
                    .returnLastState(true).build();
            Ss2d.on(backend).selectiveScanInto(args, out, last);
            ScanRef.Result want = ScanRef.run(new ScanRef.Problem(b, dm, l, n, gr, BCMode.GROUPED, BCMode.GROUPED, of(u),
                    of(delta), of(a), of(bm), of(cm), null, null, of(bias), true));
            String who = Fixture.who(backend) + " scan (batch " + b + ", dim " + dm + ", seqlen " + l + ", dstate " + n
                    + ", A in [" + aLo + ", " + aHi + "])";
            Checks.close(who + " out", out.toFloatArray(), want.out(), 1e-4);
            Checks.close(who + " last_state", last.toFloatArray(), want.lastState(), 1e-4);
        }
    }

    private static Tensor bc(Fixture f, BCMode mode, int b, int dm, int n, int l, int groups) {
        return switch (mode) {
            case CONSTANT -> f.gauss(1.0, dm, n);
            case VARIABLE -> f.gauss(1.0, b, n, l);
            case GROUPED -> f.gauss(1.0, b, groups, n, l);
        };
    }
}
