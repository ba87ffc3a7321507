package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.Ss2d;
import org.ss2d.conformance.cases.BlockCase;
import org.ss2d.conformance.cases.ConformanceCase;
import org.ss2d.conformance.cases.CrossCase;
import org.ss2d.conformance.cases.ScanCase;
import org.ss2d.model.SS2DConfig;
import org.ss2d.ops.BCMode;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Property-based tests (seeded, see {@link Props}): random valid shapes and options agree with the
 * float64 reference on every backend and across backends; random invalid inputs are rejected with
 * {@link Ss2dArgumentException} on every backend, never anything else.
 */
class PropertyTest {

    @TestFactory
    Stream<DynamicTest> randomValidScansAgreeAcrossBackends() {
        return Props.forAll("random scan", 40, PropertyTest::randomScan, PropertyTest::agreeEverywhere);
    }

    @TestFactory
    Stream<DynamicTest> randomCrossGridsAgreeAcrossBackends() {
        return Props.forAll("random cross", 15, r -> new CrossCase(r.nextBoolean() ? org.ss2d.interop.cases.OpKind.CROSS_SCAN
                : org.ss2d.interop.cases.OpKind.CROSS_MERGE, r.nextInt(1, 3), r.nextInt(1, 6), r.nextInt(1, 20), r.nextInt(1, 20),
                r.nextLong()), PropertyTest::agreeEverywhere);
    }

    @TestFactory
    Stream<DynamicTest> randomBlocksAgreeAcrossBackends() {
        return Props.forAll("random block", 8, r -> {
            SS2DConfig c = SS2DConfig.of(r.nextInt(2, 17), r.nextInt(1, 5), r.nextBoolean() ? 1.0 : 2.0).withConvBias(r.nextBoolean());
            int b = r.nextInt(1, 3), h = r.nextInt(1, 7), w = r.nextInt(1, 7);
            return r.nextBoolean() ? BlockCase.ss2d(c, b, h, w, r.nextLong()) : BlockCase.vss(c, b, h, w, r.nextLong());
        }, PropertyTest::agreeEverywhere);
    }

