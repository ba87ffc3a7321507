package org.ss2d.interop.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseFiles;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.CaseRunner;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.ConfigInference;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * A checkpoint and a case file with the same shapes give the same config. d_model 112 with d_inner
 * 230 was accepted from a case file but rejected from a checkpoint, because 230 / 112 * 112 rounds
 * below 230 and the checkpoint path had its own inference without the step up.
 */
class ConfigInferenceAgreementTest {
    @TempDir
    Path dir;

    @Test
    void dModel112WithDInner230LoadsFromACheckpointAsFromACaseFile() {
        SS2DConfig written = new SS2DConfig(112, 2, 230.5 / 112, 7, 3, false);
        assertEquals(230, written.dInner());
        Path p = dir.resolve("odd_ratio.arrow");
        try (BufferAllocator root = new RootAllocator(); TensorScope scope = TensorScope.of("t", root)) {
            try (TensorScope w = scope.child("weights")) {
                Map<String, Tensor> cols = new LinkedHashMap<>(RandomWeights.ss2d(w, written, 3).asMap());
                cols.put("x", RandomWeights.gaussian(w, 4, 1.0, 1, 112, 2, 3));
                CaseFiles.writeCase(p, OpKind.SS2D, CaseOptions.empty(), cols, root);
                w.release();
            }
            SS2DConfig fromCheckpoint;
            try (ArrowWeightsFile af = ArrowWeightsFile.open(p)) {
                fromCheckpoint = Weights.inferSs2dConfig(af, "");
                assertEquals(230, fromCheckpoint.dInner());
                af.ss2d(fromCheckpoint, ""); // the names and shapes load under the inferred config
            }
            try (CaseFile f = CaseFile.open(scope, p)) {
                assertEquals(fromCheckpoint, ConfigInference.ss2d(f::shapeIfPresent, ""));
                try (CaseRunner.Outcome o = CaseRunner.run(f, OpKind.SS2D, Ss2d.on("reference"), scope)) {
                    assertArrayEquals(new long[] {1, 112, 2, 3}, o.outputs().get("out").shape());
                }
            }
        }
    }
}
