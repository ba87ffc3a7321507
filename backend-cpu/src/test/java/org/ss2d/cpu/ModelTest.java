package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.RefMath;
import org.ss2d.reference.VMambaRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The CPU model's own pieces on every kernel width (scalar included): small models of each family on odd
 * and non-square inputs against float64, the elementwise kernels it added, and packed-weight GEMMs
 * against per-call packing (same arithmetic, so the same bits).
 */
@Tag("width")
class ModelTest {
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({"vmamba_tiny_s1l8, 37, 30", "vmamba_tiny_s2l5, 32, 32", "vanilla_vmamba_tiny, 44, 52"})
    void smallModelsAgreeWithFloat64(String name, int h, int w) {
        VMambaConfig c = VMambaConfig.named(name).withDims(8, 16, 24, 32).withDepths(1, 2, 1, 1).withNumClasses(6);
        try (TensorScope s = TensorScope.root("cpu-model")) {
            VMambaWeights wt = VMambaRandomWeights.withOutNorms(s, VMambaRandomWeights.of(s, c, 5), 6);
            Tensor x = RandomWeights.gaussian(s, 7, 1, 2, 3, h, w);
            VMambaRef.Result ref = VMambaRef.forward(wt, Doubles.of(x), 2, h, w);
            try (VMambaModel m = Ss2d.on(backend).vmamba(wt)) {
                Tensor out = s.allocate(DType.F32, 2, 6).fill(Float.NaN);
                m.logitsInto(x, out);
                Checks.close(name + " logits on " + backend.kernels().name(), out.toFloatArray(), ref.logits(), 2e-4);
                List<Tensor> f = m.features(s, x);
                for (int i = 0; i < 4; i++) {
                    Checks.close(name + " features[" + i + "] on " + backend.kernels().name(), f.get(i).toFloatArray(),
                            ref.features().get(i), 2e-4);
                }
            }
            s.release();
        }
    }

    @Test
    void geluAndZGateKernels() {
        Kernels k = backend.kernels();
        int n = 1000; // not a multiple of any vector width: the tails run too
        try (TensorScope s = TensorScope.root("cpu-elementwise")) {
            Tensor x = RandomWeights.gaussian(s, 1, 3, n), y = RandomWeights.gaussian(s, 2, 2, n), z = RandomWeights.gaussian(s, 3, 4, n);
            double[] xd = Doubles.of(x), yd = Doubles.of(y), zd = Doubles.of(z);
            double[] g = new double[n - 3], gz = new double[n - 3];
            for (int i = 0; i < n - 3; i++) {
                g[i] = RefMath.gelu(xd[i + 3]);
                gz[i] = yd[i + 3] * RefMath.silu(zd[i + 3]);
            }
            k.gelu(x.segment(), 3, n - 3);
            k.mulSilu(y.segment(), 3, z.segment(), 3, n - 3);
            Checks.close("gelu on " + k.name(), java.util.Arrays.copyOfRange(x.toFloatArray(), 3, n), g, 2e-6);
            Checks.close("y * silu(z) on " + k.name(), java.util.Arrays.copyOfRange(y.toFloatArray(), 3, n), gz, 2e-6);
            assertArrayEquals(new float[] {(float) xd[0], (float) xd[1], (float) xd[2]},
                    java.util.Arrays.copyOf(x.toFloatArray(), 3), "gelu wrote before its offset");
            s.release();
        }
    }

    @Test
    void packedWeightsGiveTheSameBitsAsPackingPerCall() {
        Kernels k = backend.kernels();
        int m = 45, kk = 37, cols = 70;
        try (TensorScope s = TensorScope.root("cpu-packed")) {
            Tensor w = RandomWeights.gaussian(s, 1, 1, m, kk), x = RandomWeights.gaussian(s, 2, 1, kk, cols);
            Tensor bias = RandomWeights.gaussian(s, 3, 1, m), res = RandomWeights.gaussian(s, 4, 1, m, cols);
            Tensor a = s.allocate(DType.F32, m, cols), b = s.allocate(DType.F32, m, cols);
            Object packed = k.packWeights(w.segment(), 0, kk, m, kk);
            for (Kernels.Activation act : Kernels.Activation.values()) {
                for (int[] rows : new int[][] {{0, m}, {16, 45}, {0, 16}}) {
                    a.fill(Float.NaN);
                    b.fill(Float.NaN);
                    k.gemm(w.segment(), 0, kk, x.segment(), 0, cols, a.segment(), 0, cols, kk, rows[0], rows[1], 0, cols,
                            bias.segment(), 0, act, res.segment(), 0);
                    k.gemmPacked(packed, w.segment(), 0, kk, x.segment(), 0, cols, b.segment(), 0, cols, kk, rows[0],
                            rows[1], 0, cols, bias.segment(), 0, act, res.segment(), 0);
                    assertArrayEquals(a.toFloatArray(), b.toFloatArray(), act + " rows " + rows[0] + ".." + rows[1] + " on " + k.name());
                }
            }
            s.release();
        }
    }
}