    static ScanCase randomScan(SplittableRandom r) {
        int groups = new int[] {1, 2, 4}[r.nextInt(3)];
        int dim = groups * r.nextInt(1, 5);
        BCMode[] modes = BCMode.values();
        BCMode bm = groups > 1 ? BCMode.GROUPED : modes[r.nextInt(3)];
        BCMode cm = groups > 1 ? BCMode.GROUPED : modes[r.nextInt(3)];
        return new ScanCase(r.nextInt(1, 4), dim, r.nextInt(1, 300), r.nextInt(1, 18), groups, bm, cm, r.nextBoolean(),
                r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), ScanCase.Inputs.NORMAL, r.nextLong());
    }

    /** Every available backend within budget of the float64 reference, and within twice that of each other. */
    static void agreeEverywhere(ConformanceCase c) {
        List<String> backends = Targets.available();
        assertTrue(!backends.isEmpty(), "no backend available");
        Map<String, float[]> first = null;
        String firstName = null;
        for (String b : backends) {
            CaseExecutor.Outcome o = Targets.EXEC.execute(c, b);
            if (!o.result().status().ok()) fail(o.result().describe());
            if (o.actual() == null) continue; // rejected over a limit, as it should be
            if (first == null) {
                first = o.actual();
                firstName = b;
                continue;
            }
            for (var e : first.entrySet()) {
                float[] other = o.actual().get(e.getKey());
                double[] mine = new double[e.getValue().length];
                for (int i = 0; i < mine.length; i++) mine[i] = e.getValue()[i];
                Comparison cmp = Tolerances.compare(mine, other, Tolerances.crossBackend(c.op(), c.dtype()));
                assertTrue(cmp.pass(), "[" + b + " vs " + firstName + "] " + c.op().key() + " " + c.shape() + " "
                        + e.getKey() + ": " + cmp.detail());
            }
        }
    }

    /** One thing broken in an otherwise valid call, and the argument the error must name. */
    record Broken(ScanBuilder call, String argument, String what) {
        @Override
        public String toString() {
            return what + " -> " + argument + " | " + call;
        }
    }

    static Broken randomBroken(SplittableRandom r) {
        int groups = new int[] {1, 2, 4}[r.nextInt(3)];
        int batch = r.nextInt(1, 3), dim = groups * r.nextInt(1, 4), len = r.nextInt(1, 40), n = r.nextInt(1, 9);
        ScanBuilder s = ScanBuilder.valid(batch, dim, len, n, groups);
        if (groups == 1 && r.nextBoolean()) s.shape("B", batch, n, len); // variable layout too
        if (groups == 1 && r.nextBoolean()) s.shape("C", dim, n);        // and constant
        String[] names = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};
        switch (r.nextInt(7)) {
            case 0 -> { // one axis of one tensor off by one (or down to zero)
                String t = names[r.nextInt(names.length)];
                long[] sh = s.shapes.get(t).clone();
                int ax = r.nextInt(sh.length);
                sh[ax] = sh[ax] > 1 && r.nextBoolean() ? sh[ax] - 1 : sh[ax] + 1;
                s.shape(t, sh);
                // dstate through A is caught at A; the u/delta/A-first order decides which argument is named
                // The facade checks u, delta, A, B, C, ... in order and B's groups before C's, so a broken
                // u, A or B may be reported at the first argument it no longer agrees with.
                String named = switch (t) {
                    case "u" -> "u|delta|A|B|C|z";
                    case "A" -> "A|B|C";
                    case "B" -> "B|C";
                    default -> t;
                };
                return new Broken(s, named, "axis " + ax + " of " + t);
            }
            case 1 -> { // a rank too many
                String t = names[r.nextInt(names.length)];
                // B and C go to rank 5, which no layout has (rank 4 could happen to fit the grouped one).
                long[] sh = java.util.Arrays.copyOf(s.shapes.get(t), t.equals("B") || t.equals("C") ? 5 : s.shapes.get(t).length + 1);
                java.util.Arrays.fill(sh, s.shapes.get(t).length, sh.length, 1);
                s.shape(t, sh);
                return new Broken(s, t, "extra axis on " + t);
            }
            case 2 -> { // missing required tensor
                String t = names[r.nextInt(5)];
                s.without(t);
                return new Broken(s, t, t + " missing");
            }
            case 3 -> { // a dtype no backend announces
                String t = names[r.nextInt(names.length)];
                s.dtype(t, r.nextBoolean() ? DType.F16 : DType.BF16);
                return new Broken(s, t, t + " in a half type");
            }
            case 4 -> { // groups not dividing dim (dim + 1 channels everywhere)
                int g = groups == 1 ? 2 : groups;
                int d2 = g * r.nextInt(1, 4) + 1;
                ScanBuilder v = ScanBuilder.valid(batch, d2, len, n, g);
                return new Broken(v, "B", g + " groups on dim " + d2);
            }
            case 5 -> { // B and C group counts differ
                s.shape("B", batch, groups, n, len).shape("C", batch, groups * 2 > dim ? 1 + groups : groups * 2, n, len);
                return new Broken(s, "C", "group counts differ");
            }
            default -> { // an empty dimension of u (and all that follow it)
                int which = r.nextInt(3);
                ScanBuilder v = ScanBuilder.valid(which == 0 ? 0 : batch, which == 1 ? 0 : dim, which == 2 ? 0 : len, n, 1);
                return new Broken(v, "u", "empty axis " + which + " of u");
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> randomInvalidScansAreRejectedCleanly() {
        return Props.forAll("random invalid scan", 60, PropertyTest::randomBroken, broken -> {
            for (String b : Targets.available()) {
                TensorScope scope = TensorScope.root("invalid");
                try {
                    Ss2d ss = Ss2d.on(b);
                    try {
                        ss.selectiveScan(scope, broken.call().build(scope)).close();
                        fail("[" + b + "] accepted " + broken);
                    } catch (Ss2dArgumentException e) {
                        assertTrue(List.of(broken.argument().split("\\|")).contains(e.argument()),
                                "[" + b + "] " + broken + ": the error names " + e.argument() + ": " + e.getMessage());
                    } catch (RuntimeException | Error e) {
                        throw new AssertionError("[" + b + "] " + broken + ": not a clean rejection: " + e, e);
                    }
                    assertTrue(ss.lastBackend() == null, "[" + b + "] a backend ran");
                } finally {
                    scope.release();
                }
            }
        });
    }
}
