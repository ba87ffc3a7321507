package org.ss2d.cuda;

import static org.ss2d.cuda.CudaTests.assertClose;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** CrossScan/CrossMerge, SS2D and VSS blocks on the GPU against the float64 reference. */
class CudaBlocksTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-blocks-test");
    }

    /** Inputs die with the scope (arena use); a result tensor left open would still be freed here. */
    @AfterEach
    void close() {
        scope.release();
    }

    @ParameterizedTest(name = "B={0} C={1} H={2} W={3}")
    @CsvSource({"1,3,5,6", "2,4,4,4", "1,2,3,7", "2,3,14,14", "1,2,33,65", "2,8,56,56"})
    void crossScanAndMerge(int b, int c, int h, int w) {
        CudaBackend cuda = CudaTests.backend();
        Tensor x = RandomWeights.uniform(scope, 11 + h * w, -1, 1, b, c, h, w);
        try (Tensor got = Ss2d.on(cuda).crossScan(scope, x); Tensor ref = Ss2d.on("reference").crossScan(scope, x)) {
            assertClose(got, ref, 0, "cross_scan");
        }
        Tensor ys = RandomWeights.uniform(scope, 12 + h * w, -1, 1, b, 4, c, (long) h * w);
        try (Tensor got = Ss2d.on(cuda).crossMerge(scope, ys, h, w);
             Tensor ref = Ss2d.on("reference").crossMerge(scope, ys, h, w)) {
            assertClose(got, ref, 1e-6, "cross_merge");
        }
    }

    @ParameterizedTest(name = "d_model={0} d_state={1} ratio={2} {3}x{4} batch={5} conv_bias={6}")
    @CsvSource({"8,1,2.0,5,6,2,false", "12,2,1.0,4,4,1,true", "8,4,2.0,3,7,2,false", "96,1,1.0,14,14,2,false",
            "16,16,2.0,8,8,1,true", "96,1,1.0,56,56,1,false"})
    void ss2dAndVss(int dModel, int dState, double ratio, int h, int w, int batch, boolean convBias) {
        CudaBackend cuda = CudaTests.backend();
        SS2DConfig c = SS2DConfig.of(dModel, dState, ratio).withConvBias(convBias);
        SS2DWeights weights = RandomWeights.ss2d(scope, c, 5 + dModel);
        Tensor x = RandomWeights.gaussian(scope, 6 + h, 1.0, batch, dModel, h, w);
        try (Tensor got = Ss2d.on(cuda).ss2d(scope, weights, x); Tensor ref = Ss2d.on("reference").ss2d(scope, weights, x)) {
            assertClose(got, ref, 2e-4, "ss2d " + c);
        }
        VSSWeights vw = RandomWeights.vss(scope, c, 4.0, 9 + dModel);
        try (Tensor got = Ss2d.on(cuda).vssBlock(scope, vw, x); Tensor ref = Ss2d.on("reference").vssBlock(scope, vw, x)) {
            assertClose(got, ref, 2e-4, "vss " + c);
        }
    }
}
