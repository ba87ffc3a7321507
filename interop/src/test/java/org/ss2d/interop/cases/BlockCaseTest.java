package org.ss2d.interop.cases;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** SS2D and VSS cases: the config comes from the weight shapes; options, when given, must agree. */
class BlockCaseTest {
    @TempDir
    Path dir;
    private BufferAllocator root;
    private TensorScope scope;

    @BeforeEach
    void open() {
        root = new RootAllocator();
        scope = TensorScope.of("block-case-test", root);
    }

    @AfterEach
    void close() {
        scope.close();
        root.close();
    }

    /** d_model 8, d_state 2, ssm_ratio 1.5 (d_inner 12), dt_rank 1 (auto), d_conv 3, conv bias. */
    private static final SS2DConfig CONFIG = new SS2DConfig(8, 2, 1.5, 1, 3, true);

    private Path ss2dCase(String name, Map<String, Object> options) {
        Path p = dir.resolve(name);
        try (TensorScope w = scope.child("weights")) {
            SS2DWeights weights = RandomWeights.ss2d(w, CONFIG, 5);
            Map<String, Tensor> cols = new LinkedHashMap<>(weights.asMap());
            cols.put("x", RandomWeights.gaussian(w, 6, 1.0, 2, 8, 3, 5));
            CaseFiles.writeCase(p, OpKind.SS2D, CaseOptions.of(options), cols, root);
            w.release();
        }
        return p;
    }

    private CaseRunner.Outcome run(Path p) {
        try (CaseFile f = CaseFile.open(scope, p)) {
            return CaseRunner.run(f, CaseRunner.kindOf(f, null), Ss2d.on("reference"), scope);
        }
    }

    @Test
    void ss2dConfigIsDerivedFromShapes() {
        Map<String, Object> opts = new HashMap<>(Map.of("d_state", 2, "dt_rank", "auto", "ssm_ratio", 1.5, "d_conv", 3,
                "conv_bias", true));
        try (CaseRunner.Outcome o = run(ss2dCase("s.arrow", opts))) {
            assertArrayEquals(new long[] {2, 8, 3, 5}, o.outputs().get("out").shape());
        }
        try (CaseRunner.Outcome o = run(ss2dCase("bare.arrow", Map.of()))) {
            assertArrayEquals(new long[] {2, 8, 3, 5}, o.outputs().get("out").shape());
        }
    }

    @Test
    void optionsThatDisagreeWithTheShapesAreNamed() {
        assertDisagrees(Map.of("d_state", 4), "options.d_state", "A_logs");
        assertDisagrees(Map.of("dt_rank", 3), "options.dt_rank", "dt_projs_weight");
        assertDisagrees(Map.of("ssm_ratio", 2.0), "options.ssm_ratio", "in_proj.weight");
        assertDisagrees(Map.of("d_conv", 5), "options.d_conv", "conv2d.weight");
        assertDisagrees(Map.of("conv_bias", false), "options.conv_bias", "conv2d.bias");
        assertDisagrees(Map.of("dt_rank", "big"), "options.dt_rank", "auto");
    }

    private void assertDisagrees(Map<String, Object> options, String argument, String detail) {
        Path p = ss2dCase("bad.arrow", options);
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> run(p).close());
        assertEquals(argument, e.argument(), e.getMessage());
        assertTrue(e.getMessage().contains(detail), e.getMessage());
    }

    @Test
    void vssBlockIsBuiltFromPrefixedNames() {
        SS2DConfig c = SS2DConfig.of(16, 1, 1.0);
        Path p = dir.resolve("vss.arrow");
        try (TensorScope w = scope.child("weights")) {
            VSSWeights weights = RandomWeights.vss(w, c, 2.5, 7);
            Map<String, Tensor> cols = new LinkedHashMap<>(weights.asMap());
            cols.put("x", RandomWeights.gaussian(w, 8, 1.0, 1, 16, 4, 4));
            CaseFiles.writeCase(p, OpKind.VSS_BLOCK, CaseOptions.of(Map.of("mlp_ratio", 2.5, "d_state", 1)), cols, root);
            w.release();
        }
        try (CaseRunner.Outcome o = run(p)) {
            assertArrayEquals(new long[] {1, 16, 4, 4}, o.outputs().get("out").shape());
            assertEquals("vss_block", o.metadata().get("ss2d.kind"));
        }
    }

    @Test
    void aWeightOfTheWrongShapeIsNamed() {
        Path p = dir.resolve("shape.arrow");
        try (TensorScope w = scope.child("weights")) {
            SS2DWeights weights = RandomWeights.ss2d(w, CONFIG, 5);
            Map<String, Tensor> cols = new LinkedHashMap<>(weights.asMap());
            cols.put(SS2DWeights.DS, RandomWeights.gaussian(w, 1, 1.0, 47)); // 4*d_inner = 48 expected
            cols.put("x", RandomWeights.gaussian(w, 6, 1.0, 1, 8, 3, 3));
            CaseFiles.writeCase(p, OpKind.SS2D, CaseOptions.empty(), cols, root);
            w.release();
        }
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> run(p).close());
        assertEquals("Ds", e.argument(), e.getMessage());
        assertTrue(e.getMessage().contains("(48)") && e.getMessage().contains("(47)"), e.getMessage());
    }
}
