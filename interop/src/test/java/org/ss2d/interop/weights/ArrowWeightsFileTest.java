package org.ss2d.interop.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.interop.testing.Fixtures;
import org.ss2d.interop.cases.TensorFiles;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.SS2DRef;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** Weights from an Arrow IPC file (case-file columns): same block as the safetensors checkpoint. */
class ArrowWeightsFileTest {
    @TempDir
    Path dir;

    @Test
    void ss2dCaseFileColumnsLoadAsWeightsAndComputePyTorchsBlock() {
        Path arrow = dir.resolve("ss2d_case.arrow");
        SS2DConfig c = new SS2DConfig(8, 2, 2.0, 1, 3, true); // block 1 of the fixture
        try (BufferAllocator root = new RootAllocator()) {
            TensorScope scope = TensorScope.of("convert", root);
            try (SafeTensorsFile st = SafeTensorsFile.open(Fixtures.resource("safetensors/vmamba_blocks.safetensors"), scope);
                 SafeTensorsFile ex = SafeTensorsFile.open(Fixtures.resource("safetensors/vmamba_blocks_expected.safetensors"), scope)) {
                // A converter's job: checkpoint tensors out as Arrow columns under the prefix-free names.
                Map<String, Tensor> cols = new LinkedHashMap<>();
                cols.put("x", ex.load("x"));
                SS2DWeights w = st.ss2d(c, "layers.0.blocks.1.op.");
                cols.putAll(w.asMap());
                TensorFiles.write(arrow, cols, Map.of("ss2d.kind", "ss2d"), scope.allocator());

                try (ArrowWeightsFile af = ArrowWeightsFile.open(arrow)) {
                    assertEquals(c, Weights.inferSs2dConfig(af, ""));
                    SS2DWeights aw = af.ss2d(c, ""); // the "x" column is ignored, as case-files.md says
                    double[] got = SS2DRef.forward(SS2DRef.Params.of(aw), Doubles.of(af.load("x")), 2, 5, 6);
                    var le = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
                    var want = ex.bytes("ss2d.1");
                    double max = 0, err = 0;
                    for (int i = 0; i < got.length; i++) {
                        double e = want.getAtIndex(le, i);
                        max = Math.max(max, Math.abs(e));
                        err = Math.max(err, Math.abs(got[i] - e));
                    }
                    assertTrue(max > 0.1 && err <= 1e-10 * max, "ss2d from Arrow weights (float64 test forward, "
                            + "f32 weights, x (2, 8, 5, 6)): max err " + err + " of max " + max);
                    // A parameter the config does not want is still an unexpected key.
                    var e = assertThrows(Ss2dArgumentException.class, () -> af.ss2d(c.withConvBias(false), ""));
                    assertEquals("conv2d.bias", e.argument(), e.getMessage());
                    // A wrong shape names the column.
                    var s = assertThrows(Ss2dArgumentException.class, () -> af.ss2d(new SS2DConfig(8, 2, 1.0, 1, 3, true), ""));
                    assertEquals("in_proj.weight", s.argument(), s.getMessage());
                }
            }
            scope.close();
        }
    }
}
