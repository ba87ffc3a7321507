package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.conformance.cases.ConformanceCase.Expected;
import org.ss2d.conformance.cases.FileCase;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.tensor.TensorScope;

/**
 * The PyTorch golden vectors (conformance/golden, written by make_golden.py on the GPU machine):
 * the Java float64 reference must agree with them to float64 rounding (two independent
 * implementations), and every backend under test must agree with them within its budget.
 */
class GoldenConformanceTest {
    static final Path GOLDEN = Path.of("golden");

    static List<FileCase> goldenCases() {
        try {
            List<FileCase> out = new ArrayList<>();
            for (Path p : ConformanceRunner.caseFiles(GOLDEN)) out.add(new FileCase(p));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void theGoldenSetCoversEveryOpAndBothColumnEncodings() throws IOException {
        List<FileCase> cases = goldenCases();
        assertTrue(cases.size() >= 20, "golden files: " + cases.size());
        for (String kind : List.of("selective_scan", "cross_scan", "cross_merge", "ss2d", "vss_block")) {
            assertTrue(cases.stream().anyMatch(c -> c.op().key().equals(kind)), "no golden file for " + kind);
        }
        // The same case written as arrow.fixed_shape_tensor columns and as plain FixedSizeList + "shape" metadata.
        try (TensorScope s = TensorScope.root("golden encodings");
             CaseFile ext = CaseFile.open(s, GOLDEN.resolve("fixtures/scan_pyarrow.arrow"));
             CaseFile plain = CaseFile.open(s, GOLDEN.resolve("fixtures/scan_pyarrow_plain_lists.arrow"));
             CaseFile f64 = CaseFile.open(s, GOLDEN.resolve("scan_float64_inputs.arrow"));
             CaseFile bf16 = CaseFile.open(s, GOLDEN.resolve("half_bfloat16_mamba_n16_z.arrow"));
             CaseFile f16 = CaseFile.open(s, GOLDEN.resolve("half_float16_const_b_var_c_out_float32.arrow"))) {
            // half inputs as PyTorch rounded them: HalfFloat, and uint16 + logical_dtype = bfloat16
            assertEquals("bfloat16", bf16.storedDtype("u"));
            assertEquals("float16", f16.storedDtype("C"));
            assertEquals("float32", f16.storedDtype("B"), "constant B stays float32");
            assertEquals(ext.columns(), plain.columns());
            for (String name : ext.columns()) {
                assertArrayEquals(ext.shape(name), plain.shape(name), name);
                assertArrayEquals(ext.doubles(name), plain.doubles(name), 0.0, name);
            }
            assertEquals("float64", f64.storedDtype("u"), "the float64-input case must really store float64");
        }
    }

    @TestFactory
    Stream<DynamicTest> javaReferenceAgreesWithPyTorchInFloat64() {
        return goldenCases().stream().map(c -> DynamicTest.dynamicTest("[reference float64 vs torch float64] " + c.op().key()
                + " " + c.shape() + " | " + c.id(), () -> {
            TensorScope arena = TensorScope.root("golden-ref");
            try {
                Map<String, Expected> ref = c.reference(arena);
                Map<String, Expected> golden = c.golden(arena);
                assertTrue(!golden.isEmpty(), c.id() + " carries no expected outputs");
                for (var e : golden.entrySet()) {
                    Expected mine = ref.get(e.getKey());
                    assertTrue(mine != null, c.id() + ": the reference produced no " + e.getKey());
                    Comparison cmp = Tolerances.compare(e.getValue().values(), mine.values(), Tolerances.FLOAT64);
                    assertTrue(cmp.pass(), c.id() + " " + e.getKey() + ": " + cmp.detail());
                    System.out.println("golden: java float64 reference vs torch float64, " + c.id() + " " + e.getKey()
                            + ": rel " + Tolerances.fmt(cmp.maxRelErr()));
                }
            } finally {
                arena.release();
            }
        }));
    }

    @TestFactory
    Stream<DynamicNode> everyBackendAgreesWithTheGoldenVectors() {
        return Targets.perBackend("golden files", goldenCases());
    }
}
