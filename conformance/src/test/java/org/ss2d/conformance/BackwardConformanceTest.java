package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.Backends;
import org.ss2d.conformance.cases.FileCase;
import org.ss2d.interop.cases.CaseFiles;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;

/**
 * The {@code selective_scan_backward} kind on every backend under test, through case files and the same
 * executor as the forward suite (NaN-poisoned outputs, the op forced onto the backend, every {@code grad.*}
 * within {@link Tolerances#SCAN_BACKWARD_F32} of float64): the golden gradients ({@code golden-backward},
 * PyTorch autograd) and a generated matrix of B/C layouts x D x z x delta_bias x softplus x dlast_state
 * (expected values from the float64 adjoint). A backend that has no scan backward yet is skipped with its own
 * refusal, printed to the build log (CUDA, for now).
 */
class BackwardConformanceTest {
    private static Path dir;

    @AfterAll
    static void cleanUp() throws IOException {
        if (dir == null) return;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) Files.delete(p);
        }
        Files.delete(dir);
        dir = null; // another class (DeterminismTest) may still write cases
    }

    static List<FileCase> cases() {
        List<FileCase> out = new ArrayList<>();
        for (Path p : BackwardGoldenTest.files()) {
            if (BackwardGoldenTest.kind(p).equals("selective_scan_backward")) out.add(new FileCase(p));
        }
        try {
            if (dir == null) dir = Files.createTempDirectory("ss2d-backward-cases");
            long seed = 7000;
            for (BCMode bm : BCMode.values()) {
                for (BCMode cm : BCMode.values()) {
                    for (int opts = 0; opts < 32; opts += 5) {
                        out.add(new FileCase(write(bm, cm, opts, seed++)));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** One random case: batch 2, dim 4, seqlen 19 (tails at every vector width), dstate 3; options by bit. */
    static Path write(BCMode bm, BCMode cm, int opts, long seed) {
        boolean withD = (opts & 1) != 0, z = (opts & 2) != 0, bias = (opts & 4) != 0, sp = (opts & 8) != 0,
                dlast = (opts & 16) != 0;
        int b = 2, dm = 4, l = 19, n = 3, g = bm == BCMode.GROUPED && cm == BCMode.GROUPED ? 2 : 1;
        Path p = dir.resolve("scan_bwd_" + bm + "_" + cm + "_" + opts + ".arrow");
        try (TensorScope s = TensorScope.root("backward case")) {
            Map<String, Tensor> cols = new LinkedHashMap<>();
            cols.put("u", RandomWeights.gaussian(s, seed, 1.0, b, dm, l));
            cols.put("delta", sp ? RandomWeights.gaussian(s, seed + 1, 1.0, b, dm, l)
                    : RandomWeights.uniform(s, seed + 1, 0.001, 0.3, b, dm, l));
            cols.put("A", RandomWeights.uniform(s, seed + 2, -2.0, -0.1, dm, n));
            cols.put("B", bc(s, bm, seed + 3, b, dm, n, l, g));
            cols.put("C", bc(s, cm, seed + 4, b, dm, n, l, g));
            if (withD) cols.put("D", RandomWeights.gaussian(s, seed + 5, 1.0, dm));
            if (z) cols.put("z", RandomWeights.gaussian(s, seed + 6, 1.0, b, dm, l));
            if (bias) cols.put("delta_bias", RandomWeights.uniform(s, seed + 7, 0.0, 0.5, dm));
            cols.put("dout", RandomWeights.gaussian(s, seed + 8, 1.0, b, dm, l));
            if (dlast) cols.put("dlast_state", RandomWeights.gaussian(s, seed + 9, 1.0, b, dm, n));
            CaseFiles.writeCase(p, OpKind.SELECTIVE_SCAN_BACKWARD, CaseOptions.of(Map.of("delta_softplus", sp)), cols,
                    s.allocator());
            cols.values().forEach(Tensor::close);
        }
        return p;
    }

    static Tensor bc(TensorScope s, BCMode m, long seed, int b, int dm, int n, int l, int g) {
        return switch (m) {
            case CONSTANT -> RandomWeights.gaussian(s, seed, 1.0, dm, n);
            case VARIABLE -> RandomWeights.gaussian(s, seed, 1.0, b, n, l);
            case GROUPED -> RandomWeights.gaussian(s, seed, 1.0, b, g, n, l);
        };
    }

    /** Null when the backend has this backward kind, else its refusal. */
    static String noBackward(String name, String kind) {
        Backend b = Backends.get(name);
        try {
            switch (kind) {
                case "selective_scan_backward" -> b.scanBackwardWorkingBytes(
                        new ScanShape(1, 1, 1, 1, 1, BCMode.CONSTANT, BCMode.CONSTANT));
                case "ss2d_backward" -> b.blockBackwardWorkingBytes(null, 0, 1, 1, 1);
                default -> b.blockBackwardWorkingBytes(null, 4, 1, 1, 1);
            }
            return null;
        } catch (LimitExceededException e) {
            return e.getMessage();
        }
    }

    /** The golden SS2D / VSS block gradients (PyTorch autograd), on every backend that has a block backward. */
    static List<FileCase> blockCases() {
        List<FileCase> out = new ArrayList<>();
        for (Path p : BackwardGoldenTest.files()) {
            if (!BackwardGoldenTest.kind(p).equals("selective_scan_backward")) out.add(new FileCase(p));
        }
        return out;
    }

    @TestFactory
    Stream<DynamicNode> everyBackendWithABackwardAgreesWithFloat64() {
        List<FileCase> scans = cases(), blocks = blockCases();
        assertTrue(scans.size() >= 8 + 9 * 7, "scan backward cases: " + scans.size());
        assertTrue(blocks.size() >= 4, "block backward cases: " + blocks.size());
        List<FileCase> all = new ArrayList<>(scans);
        all.addAll(blocks);
        return Targets.names().stream().map(b -> {
            String why = Targets.unavailable(b);
            if (why != null) {
                return DynamicTest.dynamicTest("[" + b + "] backward: skipped: " + why, () -> {
                    if (b.equals(Targets.required())) {
                        org.junit.jupiter.api.Assertions.fail("-Dss2d.require=" + b + " but " + b + " is unavailable: " + why);
                    }
                    Assumptions.assumeTrue(false, why);
                });
            }
            List<DynamicNode> nodes = new ArrayList<>();
            for (String kind : List.of("selective_scan_backward", "ss2d_backward", "vss_block_backward")) {
                String none = noBackward(b, kind);
                List<FileCase> mine = all.stream().filter(c -> c.op().key().equals(kind)).toList();
                if (none != null) {
                    nodes.add(DynamicTest.dynamicTest("[" + b + "] " + kind + ": skipped: " + none, () -> {
                        System.err.println("[ss2d] conformance " + kind + " SKIPPED on " + b + ": " + none);
                        Assumptions.assumeTrue(false, none);
                    }));
                    continue;
                }
                nodes.add(DynamicContainer.dynamicContainer("[" + b + "] " + kind + " (" + mine.size() + " cases)",
                        mine.stream().map(c -> DynamicTest.dynamicTest(Targets.displayName(c, b), () -> {
                            CaseResult r = Targets.check(c, b);
                            // the margin under the budget, for TOLERANCES.md
                            System.out.println("backward conformance: [" + b + "] " + c.id() + " worst rel " + r.maxRelErr());
                        }))));
            }
            return DynamicContainer.dynamicContainer("[" + b + "] backward", nodes);
        });
    }
}
