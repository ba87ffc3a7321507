package org.ss2d.interop.cases;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The {@code dtype} option of the block and model kinds as the reader takes it: spelled as the contract spells it,
 * x in float32 (rounded once) or in that dtype, weights in any float dtype but one half dtype per op, outputs in the
 * dtype; the block backward kinds refuse any dtype but float32 instead of running float32. (The numbers are judged
 * against float64 in conformance's {@code HalfCaseFilesTest}.)
 */
class DtypeOptionTest {
    @TempDir
    Path dir;
    private BufferAllocator root;
    private TensorScope scope;

    /** d_model 8, d_state 2, ssm_ratio 1.5 (d_inner 12), dt_rank 1, d_conv 3, conv bias. */
    private static final SS2DConfig CONFIG = new SS2DConfig(8, 2, 1.5, 1, 3, true);

    @BeforeEach
    void open() {
        root = new RootAllocator();
        scope = TensorScope.of("dtype-option-test", root);
    }

    @AfterEach
    void close() {
        scope.close();
        root.close();
    }

    /** A block case: x (1, 8, 3, 5) stored in {@code xType}, the weights in {@code weightType} (in_proj in another when given). */
    private Path blockCase(OpKind kind, String options, DType xType, DType weightType, DType inProjType) {
        Path p = dir.resolve(kind.key() + "-" + Math.abs(options.hashCode()) + xType + weightType + inProjType + ".arrow");
        try (TensorScope w = scope.child("columns")) {
            Map<String, Tensor> params = kind == OpKind.SS2D || kind == OpKind.SS2D_BACKWARD
                    ? RandomWeights.ss2d(w, CONFIG, 5).asMap() : RandomWeights.vss(w, CONFIG, 2.0, 5).asMap();
            Map<String, Tensor> cols = new LinkedHashMap<>();
            for (var e : params.entrySet()) {
                DType t = e.getKey().endsWith("in_proj.weight") && inProjType != null ? inProjType : weightType;
                cols.put(e.getKey(), t == DType.F32 ? e.getValue() : w.convert(e.getValue(), t));
            }
            Tensor x = RandomWeights.gaussian(w, 6, 1.0, 1, 8, 3, 5);
            cols.put("x", xType == DType.F32 ? x : w.convert(x, xType));
            cols.put("dout", RandomWeights.gaussian(w, 7, 1.0, 1, 8, 3, 5));
            CaseFiles.writeCase(p, kind, CaseOptions.parse(options), cols, root);
            w.release();
        }
        return p;
    }

    private Path blockCase(OpKind kind, String options, DType xType) {
        return blockCase(kind, options, xType, DType.F32, null);
    }

    private Ss2dArgumentException rejected(Path p) {
        try (CaseFile f = CaseFile.open(scope, p)) {
            return assertThrows(Ss2dArgumentException.class, () -> CaseRunner.kindOf(f, null).prepare(f));
        }
    }

    @ParameterizedTest(name = "{0} dtype {1}, x in {2}")
    @CsvSource({"SS2D, bfloat16, F32", "SS2D, float16, F16", "VSS_BLOCK, float16, F32", "VSS_BLOCK, bfloat16, BF16"})
    void blockOutputsComeInTheDtypeFromXAsRoundedOnce(OpKind kind, String dtype, DType xType) {
        DType t = DType.byName(dtype);
        Path p = blockCase(kind, "{\"dtype\": \"" + dtype + "\"}", xType);
        try (CaseFile f = CaseFile.open(scope, p)) {
            OpCall call = kind.prepare(f);
            Tensor x = call instanceof OpCalls.Ss2dBlock b ? b.x() : ((OpCalls.VssBlock) call).x();
            assertEquals(t, x.dtype());
            float[] stored = f.tensor("x").toFloatArray(), seen = x.toFloatArray();
            for (int i = 0; i < seen.length; i++) {
                assertEquals(HalfFloats.round(t, stored[i]), seen[i], kind + " " + dtype + " x[" + i + "] rounded once");
            }
            if (xType == t) assertSame(f.tensor("x"), x, "x already in the dtype is used as stored");
            assertEquals(t, call.outputDtype("out"));
            try (CaseRunner.Outcome o = CaseRunner.run(f, kind, Ss2d.on("cpu"), scope)) {
                Tensor out = o.outputs().get("out");
                assertEquals(t, out.dtype(), kind + " " + dtype + " out");
                assertArrayEquals(new long[] {1, 8, 3, 5}, out.shape());
                for (float v : out.toFloatArray()) assertEquals(true, Float.isFinite(v), kind + " " + dtype + " out finite");
            }
        }
    }

    @Test
    void halfWeightsAreWidenedOnceAndFloat32StaysTheDefault() {
        // weights in bfloat16 with the default dtype: widened (exactly), x and out float32
        Path p = blockCase(OpKind.SS2D, "{}", DType.F32, DType.BF16, null);
        try (CaseFile f = CaseFile.open(scope, p)) {
            OpCalls.Ss2dBlock b = (OpCalls.Ss2dBlock) OpKind.SS2D.prepare(f);
            assertEquals(DType.F32, b.dtype());
            assertEquals(DType.F32, b.weights().inProjWeight().dtype());
            assertArrayEquals(f.tensor("in_proj.weight").toFloatArray(), b.weights().inProjWeight().toFloatArray());
            try (CaseRunner.Outcome o = CaseRunner.run(f, OpKind.SS2D, Ss2d.on("reference"), scope)) {
                assertEquals(DType.F32, o.outputs().get("out").dtype());
            }
        }
    }

    @Test
    void aDtypeSpelledOtherwiseIsRejectedByName() {
        assertEquals("options.dtype: expected one of float32, bfloat16, float16 (the activations' dtype), found \"fp16\"",
                rejected(blockCase(OpKind.SS2D, "{\"dtype\": \"fp16\"}", DType.F32)).getMessage());
        assertEquals("options.dtype: expected one of float32, bfloat16, float16 (the activations' dtype), found \"BFloat16\"",
                rejected(blockCase(OpKind.VSS_BLOCK, "{\"dtype\": \"BFloat16\"}", DType.F32)).getMessage());
        assertEquals("options.dtype: expected one of float32, bfloat16, float16 (the activations' dtype), found 16",
                rejected(blockCase(OpKind.SS2D, "{\"dtype\": 16}", DType.F32)).getMessage());
    }

    @Test
    void xInAnotherHalfDtypeIsRejectedNamingX() {
        Ss2dArgumentException e = rejected(blockCase(OpKind.SS2D, "{\"dtype\": \"bfloat16\"}", DType.F16));
        assertEquals("x", e.argument());
        assertEquals("x: expected dtype float32 or bfloat16 (options.dtype is bfloat16), found float16 "
                + "f16(1, 8, 3, 5)@host \"x\"", e.getMessage());
        e = rejected(blockCase(OpKind.VSS_BLOCK, "{}", DType.BF16));
        assertEquals("x: expected dtype float32 (options.dtype is float32, the default), found bfloat16 "
                + "bf16(1, 8, 3, 5)@host \"x\"", e.getMessage());
    }

    @Test
    void twoHalfDtypesAmongTheWeightsAreRejectedNamingTheSecond() {
        Ss2dArgumentException e = rejected(blockCase(OpKind.SS2D, "{\"dtype\": \"float16\"}", DType.F32, DType.F32, DType.BF16));
        assertEquals("in_proj.weight", e.argument());
        assertEquals("in_proj.weight: expected dtype float32 or float16 (one half dtype per op: options.dtype is float16), "
                + "found bfloat16 bf16(12, 8)@host \"in_proj.weight\"", e.getMessage());
        // dtype float32: the first half weight sets the op's half dtype
        e = rejected(blockCase(OpKind.VSS_BLOCK, "{}", DType.F32, DType.BF16, DType.F16));
        assertEquals("op.in_proj.weight", e.argument());
        assertEquals("dtype float32 or bfloat16 (one half dtype per op: norm.weight is bfloat16)", e.expected());
    }

    @ParameterizedTest
    @CsvSource({"SS2D_BACKWARD, bfloat16", "VSS_BLOCK_BACKWARD, float16"})
    void theBlockBackwardKindsRefuseAHalfDtype(OpKind kind, String dtype) {
        Ss2dArgumentException e = rejected(blockCase(kind, "{\"dtype\": \"" + dtype + "\"}", DType.F32));
        assertEquals("options.dtype: expected float32 (" + kind.key() + " has no half precision yet), found \"" + dtype
                + "\"", e.getMessage());
        // float32 spelled out is the default and runs
        try (CaseFile f = CaseFile.open(scope, blockCase(kind, "{\"dtype\": \"float32\"}", DType.F32))) {
            try (CaseRunner.Outcome o = CaseRunner.run(f, kind, Ss2d.on("cpu"), scope)) {
                assertEquals(DType.F32, o.outputs().get("grad.x").dtype());
            }
        }
    }

    @Test
    void vmambaTakesTheDtypeOption() {
        VMambaConfig c = VMambaConfig.named("vmamba_tiny_s1l8").withDims(8, 16, 24, 32).withDepths(1, 1, 1, 1)
                .withNumClasses(5);
        Path p = dir.resolve("vmamba-f16.arrow"), bad = dir.resolve("vmamba-bad.arrow");
        try (TensorScope w = scope.child("vmamba columns")) {
            Map<String, Tensor> cols = new LinkedHashMap<>(VMambaRandomWeights.of(w, c, 3).params());
            cols.put("x", RandomWeights.gaussian(w, 4, 1.0, 1, 3, 32, 32));
            CaseFiles.writeCase(p, OpKind.VMAMBA, CaseOptions.parse("{\"dtype\": \"float16\"}"), cols, root);
            CaseFiles.writeCase(bad, OpKind.VMAMBA, CaseOptions.parse("{\"dtype\": \"half\"}"), cols, root);
            w.release();
        }
        try (CaseFile f = CaseFile.open(scope, p)) {
            ModelCalls.VMamba m = (ModelCalls.VMamba) OpKind.VMAMBA.prepare(f);
            assertEquals(DType.F16, m.dtype());
            assertEquals(DType.F16, m.x().dtype());
            assertEquals(DType.F16, m.outputDtype("logits"));
            try (CaseRunner.Outcome o = CaseRunner.run(f, OpKind.VMAMBA, Ss2d.on("cpu"), scope)) {
                assertEquals(DType.F16, o.outputs().get("logits").dtype());
                assertArrayEquals(new long[] {1, 5}, o.outputs().get("logits").shape());
            }
        }
        assertEquals("options.dtype: expected one of float32, bfloat16, float16 (the activations' dtype), found \"half\"",
                rejected(bad).getMessage());
    }
}
