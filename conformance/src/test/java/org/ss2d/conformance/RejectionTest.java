package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.Ss2dArgumentException;
import org.ss2d.validate.Validator;

/**
 * Bad input on every backend under test: each rejection of spec section 3 that applies to us, and the
 * project's own (missing tensors, ranks, groups, dstate 0, empty dimensions, bad configs, closed
 * tensors, unknown backend). Each must throw {@link Ss2dArgumentException} naming the argument,
 * before any backend code runs; none may crash or leak (the arena closes clean).
 */
class RejectionTest {
    /** A bad call: the argument the error must name, and the call itself (scope, facade). */
    record Bad(String name, String argument, BiConsumer<TensorScope, Ss2d> call) {}

    static Bad scan(String name, String argument, ScanBuilder b) {
        return new Bad(name + ": " + b, argument, (scope, ss) -> ss.selectiveScan(scope, b.build(scope)));
    }

    static ScanBuilder ok() {
        return ScanBuilder.valid(2, 4, 8, 3, 2);
    }

    /** A valid call on {@code dtype} activations (u, delta, z, grouped B and C). */
    static ScanBuilder half(DType dtype) {
        ScanBuilder b = ok();
        for (String n : new String[] {"u", "delta", "z", "B", "C"}) b.dtype(n, dtype);
        return b;
    }

