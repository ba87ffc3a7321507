package org.ss2d.interop.cases;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.ss2d.Ss2d;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The {@code preprocess_image} and {@code vmamba} kinds through the one case-file stack: torchvision's
 * tensor for the first, VMamba's own fp32 output (the golden files of {@code conformance/vmamba-golden})
 * for the second, on the float64 reference and the CPU backend.
 */
class ModelCaseKindsTest {
    static final Path IMAGES = Path.of("src/test/resources/images");
    static final Path VMAMBA = Path.of("../conformance/vmamba-golden");

    @ParameterizedTest
    @ValueSource(strings = {"case_preprocess_options.arrow", "case_preprocess_defaults_small.arrow"})
    void preprocessImageGivesTorchvisionsTensor(String name) {
        try (TensorScope scope = TensorScope.root("preprocess-case"); CaseFile f = CaseFile.open(scope, IMAGES.resolve(name))) {
            OpKind kind = CaseRunner.kindOf(f, null);
            assertEquals(OpKind.PREPROCESS_IMAGE, kind);
            try (CaseRunner.Outcome o = CaseRunner.run(f, kind, Ss2d.auto(), scope)) {
                Tensor x = o.outputs().get("x");
                assertArrayEquals(f.shape("x"), x.shape(), name);
                double[] want = f.doubles("x");
                float[] got = x.toFloatArray();
                for (int i = 0; i < got.length; i++) assertEquals((float) want[i], got[i], name + " at " + i);
                assertEquals("host", o.backend());
            }
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({"small_v05_s1_pe2_ds3.arrow, reference, 1e-5", "small_v0_pe1_ds1.arrow, reference, 1e-5",
            "small_v05_features.arrow, reference, 1e-5", "small_v0_features.arrow, cpu, 2e-4",
            "small_v05_s2_pe1_ds2.arrow, cpu, 2e-4"})
    void vmambaCasesMatchVMambasOwnOutput(String name, String backend, double budget) {
        try (TensorScope scope = TensorScope.root("vmamba-case"); CaseFile f = CaseFile.open(scope, VMAMBA.resolve(name))) {
            try (CaseRunner.Outcome o = CaseRunner.run(f, CaseRunner.kindOf(f, null), Ss2d.on(backend), scope)) {
                assertEquals(backend, o.backend(), name);
                assertTrue(!o.outputs().isEmpty(), name);
                for (var e : o.outputs().entrySet()) {
                    double[] want = f.doubles(e.getKey());
                    float[] got = e.getValue().toFloatArray();
                    assertEquals(want.length, got.length, name + " " + e.getKey());
                    double max = 0, err = 0;
                    for (int i = 0; i < got.length; i++) {
                        assertTrue(Float.isFinite(got[i]), name + " " + e.getKey() + "[" + i + "] on " + backend);
                        max = Math.max(max, Math.abs(want[i]));
                        err = Math.max(err, Math.abs(got[i] - want[i]));
                    }
                    assertTrue(err <= budget * max, name + " " + e.getKey() + " on " + backend + ": max err "
                            + err + " > " + budget + " x max |expected| " + max);
                }
            }
        }
    }

    @Test
    void vmambaOptionsMustAgreeWithTheShapes() {
        try (TensorScope scope = TensorScope.root("vmamba-options"); CaseFile f = CaseFile.open(scope, VMAMBA.resolve("small_v0_pe1_ds1.arrow"))) {
            var inferred = ModelCalls.VMamba.of(f).weights().config();
            assertEquals(4, inferred.dState());
            ModelCalls.checkOptions(f.options(), inferred, false);     // the file's own options agree
            assertMessage("options.variant", () -> ModelCalls.checkOptions(CaseOptions.parse("{\"variant\": \"vanilla_vmamba_tiny\"}"), inferred, false));
            assertMessage("options.d_state", () -> ModelCalls.checkOptions(CaseOptions.parse("{\"d_state\": 16}"), inferred, false));
            assertMessage("options.dims", () -> ModelCalls.checkOptions(CaseOptions.parse("{\"dims\": [8, 16, 32, 65]}"), inferred, false));
            assertMessage("options.forward_type", () -> ModelCalls.checkOptions(CaseOptions.parse("{\"forward_type\": \"v05_noz\"}"), inferred, false));
            assertMessage("options.downsample", () -> ModelCalls.checkOptions(CaseOptions.parse("{\"downsample\": \"v3\"}"), inferred, false));
            ModelCalls.checkOptions(CaseOptions.parse("{\"dims\": 8, \"ssm_ratio\": 2.0, \"mlp_ratio\": 0}"), inferred, false);
            assertMessage("model", () -> ModelCalls.checkOptions(CaseOptions.parse("{\"variant\": \"vmamba_huge\"}"), inferred, false));
        }
    }

    private static void assertMessage(String argument, org.junit.jupiter.api.function.Executable r) {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, r);
        assertTrue(e.getMessage().startsWith(argument + ": "), e.getMessage());
    }
}
