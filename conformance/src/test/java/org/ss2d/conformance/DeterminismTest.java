package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.conformance.cases.BlockCase;
import org.ss2d.conformance.cases.Catalog;
import org.ss2d.conformance.cases.ConformanceCase;
import org.ss2d.conformance.cases.ScanCase;
import org.ss2d.model.SS2DConfig;
import org.ss2d.ops.BCMode;

/**
 * The same backend on the same input twice gives the same bits. Forward passes have no atomics and no
 * data-dependent scheduling, and the scan backward sums its reduced gradients in a fixed order on every backend
 * (no atomics), so every backend must be bitwise reproducible run to run.
 */
class DeterminismTest {
    /** The backward case files written below. */
    @org.junit.jupiter.api.AfterAll
    static void cleanUp() throws java.io.IOException {
        BackwardConformanceTest.cleanUp();
    }

    static List<ConformanceCase> cases() {
        List<ConformanceCase> c = new ArrayList<>(Catalog.smoke());
        c.add(new ScanCase(2, 8, 2049, 16, 4, BCMode.GROUPED, BCMode.GROUPED, true, true, true, true, true,
                ScanCase.Inputs.NORMAL, 7001));
        c.add(BlockCase.ss2d(SS2DConfig.of(96, 1, 1.0), 1, 14, 14, 7002));
        // the scan backward's reduced gradients (dA, dD, delta_bias, grouped and constant dB/dC) on every backend
        // that has it; one without a backward refuses both times
        BackwardConformanceTest.cases(); // makes the case directory
        c.add(new org.ss2d.conformance.cases.FileCase(BackwardConformanceTest.write(BCMode.GROUPED, BCMode.GROUPED, 31, 7003)));
        c.add(new org.ss2d.conformance.cases.FileCase(BackwardConformanceTest.write(BCMode.CONSTANT, BCMode.VARIABLE, 29, 7004)));
        return c;
    }

    @TestFactory
    Stream<DynamicTest> bitwiseRepeatable() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String b : Targets.available()) {
            for (ConformanceCase c : cases()) {
                tests.add(DynamicTest.dynamicTest("[" + b + "] twice, same bits: " + Targets.displayName(c, b), () -> {
                    CaseExecutor.Outcome first = Targets.EXEC.execute(c, b), second = Targets.EXEC.execute(c, b);
                    assertTrue(first.result().status().ok(), first.result().describe());
                    if (first.actual() == null) return; // rejected over a limit both times
                    for (Map.Entry<String, float[]> e : first.actual().entrySet()) {
                        float[] x = e.getValue(), y = second.actual().get(e.getKey());
                        assertEquals(x.length, y.length);
                        for (int i = 0; i < x.length; i++) {
                            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) {
                                throw new AssertionError("[" + b + "] " + c.op().key() + " f32 " + c.shape() + " " + e.getKey()
                                        + "[" + i + "]: " + x[i] + " then " + y[i]);
                            }
                        }
                    }
                }));
            }
        }
        return tests.stream();
    }
}
