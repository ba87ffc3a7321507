package org.ss2d.interop.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ss2d.Ss2d;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.interop.testing.Fixtures;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Weights memory-mapped from the PyTorch checkpoint go straight into the engine's backends (no copy)
 * and give PyTorch's float64 outputs within float32 rounding.
 */
class BackendsOnCheckpointWeightsTest {
    /** float32 compute against a float64 expectation, relative to the output's max magnitude. */
    private static final double TOL = 1e-5;

    @ParameterizedTest(name = "backend {0}")
    @ValueSource(strings = {"reference", "cpu"})
    void ss2dAndVssFromMappedWeights(String backend) {
        try (TensorScope scope = TensorScope.root("test " + backend);
             SafeTensorsFile f = SafeTensorsFile.open(Fixtures.resource("safetensors/vmamba_blocks.safetensors"), scope);
             SafeTensorsFile ex = SafeTensorsFile.open(Fixtures.resource("safetensors/vmamba_blocks_expected.safetensors"), scope)) {
            Ss2d ss = Ss2d.on(backend);
            Tensor x = ex.load("x");
            SS2DConfig c1 = Weights.inferSs2dConfig(f, "layers.0.blocks.1.op.");
            SS2DWeights w = f.ss2d(c1, "layers.0.blocks.1.op.");
            try (Tensor out = ss.ss2d(scope, w, x)) {
                check(backend, "ss2d block 1 " + c1, out, ex, "ss2d.1");
            }
            SS2DConfig c0 = Weights.inferSs2dConfig(f, "layers.0.blocks.0.op.");
            VSSWeights v = f.vss(c0, 4.0, "layers.0.blocks.0.");
            try (Tensor out = ss.vssBlock(scope, v, x)) {
                check(backend, "vss block 0 " + c0, out, ex, "vss.0");
            }
            assertEquals(backend, ss.lastBackend().name());
        }
    }

    private static void check(String backend, String what, Tensor out, SafeTensorsFile ex, String key) {
        var want = ex.bytes(key);
        var le = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        assertEquals(want.byteSize() / 8, out.elementCount(), what);
        double max = 0;
        for (long i = 0; i < out.elementCount(); i++) max = Math.max(max, Math.abs(want.getAtIndex(le, i)));
        assertTrue(max > 0.1, what + ": expectation not degenerate");
        for (long i = 0; i < out.elementCount(); i++) {
            double e = want.getAtIndex(le, i), g = out.getFloat(i);
            if (!(Math.abs(g - e) <= TOL * max)) {
                fail("backend " + backend + ", f32, " + what + " " + out.describe() + ": element " + i + " is " + g
                        + ", PyTorch float64 gives " + e + " (tol " + TOL + " x " + max + ")");
            }
        }
    }
}