    static List<Bad> cases() {
        List<Bad> c = new ArrayList<>();
        // spec 3.1 checks 1-4 and mamba's half rules: u, delta, z, variable B/C share one dtype (float32, float16,
        // bfloat16); A, D, delta_bias, constant B/C are float32; a lone half tensor is the one named
        c.add(scan("u alone in float16", "u", ok().dtype("u", DType.F16)));
        c.add(scan("A in bfloat16", "A", ok().dtype("A", DType.BF16)));
        c.add(scan("A in bfloat16 with bfloat16 activations", "A", half(DType.BF16).dtype("A", DType.BF16)));
        c.add(scan("D in float16 with float16 activations", "D", half(DType.F16).dtype("D", DType.F16)));
        c.add(scan("delta_bias in bfloat16 with bfloat16 activations", "delta_bias",
                half(DType.BF16).dtype("delta_bias", DType.BF16)));
        c.add(scan("grouped C in float32 with bfloat16 activations", "C", half(DType.BF16).dtype("C", DType.F32)));
        c.add(scan("z in float16 with bfloat16 activations", "z", half(DType.BF16).dtype("z", DType.F16)));
        c.add(scan("delta in bfloat16 with float16 u", "u", half(DType.F16).dtype("delta", DType.BF16)));
        c.add(scan("constant B in float16", "B", ok().dtype("u", DType.F16).dtype("delta", DType.F16).dtype("z", DType.F16)
                .shape("B", 4, 3).dtype("B", DType.F16).shape("C", 4, 3)));
        c.add(scan("delta dtype differs from u", "delta", ok().dtype("delta", DType.F16)));
        c.add(scan("B dtype", "B", ok().dtype("B", DType.F16)));
        c.add(scan("C dtype", "C", ok().dtype("C", DType.F16)));
        // 3.1 check 8: shapes of u, delta, A
        c.add(scan("u missing", "u", ok().without("u")));
        c.add(scan("u of rank 2", "u", ok().shape("u", 4, 8)));
        c.add(scan("u of rank 4", "u", ok().shape("u", 2, 4, 8, 1)));
        c.add(scan("delta missing", "delta", ok().without("delta")));
        c.add(scan("delta seqlen differs", "delta", ok().shape("delta", 2, 4, 7)));
        c.add(scan("A missing", "A", ok().without("A")));
        c.add(scan("A rows differ from dim", "A", ok().shape("A", 5, 3)));
        c.add(scan("A of rank 1", "A", ok().shape("A", 4)));
        c.add(scan("dstate 0", "A", ok().shape("A", 4, 0).shape("B", 2, 2, 0, 8).shape("C", 2, 2, 0, 8)));
        // 3.1 checks 9-10: B and C shapes, all three layouts
        c.add(scan("B missing", "B", ok().without("B")));
        c.add(scan("C missing", "C", ok().without("C")));
        c.add(scan("constant B of the wrong dstate", "B", ok().shape("B", 4, 2).shape("C", 4, 3)));
        c.add(scan("variable B of the wrong seqlen", "B", ok().shape("B", 2, 3, 7).shape("C", 2, 3, 8)));
        c.add(scan("grouped C of the wrong dstate", "C", ok().shape("C", 2, 2, 4, 8)));
        c.add(scan("B of rank 5", "B", ok().shape("B", 2, 1, 2, 3, 8)));
        c.add(scan("B of rank 1", "B", ok().shape("B", 3)));
        c.add(scan("grouped B with 0 groups", "B", ok().shape("B", 2, 0, 3, 8)));
        // groups (mamba lacks the check; VMamba and we have it)
        c.add(scan("B and C group counts differ", "C", ok().shape("C", 2, 1, 3, 8)));
        c.add(scan("constant B with grouped C of 2 groups", "C", ok().shape("B", 4, 3)));
        c.add(scan("groups not dividing dim", "B", ok().shape("B", 2, 3, 3, 8).shape("C", 2, 3, 3, 8)));
        // 3.1 checks 11-12: D, delta_bias, z
        c.add(scan("D of the wrong length", "D", ok().shape("D", 5)));
        c.add(scan("D of rank 2", "D", ok().shape("D", 4, 1)));
        c.add(scan("D dtype", "D", ok().dtype("D", DType.F16)));
        c.add(scan("delta_bias of the wrong length", "delta_bias", ok().shape("delta_bias", 3)));
        c.add(scan("delta_bias dtype", "delta_bias", ok().dtype("delta_bias", DType.F16)));
        c.add(scan("z of the wrong shape", "z", ok().shape("z", 2, 4, 9)));
        c.add(scan("z dtype differs from u", "z", ok().dtype("z", DType.F16)));
        // 3.1 check 5 (is_cuda): every tensor on u's device
        c.add(new Bad("B on another device than u", "B", (scope, ss) -> {
            ScanArgs a = ok().build(scope);
            Tensor elsewhere = Tensor.device(scope, DType.F32, a.B().shape(), new ElsewhereMemory(a.B().byteSize()));
            ss.selectiveScan(scope, new ScanArgs(a.u(), a.delta(), a.A(), elsewhere, a.C(), a.D(), a.z(), a.deltaBias(),
                    true, true));
        }));
        // empty dimensions
        c.add(scan("empty batch", "u", ScanBuilder.valid(0, 4, 8, 3, 2)));
        c.add(scan("empty seqlen", "u", ScanBuilder.valid(2, 4, 0, 3, 2)));
        c.add(scan("empty dim", "u", ScanBuilder.valid(2, 0, 8, 3, 1)));
        // outputs handed in
        c.add(new Bad("last_state given though return_last_state is false", "last_state", (scope, ss) -> {
            ScanBuilder b = ok();
            b.lastState = false;
            ScanArgs a = b.build(scope);
            ss.selectiveScanInto(a, scope.allocate(DType.F32, 2, 4, 8), scope.allocate(DType.F32, 2, 4, 3));
        }));
        c.add(new Bad("out of the wrong shape", "out", (scope, ss) ->
                ss.selectiveScanInto(ok().build(scope), scope.allocate(DType.F32, 2, 4, 9), scope.allocate(DType.F32, 2, 4, 3))));
        c.add(new Bad("missing out", "out", (scope, ss) -> ss.selectiveScanInto(ok().build(scope), null,
                scope.allocate(DType.F32, 2, 4, 3))));
        // cross scan / merge
        c.add(new Bad("cross_scan x of rank 3", "x", (scope, ss) -> ss.crossScan(scope, scope.allocate(DType.F32, 2, 3, 4))));
        c.add(new Bad("cross_scan x with an empty axis", "x", (scope, ss) -> ss.crossScan(scope, scope.allocate(DType.F32, 1, 2, 0, 3))));
        c.add(new Bad("cross_scan x missing", "x", (scope, ss) -> ss.crossScan(scope, null)));
        c.add(new Bad("cross_merge ys with 3 routes", "ys", (scope, ss) -> ss.crossMerge(scope, scope.allocate(DType.F32, 1, 3, 2, 12), 3, 4)));
        c.add(new Bad("cross_merge ys not H*W long", "ys", (scope, ss) -> ss.crossMerge(scope, scope.allocate(DType.F32, 1, 4, 2, 12), 3, 5)));
        c.add(new Bad("cross_merge H of 0", "H", (scope, ss) -> ss.crossMerge(scope, scope.allocate(DType.F32, 1, 4, 2, 12), 0, 12)));
        c.add(new Bad("cross_merge out of rank 3", "out", (scope, ss) -> ss.crossMergeInto(scope.allocate(DType.F32, 1, 4, 2, 12),
                scope.allocate(DType.F32, 1, 2, 12))));
        // SS2D / VSS
        c.add(new Bad("ss2d x with the wrong channel count", "x", (scope, ss) ->
                ss.ss2d(scope, RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1), scope.allocate(DType.F32, 1, 6, 3, 3))));
        c.add(new Bad("ss2d x of rank 3", "x", (scope, ss) ->
                ss.ss2d(scope, RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1), scope.allocate(DType.F32, 8, 3, 3))));
        c.add(new Bad("ss2d x with an empty grid", "x", (scope, ss) ->
                ss.ss2d(scope, RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1), scope.allocate(DType.F32, 1, 8, 0, 3))));
        c.add(new Bad("ss2d weight missing", SS2DWeights.CONV_W, (scope, ss) -> {
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1);
            ss.ss2d(scope, new SS2DWeights(w.config(), w.inProjWeight(), null, null, w.xProjWeight(), w.dtProjsWeight(),
                    w.dtProjsBias(), w.aLogs(), w.ds(), w.outNormWeight(), w.outNormBias(), w.outProjWeight()),
                    scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("ss2d x_proj of the wrong shape", SS2DWeights.X_PROJ, (scope, ss) -> {
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1);
            ss.ss2d(scope, new SS2DWeights(w.config(), w.inProjWeight(), w.conv2dWeight(), null,
                    scope.allocate(DType.F32, 4, 2, 8), w.dtProjsWeight(), w.dtProjsBias(), w.aLogs(), w.ds(),
                    w.outNormWeight(), w.outNormBias(), w.outProjWeight()), scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("ss2d conv bias present though conv_bias is false", SS2DWeights.CONV_B, (scope, ss) -> {
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1);
            ss.ss2d(scope, new SS2DWeights(w.config(), w.inProjWeight(), w.conv2dWeight(), scope.allocate(DType.F32, 8),
                    w.xProjWeight(), w.dtProjsWeight(), w.dtProjsBias(), w.aLogs(), w.ds(), w.outNormWeight(),
                    w.outNormBias(), w.outProjWeight()), scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("ss2d ssm_ratio NaN", "ssm_ratio", (scope, ss) -> {
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1);
            ss.ss2d(scope, withConfig(w, new SS2DConfig(8, 1, Double.NaN, 1, 3, false)), scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("ss2d ssm_ratio infinite", "ssm_ratio", (scope, ss) -> {
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1);
            ss.ss2d(scope, withConfig(w, new SS2DConfig(8, 1, Double.POSITIVE_INFINITY, 1, 3, false)),
                    scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("ss2d even d_conv", "d_conv", (scope, ss) -> {
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1);
            ss.ss2d(scope, withConfig(w, new SS2DConfig(8, 1, 1.0, 1, 2, false)), scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("ss2d d_state 0", "d_state", (scope, ss) -> {
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 1, 1.0), 1);
            ss.ss2d(scope, withConfig(w, new SS2DConfig(8, 0, 1.0, 1, 3, false)), scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("vss mlp_ratio NaN", "mlp_ratio", (scope, ss) -> {
            VSSWeights w = RandomWeights.vss(scope, SS2DConfig.of(8, 1, 1.0), 4.0, 1);
            ss.vssBlock(scope, new VSSWeights(w.op(), Double.NaN, w.normWeight(), w.normBias(), w.norm2Weight(),
                    w.norm2Bias(), w.fc1Weight(), w.fc1Bias(), w.fc2Weight(), w.fc2Bias()), scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        c.add(new Bad("vss fc1 of the wrong shape", VSSWeights.FC1_W, (scope, ss) -> {
            VSSWeights w = RandomWeights.vss(scope, SS2DConfig.of(8, 1, 1.0), 4.0, 1);
            ss.vssBlock(scope, new VSSWeights(w.op(), 4.0, w.normWeight(), w.normBias(), w.norm2Weight(), w.norm2Bias(),
                    scope.allocate(DType.F32, 31, 8), w.fc1Bias(), w.fc2Weight(), w.fc2Bias()), scope.allocate(DType.F32, 1, 8, 3, 3));
        }));
        return c;
    }

    /** Memory that claims to live on another device; never read (validation must stop first). */
    record ElsewhereMemory(long byteSize) implements org.ss2d.tensor.DeviceMemory {
        @Override
        public String device() {
            return "elsewhere:0";
        }

        @Override
        public String backend() {
            return "elsewhere";
        }

        @Override
        public long address() {
            return 0;
        }

        @Override
        public void free() {}
    }

    static SS2DWeights withConfig(SS2DWeights w, SS2DConfig c) {
        return new SS2DWeights(c, w.inProjWeight(), w.conv2dWeight(), w.conv2dBias(), w.xProjWeight(), w.dtProjsWeight(),
                w.dtProjsBias(), w.aLogs(), w.ds(), w.outNormWeight(), w.outNormBias(), w.outProjWeight());
    }

    @TestFactory
    Stream<DynamicNode> everyRejectionOnEveryBackend() {
        List<Bad> bad = cases();
        return Targets.available().stream().map(b -> DynamicContainer.dynamicContainer("[" + b + "] bad input (" + bad.size() + ")",
                bad.stream().map(x -> DynamicTest.dynamicTest("[" + b + "] " + x.name() + " -> names " + x.argument(),
                        () -> expectRejection(b, x)))));
    }

    static void expectRejection(String backend, Bad x) {
        TensorScope scope = TensorScope.root("bad-input");
        try {
            Ss2d ss = Ss2d.on(backend);
            Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> x.call().accept(scope, ss),
                    "[" + backend + "] " + x.name());
            assertTrue(e.argument().equals(x.argument()) || e.argument().endsWith("." + x.argument()),
                    "[" + backend + "] " + x.name() + ": names " + e.argument() + ", expected " + x.argument() + ": " + e.getMessage());
            assertTrue(e.getMessage().startsWith(e.argument() + ":") && e.getMessage().length() > e.argument().length() + 5,
                    "one line naming the argument: " + e.getMessage());
            if (e.expected() != null) {
                assertTrue(e.getMessage().contains("expected") && e.getMessage().contains("found"), e.getMessage());
            }
            assertEquals(null, ss.lastBackend(), "[" + backend + "] " + x.name() + ": a backend ran despite the rejection");
        } finally {
            scope.release();
        }
    }

    @Test
    void dstateOverAMaxDstateIsALimitNamingTheBackendAndTheLimit() {
        // A backend with MAX_DSTATE = 256 (CUDA's, spec 3.1 check 7), whether or not one is on this machine.
        Capabilities cuda = new Capabilities(256, Set.of(DType.F32), false, "test", 0, true, 0);
        TensorScope scope = TensorScope.root("limit");
        try {
            ScanArgs a = ScanBuilder.valid(1, 2, 4, 257, 1).build(scope);
            LimitExceededException e = assertThrows(LimitExceededException.class, () -> Validator.selectiveScan(a, cuda, "cuda"));
            assertEquals("A", e.argument());
            assertTrue(e.getMessage().contains("257") && e.getMessage().contains("MAX_DSTATE=256")
                    && e.getMessage().contains("CUDA"), e.getMessage());
            ScanArgs ok = ScanBuilder.valid(1, 2, 4, 256, 1).build(scope);
            assertEquals(256, Validator.selectiveScan(ok, cuda, "cuda").dstate());
        } finally {
            scope.release();
        }
    }

    @TestFactory
    Stream<DynamicTest> closedTensorsThrowIllegalStateNotACrash() {
        return Targets.available().stream().map(b -> DynamicTest.dynamicTest("[" + b + "] u closed before the call", () -> {
            TensorScope scope = TensorScope.root("closed");
            try {
                ScanArgs a = ok().build(scope);
                a.u().close();
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> Ss2d.on(b).selectiveScan(scope, a));
                assertTrue(e.getMessage().contains("closed"), e.getMessage());
                TensorScope child = scope.child("gone");
                Tensor x = child.allocate(DType.F32, 1, 2, 3, 3);
                child.release();
                assertThrows(IllegalStateException.class, () -> Ss2d.on(b).crossScan(scope, x));
            } finally {
                scope.release();
            }
        }));
    }

    @Test
    void unknownBackendNameListsTheValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ss2d.on("no-such-backend"));
        assertTrue(e.getMessage().contains("no-such-backend") && e.getMessage().contains("valid")
                && e.getMessage().contains("reference"), e.getMessage());
    }
}
