package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.HalfRounding;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VMambaRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The blocks and a small model with a half {@code dtype} option against the float64 reference that rounds at the
 * same points, within conformance's budget for these ops: the float32 one (2e-4) plus {@link HalfRounding#STAGED}'s
 * u (1 + 2 sqrt(D)) for an output reached through D blocks (3u for a block). The 96-channel 28x28 VSS blocks are a
 * realistic size: there intermediates that float32 and float64 round to neighbouring half values are common (a
 * budget of one rounding, u, failed there), which the small shapes do not show.
 */
class HalfBlockTest {
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    /** The float32 budget of the blocks and models (conformance's Tolerances) plus the half dtype's. */
    private static double budget(DType t, int blocks) {
        return HalfRounding.STAGED.budget(2e-4, t, blocks);
    }

    @ParameterizedTest(name = "{0} {1} d_state {2} x ({6}, {3}, {4}, {5})")
    @CsvSource({"BF16, ss2d, 1, 24, 7, 9, 2", "F16, ss2d, 4, 12, 5, 6, 2", "BF16, vss, 2, 16, 6, 6, 2",
            "F16, vss, 1, 8, 9, 4, 2"})
    void blocksMatchTheRoundedReference(DType t, String op, int n, int dm, int h, int w, int batch) {
        SS2DConfig cfg = SS2DConfig.of(dm, n, 2.0).withConvBias(true);
        TensorScope weights = TensorScope.root("half-block-weights");
        try (Fixture f = new Fixture("half-block", 31L * dm + h)) {
            Tensor x = f.as(t, f.gauss(1.0, batch, dm, h, w));
            Tensor out = f.poisoned(t, batch, dm, h, w);
            double[] want;
            if (op.equals("ss2d")) {
                SS2DWeights wt = RandomWeights.ss2d(weights, cfg, 3);
                Ss2d.on(backend).ss2dInto(wt, x, out, t);
                want = SS2DRef.forward(SS2DRef.Params.of(wt), Doubles.of(x), batch, h, w, t);
            } else {
                VSSWeights wt = RandomWeights.vss(weights, cfg, 4.0, 3);
                Ss2d.on(backend).vssBlockInto(wt, x, out, t);
                want = VSSRef.forward(VSSRef.Params.of(wt), Doubles.of(x), batch, h, w, t);
            }
            assertEquals(t, out.dtype());
            Checks.close("cpu " + op + " " + t.arrowName() + " " + cfg + " x (" + batch + ", " + dm + ", " + h + ", " + w
                    + ")", out.toFloatArray(), want, budget(t, 1));
        } finally {
            weights.release();
        }
    }

