package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.ops.BCMode;
import org.ss2d.reference.ScanBackwardRef;
import org.ss2d.reference.ScanRef;
import org.ss2d.tensor.TensorScope;

/**
 * The golden gradients ({@code conformance/golden-backward}, PyTorch autograd in float64 written by
 * {@code golden/make_backward_golden.py}) against the Java float64 backward: two independent float64
 * derivations (autograd of a torch recurrence, a hand-written adjoint), so only double rounding may
 * separate them ({@link Tolerances#FLOAT64}).
 */
class BackwardGoldenTest {
    static final Path DIR = Path.of("golden-backward");
    static final String[] SCAN_INPUTS = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

    static List<Path> files() {
        try {
            return ConformanceRunner.caseFiles(DIR);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String kind(Path p) {
        try (TensorScope s = TensorScope.root("golden-backward kind"); CaseFile f = CaseFile.open(s, p)) {
            return f.kind();
        }
    }

    @Test
    void theSetHasEveryBackwardKind() {
        List<String> kinds = files().stream().map(BackwardGoldenTest::kind).toList();
        for (String k : List.of("selective_scan_backward", "ss2d_backward", "vss_block_backward")) {
            assertTrue(kinds.contains(k), "no golden file of kind " + k + " in " + DIR);
        }
        assertTrue(kinds.stream().filter("selective_scan_backward"::equals).count() >= 8, "scan backward files: " + kinds);
    }

    @TestFactory
    Stream<DynamicTest> javaScanBackwardAgreesWithTorchAutogradInFloat64() {
        return files().stream().filter(p -> kind(p).equals("selective_scan_backward")).map(p -> DynamicTest.dynamicTest(
                "[reference float64 vs torch autograd float64] " + p.getFileName(), () -> {
                    try (TensorScope s = TensorScope.root("golden-backward"); CaseFile f = CaseFile.open(s, p)) {
                        ScanRef.Problem prob = problem(f);
                        double[] dlast = f.has("dlast_state") ? f.doubles("dlast_state") : null;
                        double[][] got = ScanBackwardRef.run(prob, f.doubles("dout"), dlast).inOrder();
                        int checked = 0;
                        for (int k = 0; k < SCAN_INPUTS.length; k++) {
                            String g = "grad." + SCAN_INPUTS[k];
                            assertTrue(f.has(SCAN_INPUTS[k]) == f.has(g), p + ": " + g + " and its input must come together");
                            assertTrue(f.has(SCAN_INPUTS[k]) == (got[k] != null), p + ": the reference's " + g);
                            if (!f.has(g)) continue;
                            Comparison c = Tolerances.compare(f.doubles(g), got[k], Tolerances.FLOAT64);
                            assertTrue(c.pass(), p.getFileName() + " " + g + ": " + c.detail());
                            checked++;
                        }
                        assertTrue(checked >= 5, p + ": only " + checked + " gradients checked");
                    }
                }));
    }

    @TestFactory
    Stream<DynamicTest> javaBlockBackwardAgreesWithTorchAutogradInFloat64() {
        return files().stream().filter(p -> !kind(p).equals("selective_scan_backward")).map(p -> DynamicTest.dynamicTest(
                "[reference float64 vs torch autograd float64] " + p.getFileName(), () -> {
                    try (TensorScope s = TensorScope.root("golden-backward-block"); CaseFile f = CaseFile.open(s, p)) {
                        boolean vss = kind(p).equals("vss_block_backward");
                        org.ss2d.interop.cases.OpCall call = (vss ? org.ss2d.interop.cases.OpKind.VSS_BLOCK
                                : org.ss2d.interop.cases.OpKind.SS2D).prepare(f);
                        long[] xs = f.shape("x");
                        int batch = (int) xs[0], h = (int) xs[2], w = (int) xs[3];
                        java.util.Map<String, double[]> got = vss
                                ? org.ss2d.reference.BlockBackwardRef.vss(org.ss2d.reference.VSSRef.Params.of(
                                        ((org.ss2d.interop.cases.OpCalls.VssBlock) call).weights()), f.doubles("x"),
                                        f.doubles("dout"), batch, h, w)
                                : org.ss2d.reference.BlockBackwardRef.ss2d(org.ss2d.reference.SS2DRef.Params.of(
                                        ((org.ss2d.interop.cases.OpCalls.Ss2dBlock) call).weights()), f.doubles("x"),
                                        f.doubles("dout"), batch, h, w);
                        int checked = 0;
                        for (String col : f.columns()) {
                            if (!col.startsWith("grad.")) continue;
                            double[] mine = got.get(col);
                            assertTrue(mine != null, p.getFileName() + ": the reference has no " + col + " (it has "
                                    + got.keySet() + ")");
                            Comparison c = Tolerances.compare(f.doubles(col), mine, Tolerances.FLOAT64);
                            assertTrue(c.pass(), p.getFileName() + " " + col + ": " + c.detail());
                            checked++;
                        }
                        assertTrue(checked == got.size(), p + ": " + checked + " golden gradients, the reference has "
                                + got.keySet());
                    }
                }));
    }

    static ScanRef.Problem problem(CaseFile f) {
        long[] us = f.shape("u");
        int batch = (int) us[0], dim = (int) us[1], seqlen = (int) us[2], dstate = (int) f.shape("A")[1];
        long[] bs = f.shape("B"), cs = f.shape("C");
        int groups = bs.length == 4 ? (int) bs[1] : cs.length == 4 ? (int) cs[1] : 1;
        return new ScanRef.Problem(batch, dim, seqlen, dstate, groups, mode(bs), mode(cs), f.doubles("u"),
                f.doubles("delta"), f.doubles("A"), f.doubles("B"), f.doubles("C"), opt(f, "D"), opt(f, "z"),
                opt(f, "delta_bias"), f.options().bool("delta_softplus", false));
    }

    static BCMode mode(long[] shape) {
        return switch (shape.length) {
            case 2 -> BCMode.CONSTANT;
            case 3 -> BCMode.VARIABLE;
            default -> BCMode.GROUPED;
        };
    }

    static double[] opt(CaseFile f, String name) {
        return f.has(name) ? f.doubles(name) : null;
    }
}
