package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.reference.CrossRef;
import org.ss2d.reference.Doubles;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * CrossScan/CrossMerge backward on the GPU: each is the other's adjoint ({@code <crossScan(x), dys> = <x,
 * crossScanBackward(dys)>} and {@code <crossMerge(ys), dout> = <ys, crossMergeBackward(dout)>} in double), the
 * gradient of x equals the float64 merge of dys within float rounding, and that of ys is a permutation of dout, bit
 * for bit. Outputs come from NaN-free random inputs through the facade (new tensors, every element written).
 */
class CudaCrossBackwardTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-cross-backward-test");
    }

    @AfterEach
    void close() {
        scope.release();
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    @ParameterizedTest(name = "cuda cross backward f32 (2, 3, {0}, {1})")
    @CsvSource({"1, 6", "6, 1", "3, 3", "33, 31", "56, 56"})
    void eachIsTheOthersAdjoint(int h, int w) {
        CudaBackend cuda = CudaTests.backend();
        int b = 2, c = 3, l = h * w;
        long seed = 31L * h + w;
        Tensor x = RandomWeights.gaussian(scope, seed, 1.0, b, c, h, w), dys = RandomWeights.gaussian(scope, seed + 1, 1.0, b, 4, c, l);
        Tensor ys = RandomWeights.gaussian(scope, seed + 2, 1.0, b, 4, c, l), dout = RandomWeights.gaussian(scope, seed + 3, 1.0, b, c, h, w);
        Ss2d ss = Ss2d.on(cuda);
        String who = "cuda cross backward f32 (2, 3, " + h + ", " + w + ")";
        Tensor xs = ss.crossScan(scope, x), dx = ss.crossScanBackward(scope, dys, h, w);
        double lhs = dot(xs.toFloatArray(), dys.toFloatArray()), rhs = dot(x.toFloatArray(), dx.toFloatArray());
        assertTrue(Math.abs(lhs - rhs) <= 1e-6 * Math.max(1, Math.abs(lhs)), who + ": <scan x, dys> " + lhs
                + " vs <x, scan backward dys> " + rhs);
        CudaTests.assertClose(dx, scope.fromArray(toFloats(CrossRef.merge(Doubles.of(dys), b, c, h, w)), b, c, h, w),
                1e-6, who + " grad.x");
        Tensor merged = ss.crossMerge(scope, ys, h, w), dys2 = ss.crossMergeBackward(scope, dout);
        double l2 = dot(merged.toFloatArray(), dout.toFloatArray()), r2 = dot(ys.toFloatArray(), dys2.toFloatArray());
        assertTrue(Math.abs(l2 - r2) <= 1e-6 * Math.max(1, Math.abs(l2)), who + ": <merge ys, dout> " + l2
                + " vs <ys, merge backward dout> " + r2);
        assertArrayEquals(toFloats(CrossRef.scan(Doubles.of(dout), b, c, h, w)), dys2.toFloatArray(),
                who + " grad.ys (a permutation: bit for bit)");
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
