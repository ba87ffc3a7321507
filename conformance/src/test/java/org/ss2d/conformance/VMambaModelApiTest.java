package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.Ss2dArgumentException;

/** The model facade: validation once, named errors, backbones, closed models, determinism. */
class VMambaModelApiTest {
    final TensorScope s = TensorScope.root("vmamba-api");

    @AfterEach
    void close() {
        s.release();
    }

    static VMambaConfig small(String name) {
        return VMambaConfig.named(name).withDims(8, 16, 32, 64).withDepths(1, 1, 1, 1).withNumClasses(5);
    }

    @Test
    void inputsAndOutputsAreCheckedNamingTheArgument() {
        VMambaWeights w = VMambaRandomWeights.of(s, small("vanilla_vmamba_tiny"), 1);
        try (VMambaModel m = Ss2d.on("cpu").vmamba(w)) {
            var e = assertThrows(Ss2dArgumentException.class, () -> m.logits(s, RandomWeights.gaussian(s, 1, 1, 1, 4, 32, 32)));
            assertEquals("x", e.argument());
            e = assertThrows(Ss2dArgumentException.class, () -> m.logits(s, RandomWeights.gaussian(s, 1, 1, 3, 32, 32)));
            assertEquals("x", e.argument());
            e = assertThrows(Ss2dArgumentException.class, () -> m.logits(s, RandomWeights.gaussian(s, 1, 1, 1, 3, 3, 64)));
            assertTrue(e.getMessage().contains("stage 0 would be 0x16"), e.getMessage());
            Tensor x = RandomWeights.gaussian(s, 2, 1, 2, 3, 32, 32);
            e = assertThrows(Ss2dArgumentException.class, () -> m.logitsInto(x, s.allocate(DType.F32, 2, 6)));
            assertEquals("out", e.argument());
            e = assertThrows(Ss2dArgumentException.class, () -> m.featuresInto(x, List.of()));
            assertEquals("outs", e.argument());
        }
    }

    @Test
    void missingOrMisShapedWeightsAreNamedBeforeAnyBackendSeesThem() {
        VMambaWeights w = VMambaRandomWeights.of(s, small("vmamba_tiny_s1l8"), 2);
        Map<String, Tensor> p = new LinkedHashMap<>(w.params());
        p.remove("layers.3.blocks.0.op.A_logs");
        var e = assertThrows(Ss2dArgumentException.class, () -> Ss2d.on("cpu").vmamba(new VMambaWeights(w.config(), p)));
        assertEquals("layers.3.blocks.0.op.A_logs", e.argument());
        p.put("layers.3.blocks.0.op.A_logs", s.allocate(DType.F32, 4 * 64, 2));
        e = assertThrows(Ss2dArgumentException.class, () -> Ss2d.on("cpu").vmamba(new VMambaWeights(w.config(), p)));
        assertEquals("layers.3.blocks.0.op.A_logs", e.argument());
    }

    @Test
    void anInputWhoseWorkingMemoryIsOverTheBudgetIsRejectedBeforeRunning() {
        VMambaWeights w = VMambaRandomWeights.of(s, small("vmamba_tiny_s1l8"), 9);
        String before = System.getProperty(org.ss2d.validate.MemoryBudget.PROPERTY);
        try (VMambaModel m = Ss2d.on("cpu").vmamba(w)) {
            Tensor x = RandomWeights.gaussian(s, 10, 1, 2, 3, 64, 64);
            System.setProperty(org.ss2d.validate.MemoryBudget.PROPERTY, "100000");
            var e = assertThrows(LimitExceededException.class, () -> m.logits(s, x));
            assertTrue(e.getMessage().contains("over its memory budget of 100000 bytes"), e.getMessage());
        } finally {
            if (before == null) System.clearProperty(org.ss2d.validate.MemoryBudget.PROPERTY);
            else System.setProperty(org.ss2d.validate.MemoryBudget.PROPERTY, before);
        }
    }

    @Test
    void aForcedBackendWithoutModelsFailsAndNeverFallsBack() {
        VMambaWeights w = VMambaRandomWeights.of(s, small("vmamba_tiny_s1l8"), 3);
        var e = assertThrows(LimitExceededException.class, () -> Ss2d.on(new NoModels()).vmamba(w));
        assertTrue(e.getMessage().contains("no-models backend does not run whole VMamba models"), e.getMessage());
    }

    @Test
    void aBackboneGivesFeaturesButNoLogits() {
        VMambaConfig c = small("vmamba_tiny_s2l5").withNumClasses(0);
        VMambaWeights w = VMambaRandomWeights.of(s, c, 4);
        assertTrue(w.params().keySet().stream().noneMatch(k -> k.startsWith("classifier")));
        Tensor x = RandomWeights.gaussian(s, 5, 1, 1, 3, 32, 32);
        try (VMambaModel m = Ss2d.on("cpu").vmamba(VMambaWeights.fromStateDict(w.params()))) {
            assertEquals(0, m.config().numClasses());
            var e = assertThrows(Ss2dArgumentException.class, () -> m.logits(s, x));
            assertEquals("model", e.argument());
            List<Tensor> f = m.features(s, x);
            assertArrayEquals(new long[] {1, 64, 1, 1}, f.get(3).shape());
        }
    }

    @Test
    void repeatedCallsAreBitIdenticalAndAClosedModelSaysSo() {
        VMambaWeights w = VMambaRandomWeights.of(s, small("vmamba_small_s1l20"), 6);
        Tensor x = RandomWeights.gaussian(s, 7, 1, 2, 3, 40, 36);
        VMambaModel m = Ss2d.auto().vmamba(w);
        // auto takes the best backend that runs models: CUDA where it is available, else the CPU
        assertEquals(Targets.unavailable("cuda") == null ? "cuda" : "cpu", m.backend().name());
        float[] a = m.logits(s, x).toFloatArray();
        Tensor big = RandomWeights.gaussian(s, 8, 1, 3, 3, 64, 64);
        m.logits(s, big); // a larger shape grows the buffers ...
        assertArrayEquals(a, m.logits(s, x).toFloatArray()); // ... and the smaller one still gives the same bits
        m.close();
        assertThrows(IllegalStateException.class, () -> m.logits(s, x));
    }

    /** A backend with no model support (the SPI's default). */
    static final class NoModels implements Backend {
        @Override
        public String name() {
            return "no-models";
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(Capabilities.UNLIMITED, java.util.Set.of(DType.F32), false, "test", 0, false, 1);
        }

        @Override
        public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void crossScan(Tensor x, Tensor out) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void crossMerge(Tensor ys, Tensor out) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void ss2d(SS2DWeights weights, Tensor x, Tensor out) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void vssBlock(VSSWeights weights, Tensor x, Tensor out) {
            throw new UnsupportedOperationException();
        }
    }
}
