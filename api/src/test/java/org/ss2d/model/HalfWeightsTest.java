package org.ss2d.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The one rule of what a half dtype converts: matrices, convolution kernels and their biases; never the scan's
 * A_logs, Ds or dt_projs_bias, whose (K, d_inner) shape is rank 2 like a matrix's (the reference keeps all three in
 * float32, as mamba's kernels take A, D and delta_bias).
 */
class HalfWeightsTest {
    private final TensorScope scope = TensorScope.root("half-weights-test");

    @AfterEach
    void close() {
        scope.release();
    }

    /** An SS2D block's parameters by state-dict name under {@code prefix}, each filled with a value bf16 rounds. */
    private Map<String, Tensor> block(String prefix) {
        SS2DConfig c = new SS2DConfig(8, 2, 2.0, 1, 3, true);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (var e : SS2DWeights.expectedShapes(c).entrySet()) {
            m.put(prefix + e.getKey(), scope.allocate(DType.F32, e.getValue()).fill(1.00390625f + 1f / 1024));
        }
        return m;
    }

    @Test
    void theScansParametersStayFloat32InBlocksAndModels() {
        Set<String> scan = Set.of(SS2DWeights.A_LOGS, SS2DWeights.DS, SS2DWeights.DT_B);
        for (String prefix : new String[] {"", "layers.1.blocks.0.op."}) {
            Map<String, Tensor> m = block(prefix);
            for (String name : m.keySet()) {
                String key = name.substring(prefix.length());
                boolean want = !scan.contains(key) && !key.startsWith("out_norm.");
                assertEquals(want, HalfWeights.converted(name, m), "converted(" + name + ") with shape "
                        + java.util.Arrays.toString(m.get(name).shape()));
            }
        }
    }

    @Test
    void roundedKeepsTheCallersDtProjsBias() {
        Map<String, Tensor> m = block("");
        Map<String, Tensor> r = HalfWeights.rounded(scope, m, DType.BF16);
        assertSame(m.get(SS2DWeights.DT_B), r.get(SS2DWeights.DT_B), "dt_projs_bias is used as given");
        assertSame(m.get(SS2DWeights.DS), r.get(SS2DWeights.DS), "Ds is used as given");
        assertSame(m.get(SS2DWeights.A_LOGS), r.get(SS2DWeights.A_LOGS), "A_logs is used as given");
        float before = m.get(SS2DWeights.X_PROJ).toFloatArray()[0], after = r.get(SS2DWeights.X_PROJ).toFloatArray()[0];
        assertNotEquals(before, after, "x_proj_weight is rounded to bfloat16");
    }
}
