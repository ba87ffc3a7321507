package org.ss2d.validate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** Every rejection of the selective-scan and block contracts names the argument, expected and found. */
class ValidatorTest {
    static final Capabilities CAPS = new Capabilities(256, Set.of(DType.F32), false, "test", 0, false, 1);
    final TensorScope s = TensorScope.root("validator");

    @AfterEach
    void close() {
        s.release(); // the inputs belong to the scope, as in an arena
    }

    Tensor t(long... shape) {
        return RandomWeights.gaussian(s, shape.length * 31L + shape[0], 1, shape);
    }

    /** batch 2, dim 8, seqlen 5, dstate 3, B/C grouped with 2 groups. */
    ScanArgs.Builder ok() {
        return ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(8, 3), t(2, 2, 3, 5), t(2, 2, 3, 5));
    }

    void rejects(ScanArgs a, String argument, String... fragments) {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> Validator.selectiveScan(a, CAPS, "cuda"));
        assertEquals(argument, e.argument(), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' not in: " + e.getMessage());
    }

    @Test
    void validCaseYieldsItsShape() {
        ScanShape sh = Validator.selectiveScan(ok().D(t(8)).z(t(2, 8, 5)).deltaBias(t(8)).build(), CAPS, "cuda");
        assertEquals(new ScanShape(2, 8, 5, 3, 2, BCMode.GROUPED, BCMode.GROUPED), sh);
        ScanShape c = Validator.selectiveScan(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(8, 3), t(8, 3), t(2, 3, 5)).build(), CAPS, "cuda");
        assertEquals(new ScanShape(2, 8, 5, 3, 1, BCMode.CONSTANT, BCMode.VARIABLE), c);
    }

    @Test
    void scanRejections() {
        rejects(ScanArgs.builder(null, t(2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build(), "u", "null");
        rejects(ScanArgs.builder(t(8, 5), t(2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build(), "u", "rank 3", "rank 2");
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 6), t(8, 3), t(8, 3), t(8, 3)).build(), "delta", "(2, 8, 5)", "(2, 8, 6)");
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(7, 3), t(8, 3), t(8, 3)).build(), "A", "dim=8", "(7, 3)");
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(8, 3), t(8, 3, 1, 1, 1), t(8, 3)).build(), "B", "rank 2", "rank 5");
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(8, 3), t(8, 4), t(8, 3)).build(), "B", "(8, 3)", "(8, 4)");
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(8, 3), t(2, 3, 5), t(2, 3, 4)).build(), "C", "(2, 3, 5)");
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(8, 3), t(2, 2, 3, 5), t(2, 4, 3, 5)).build(), "C", "groups as B (2)");
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), t(8, 3), t(8, 3), t(2, 2, 3, 5)).build(), "C", "groups as B (1)");
        rejects(ScanArgs.builder(t(2, 9, 5), t(2, 9, 5), t(9, 3), t(2, 2, 3, 5), t(2, 2, 3, 5)).build(), "B", "dividing dim=9");
        rejects(ok().D(t(7)).build(), "D", "(8)", "(7)");
        rejects(ok().deltaBias(t(8, 1)).build(), "delta_bias", "(8)");
        rejects(ok().z(t(2, 8, 4)).build(), "z", "(2, 8, 5)");
    }

    @Test
    void emptyDimensionsAndZeroDstateAreRejected() {
        Tensor empty = s.allocate(DType.F32, 2, 0, 5);
        rejects(ScanArgs.builder(empty, t(2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build(), "u", "dimension 1 is 0");
        Tensor a0 = s.allocate(DType.F32, 8, 0);
        rejects(ScanArgs.builder(t(2, 8, 5), t(2, 8, 5), a0, t(8, 0), t(8, 0)).build(), "A", "dstate >= 1", "dstate=0");
    }

    @Test
    void wrongDtypeIsRejected() {
        // a lone half tensor among float32 activations is the one named
        Tensor half = s.allocate(DType.F16, 2, 8, 5);
        rejects(ScanArgs.builder(half, t(2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build(), "u", "dtype float32", "float16");
    }

    static final Capabilities HALF_CAPS = new Capabilities(256, Set.of(DType.F32, DType.F16, DType.BF16), false, "test",
            0, false, 1);

    Tensor h(DType d, long... shape) {
        return s.convert(t(shape), d);
    }

    void rejectsHalf(ScanArgs a, String argument, String... fragments) {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> Validator.selectiveScan(a, HALF_CAPS, "cpu"));
        assertEquals(argument, e.argument(), e.getMessage());
        assertTrue(!(e instanceof LimitExceededException), "a broken dtype rule is the caller's fault: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' not in: " + e.getMessage());
    }

    @Test
    void halfActivationsWithFloat32ParametersAreValid() {
        for (DType d : new DType[] {DType.F16, DType.BF16}) {
            // variable B, constant C; z, D, delta_bias present
            ScanArgs a = ScanArgs.builder(h(d, 2, 8, 5), h(d, 2, 8, 5), t(8, 3), h(d, 2, 3, 5), t(8, 3))
                    .z(h(d, 2, 8, 5)).D(t(8)).deltaBias(t(8)).build();
            assertEquals(new ScanShape(2, 8, 5, 3, 1, BCMode.VARIABLE, BCMode.CONSTANT), Validator.selectiveScan(a, HALF_CAPS, "cpu"));
            assertEquals(d, a.outDtype());
            assertEquals(DType.F32, ScanArgs.builder(a.u(), a.delta(), a.A(), a.B(), a.C()).outFloat32(true).build().outDtype());
        }
    }

    @Test
    void halfRulesNameTheTensorThatBreaksThem() {
        DType d = DType.BF16;
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), t(2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build(), "u", "float32", "bfloat16");
        rejectsHalf(ScanArgs.builder(t(2, 8, 5), h(d, 2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build(), "delta", "float32");
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), h(d, 2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).z(h(DType.F16, 2, 8, 5)).build(),
                "z", "dtype bfloat16", "float16");
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), h(d, 2, 8, 5), t(8, 3), t(8, 3), t(2, 3, 5)).build(), "C", "dtype bfloat16",
                "float32");
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), h(d, 2, 8, 5), h(d, 8, 3), t(8, 3), t(8, 3)).build(), "A", "float32");
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), h(d, 2, 8, 5), t(8, 3), h(d, 8, 3), t(8, 3)).build(), "B",
                "constant B, C are float32");
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), h(d, 2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).D(h(d, 8)).build(), "D", "float32");
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), h(d, 2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).deltaBias(h(d, 8)).build(),
                "delta_bias", "float32");
        rejectsHalf(ScanArgs.builder(h(d, 2, 8, 5), h(DType.F16, 2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build(), "u", "float32");
    }

    @Test
    void aHalfInputDtypeTheBackendLacksIsItsLimit() {
        ScanArgs a = ScanArgs.builder(h(DType.F16, 2, 8, 5), h(DType.F16, 2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build();
        LimitExceededException e = assertThrows(LimitExceededException.class, () -> Validator.selectiveScan(a, CAPS, "cuda"));
        assertEquals("u", e.argument());
        assertTrue(e.getMessage().contains("float16") && e.getMessage().contains("CUDA"), e.getMessage());
    }

    @Test
    void theBackwardOfAHalfScanIsALimitNotAWrongAnswer() {
        ScanArgs a = ScanArgs.builder(h(DType.BF16, 2, 8, 5), h(DType.BF16, 2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build();
        LimitExceededException e = assertThrows(LimitExceededException.class,
                () -> Validator.selectiveScanBackward(a, h(DType.BF16, 2, 8, 5), null, HALF_CAPS, "cpu"));
        assertEquals("u", e.argument());
        assertTrue(e.getMessage().contains("backward") && e.getMessage().contains("bfloat16"), e.getMessage());
    }

    @Test
    void halfOutputOfTheWrongDtypeIsRejected() {
        Tensor u = h(DType.BF16, 2, 8, 5);
        Validator.output("out", s.allocate(DType.BF16, 2, 8, 5), u, "the inputs", DType.BF16, 2, 8, 5);
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class,
                () -> Validator.output("out", s.allocate(DType.F32, 2, 8, 5), u, "the inputs", DType.BF16, 2, 8, 5));
        assertTrue(e.getMessage().contains("bf16(2, 8, 5)"), e.getMessage());
    }

    @Test
    void dstateOverTheLimitIsALimitError() {
        ScanArgs a = ScanArgs.builder(t(1, 2, 3), t(1, 2, 3), t(2, 300), t(1, 300, 3), t(1, 300, 3)).build();
        LimitExceededException e = assertThrows(LimitExceededException.class, () -> Validator.selectiveScan(a, CAPS, "cuda"));
        assertEquals("A: dstate=300 exceeds the CUDA backend's MAX_DSTATE=256", e.getMessage());
    }

    @Test
    void closedTensorIsAStateErrorNotACrash() {
        Tensor u = t(2, 8, 5);
        u.close();
        ScanArgs a = ScanArgs.builder(u, t(2, 8, 5), t(8, 3), t(8, 3), t(8, 3)).build();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Validator.selectiveScan(a, CAPS, "cpu"));
        assertTrue(e.getMessage().contains("used after it was closed"), e.getMessage());
    }

    @Test
    void crossOpRejections() {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> Validator.crossScan(t(2, 3, 4), CAPS));
        assertEquals("x", e.argument());
        e = assertThrows(Ss2dArgumentException.class, () -> Validator.crossMerge(t(1, 3, 2, 12), 3, 4, CAPS));
        assertTrue(e.getMessage().contains("4 routes"), e.getMessage());
        e = assertThrows(Ss2dArgumentException.class, () -> Validator.crossMerge(t(1, 4, 2, 12), 3, 5, CAPS));
        assertTrue(e.getMessage().contains("H*W = 3*5 = 15"), e.getMessage());
        e = assertThrows(Ss2dArgumentException.class, () -> Validator.crossMerge(t(1, 4, 2, 12), 0, 5, CAPS));
        assertEquals("H", e.argument());
    }

    @Test
    void configRejectionsIncludingNaN() {
        Function<SS2DConfig, String> arg = c -> assertThrows(Ss2dArgumentException.class, () -> Validator.ss2dConfig(c)).argument();
        assertEquals("ssm_ratio", arg.apply(new SS2DConfig(8, 1, Double.NaN, 1, 3, false)));
        assertEquals("ssm_ratio", arg.apply(new SS2DConfig(8, 1, Double.POSITIVE_INFINITY, 1, 3, false)));
        assertEquals("ssm_ratio", arg.apply(new SS2DConfig(8, 1, 0.05, 1, 3, false)));
        assertEquals("d_state", arg.apply(new SS2DConfig(8, 0, 1, 1, 3, false)));
        assertEquals("d_conv", arg.apply(new SS2DConfig(8, 1, 1, 1, 4, false)));
        assertEquals("d_model", arg.apply(new SS2DConfig(0, 1, 1, 1, 3, false)));
    }

    @Test
    void weightRejections() {
        SS2DConfig c = SS2DConfig.of(8, 2, 1.0);
        SS2DWeights w = RandomWeights.ss2d(s, c, 7);
        Tensor x = t(1, 8, 3, 4);
        Validator.ss2d(w, x, CAPS, "cpu");
        // wrong shape
        Map<String, Tensor> dict = new HashMap<>(w.asMap());
        dict.put(SS2DWeights.DS, t(31));
        SS2DWeights bad = SS2DWeights.fromStateDict(c, dict, "");
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> Validator.ss2d(bad, x, CAPS, "cpu"));
        assertEquals("Ds", e.argument());
        assertTrue(e.getMessage().contains("(32)") && e.getMessage().contains("(31)"), e.getMessage());
        // missing and unexpected keys
        Map<String, Tensor> missing = new HashMap<>(w.asMap());
        missing.remove(SS2DWeights.A_LOGS);
        e = assertThrows(Ss2dArgumentException.class, () -> SS2DWeights.fromStateDict(c, missing, ""));
        assertEquals("A_logs", e.argument());
        Map<String, Tensor> extra = new HashMap<>(w.asMap());
        extra.put("conv2d.bias", t(8));
        e = assertThrows(Ss2dArgumentException.class, () -> SS2DWeights.fromStateDict(c, extra, ""));
        assertEquals("conv2d.bias", e.argument());
        // x with the wrong channel count
        e = assertThrows(Ss2dArgumentException.class, () -> Validator.ss2d(w, t(1, 7, 3, 4), CAPS, "cpu"));
        assertTrue(e.getMessage().contains("d_model=8"), e.getMessage());
    }
}
