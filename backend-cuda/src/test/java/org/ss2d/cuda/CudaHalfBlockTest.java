package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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

/**
 * The SS2D and VSS blocks and small VMamba models with the half {@code dtype} option on the GPU (16-bit maps,
 * cuBLAS with 16-bit inputs and float32 accumulation, the half layer kernels) against the float64 reference that
 * rounds where the backends store the dtype. Budget as conformance's for these ops: the float32 one (2e-4) plus
 * {@link HalfRounding#STAGED}'s u (1 + 2 sqrt(D)) for an output reached through D blocks (3u for a block: flips of
 * intermediates between float32 and float64 roundings, see conformance/TOLERANCES.md), relative to the largest
 * expected magnitude. Outputs are poisoned with NaN.
 * Skips without a GPU (fails with -Dss2d.require=cuda).
 */
class CudaHalfBlockTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-half-block-test");
    }

    @AfterEach
    void close() {
        scope.release();
    }

    /** conformance's budget for a half block or model output reached through {@code blocks} blocks. */
    private static double budget(DType d, int blocks) {
        return HalfRounding.STAGED.budget(2e-4, d, blocks);
    }

    /** max |got - want| / max |want|; a non-finite element where the expected one is finite fails. */
    private static void assertClose(String what, float[] got, double[] want, double tol) {
        assertEquals(want.length, got.length, what + ": element count");
        double maxd = 0, maxw = 0;
        for (int i = 0; i < want.length; i++) {
            assertTrue(Float.isFinite(got[i]), what + ": element " + i + " is " + got[i] + " (expected " + want[i] + ")");
            maxd = Math.max(maxd, Math.abs(got[i] - want[i]));
            maxw = Math.max(maxw, Math.abs(want[i]));
        }
        double rel = maxw > 0 ? maxd / maxw : maxd;
        assertTrue(rel <= tol, what + ": relative error " + rel + " (budget " + tol + ")");
    }

    @ParameterizedTest(name = "{0} {1} d_model {2} d_state {3} x ({4}, {5}, {6})")
    @CsvSource({"BF16, ss2d, 24, 1, 2, 7, 9", "F16, ss2d, 12, 4, 1, 5, 6", "BF16, ss2d, 96, 1, 2, 56, 56",
            "F16, ss2d, 96, 1, 1, 14, 14", "BF16, vss, 16, 2, 2, 6, 6", "F16, vss, 8, 16, 1, 9, 4",
            "BF16, vss, 96, 1, 1, 28, 28", "F16, vss, 96, 1, 1, 28, 28"})
    void blocksMatchTheRoundedReference(DType d, String op, int dm, int n, int b, int h, int w) {
        CudaBackend cuda = CudaTests.backend();
        SS2DConfig cfg = SS2DConfig.of(dm, n, 2.0).withConvBias(true);
        Tensor x = scope.convert(RandomWeights.gaussian(scope, 31L * dm + h, 1.0, b, dm, h, w), d);
        Tensor out = scope.allocate(d, b, dm, h, w).fill(Float.NaN);
        double[] want;
        if (op.equals("ss2d")) {
            SS2DWeights wt = RandomWeights.ss2d(scope, cfg, 3);
            Ss2d.on(cuda).ss2dInto(wt, x, out, d);
            want = SS2DRef.forward(SS2DRef.Params.of(wt), Doubles.of(x), b, h, w, d);
        } else {
            VSSWeights wt = RandomWeights.vss(scope, cfg, 4.0, 3);
            Ss2d.on(cuda).vssBlockInto(wt, x, out, d);
            want = VSSRef.forward(VSSRef.Params.of(wt), Doubles.of(x), b, h, w, d);
        }
        assertClose("cuda " + op + " " + d.arrowName() + " " + cfg + " x (" + b + ", " + dm + ", " + h + ", " + w + ")",
                out.toFloatArray(), want, budget(d, 1));
    }

    @ParameterizedTest(name = "{0} device-resident vss")
    @CsvSource({"BF16", "F16"})
    void deviceTensorsGiveTheSameBitsAsHostTensors(DType d) {
        CudaBackend cuda = CudaTests.backend();
        Ss2d gpu = Ss2d.on(cuda);
        SS2DConfig cfg = SS2DConfig.of(16, 1, 2.0);
        VSSWeights wt = RandomWeights.vss(scope, cfg, 4.0, 5);
        Tensor x = scope.convert(RandomWeights.gaussian(scope, 9, 1.0, 2, 16, 11, 13), d);
        Tensor host = gpu.vssBlock(scope, wt, x, d);
        Tensor dx = gpu.toDevice(scope, x);
        Tensor dOut = cuda.allocate(scope, d, 2, 16, 11, 13);
        gpu.vssBlockInto(wt, dx, dOut, d);
        Tensor back = gpu.toHost(scope, dOut);
        assertEquals(d, back.dtype());
        float[] a = host.toFloatArray(), b = back.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            assertEquals(Float.floatToIntBits(a[i]), Float.floatToIntBits(b[i]), "cuda vss " + d + " element " + i);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"BF16, vmamba_tiny_s1l8", "F16, vmamba_tiny_s1l8", "BF16, vanilla_vmamba_tiny", "F16, vmamba_tiny_s2l5"})
    void smallModelsMatchTheRoundedReference(DType d, String name) {
        CudaBackend cuda = CudaTests.backend();
        VMambaConfig c = VMambaConfig.named(name).withDims(8, 16, 24, 32).withDepths(1, 2, 1, 1).withNumClasses(6);
        int h = 37, w = 30;
        VMambaWeights wt = VMambaRandomWeights.withOutNorms(scope, VMambaRandomWeights.of(scope, c, 5), 6);
        Tensor x = scope.convert(RandomWeights.gaussian(scope, 7, 1, 2, 3, h, w), d);
        VMambaRef.Result ref = VMambaRef.forward(wt, Doubles.of(x), 2, h, w, d);
        try (VMambaModel m = Ss2d.on(cuda).vmamba(wt, d)) {
            Tensor out = scope.allocate(d, 2, 6).fill(Float.NaN);
            m.logitsInto(x, out);
            String who = "cuda " + name + " " + d.arrowName();
            int[] depths = c.depths();
            assertClose(who + " logits", out.toFloatArray(), ref.logits(),
                    budget(d, HalfRounding.blocksThrough(depths, depths.length - 1)));
            List<Tensor> f = m.features(scope, x);
            for (int i = 0; i < 4; i++) {
                assertEquals(d, f.get(i).dtype(), who + " features[" + i + "] dtype");
                assertClose(who + " features[" + i + "]", f.get(i).toFloatArray(), ref.features().get(i),
                        budget(d, HalfRounding.blocksThrough(depths, i)));
            }
        }
    }
}