    /**
     * VSS at VMamba-T's first-stage width on a 28x28 map, inputs drawn as backend-cuda's CudaHalfBlockTest draws them
     * (the float16 one measured 6.90e-4 here, over the former budget of one rounding, 6.88e-4).
     */
    @ParameterizedTest(name = "{0} vss 96 channels 28x28")
    @CsvSource({"BF16", "F16"})
    void aRealisticVssBlockMatchesTheRoundedReference(DType t) {
        int dm = 96, h = 28, w = 28;
        SS2DConfig cfg = SS2DConfig.of(dm, 1, 2.0).withConvBias(true);
        TensorScope s = TensorScope.root("half-block-96");
        try {
            Tensor x = s.convert(RandomWeights.gaussian(s, 31L * dm + h, 1.0, 1, dm, h, w), t);
            Tensor out = s.allocate(t, 1, dm, h, w).fill(Float.NaN);
            VSSWeights wt = RandomWeights.vss(s, cfg, 4.0, 3);
            Ss2d.on(backend).vssBlockInto(wt, x, out, t);
            double[] want = VSSRef.forward(VSSRef.Params.of(wt), Doubles.of(x), 1, h, w, t);
            Checks.close("cpu vss " + t.arrowName() + " " + cfg + " x (1, 96, 28, 28)", out.toFloatArray(), want,
                    budget(t, 1));
        } finally {
            s.release();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"BF16, vmamba_tiny_s1l8", "F16, vanilla_vmamba_tiny"})
    void aSmallModelMatchesTheRoundedReference(DType t, String name) {
        VMambaConfig c = VMambaConfig.named(name).withDims(8, 16, 24, 32).withDepths(1, 2, 1, 1).withNumClasses(6);
        int h = 37, w = 30;
        TensorScope s = TensorScope.root("cpu-half-model");
        try {
            VMambaWeights wt = VMambaRandomWeights.withOutNorms(s, VMambaRandomWeights.of(s, c, 5), 6);
            Tensor x = s.convert(RandomWeights.gaussian(s, 7, 1, 2, 3, h, w), t);
            VMambaRef.Result ref = VMambaRef.forward(wt, Doubles.of(x), 2, h, w, t);
            try (VMambaModel m = Ss2d.on(backend).vmamba(wt, t)) {
                assertEquals(t, m.dtype());
                Tensor out = s.allocate(t, 2, 6).fill(Float.NaN);
                m.logitsInto(x, out);
                String who = "cpu " + name + " " + t.arrowName();
                int[] depths = c.depths();
                Checks.close(who + " logits", out.toFloatArray(), ref.logits(),
                        budget(t, HalfRounding.blocksThrough(depths, depths.length - 1)));
                List<Tensor> f = m.features(s, x);
                for (int i = 0; i < 4; i++) {
                    assertEquals(t, f.get(i).dtype());
                    Checks.close(who + " features[" + i + "]", f.get(i).toFloatArray(), ref.features().get(i),
                            budget(t, HalfRounding.blocksThrough(depths, i)));
                }
            }
        } finally {
            s.release();
        }
    }

    @Test
    void anInputNotOfTheDtypeOptionIsNamed() {
        SS2DConfig cfg = SS2DConfig.of(8, 1, 1.0);
        TensorScope weights = TensorScope.root("half-reject-weights");
        try (Fixture f = new Fixture("half-reject", 1)) {
            SS2DWeights wt = RandomWeights.ss2d(weights, cfg, 3);
            Tensor x = f.gauss(1.0, 1, 8, 3, 3);
            Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class,
                    () -> Ss2d.on(backend).ss2d(f.scope, wt, x, DType.BF16));
            assertEquals("x", e.argument());
            Tensor out = f.poisoned(1, 8, 3, 3);
            e = assertThrows(Ss2dArgumentException.class,
                    () -> Ss2d.on(backend).ss2dInto(wt, f.as(DType.F16, x), out, DType.F16));
            assertEquals("out", e.argument());
            e = assertThrows(Ss2dArgumentException.class, () -> Ss2d.on(backend).ss2d(f.scope, wt, x, null));
            assertEquals("dtype", e.argument());
        } finally {
            weights.release();
        }
    }

    @Test
    void aModelWithoutADtypeIsNamed() {
        VMambaConfig c = VMambaConfig.named("vmamba_tiny_s1l8").withDims(8, 16, 24, 32).withDepths(1, 1, 1, 1)
                .withNumClasses(6);
        TensorScope s = TensorScope.root("cpu-half-model-null");
        try {
            VMambaWeights wt = VMambaRandomWeights.of(s, c, 5);
            Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> Ss2d.on(backend).vmamba(wt, null));
            assertEquals("dtype", e.argument());
            Tensor x = RandomWeights.gaussian(s, 7, 1, 1, 3, 32, 32); // float32 into a bfloat16 model
            try (VMambaModel m = Ss2d.on(backend).vmamba(wt, DType.BF16)) {
                e = assertThrows(Ss2dArgumentException.class, () -> m.logits(s, x));
                assertEquals("x", e.argument());
            }
        } finally {
            s.release();
        }
    }
}
