package org.ss2d.cuda;

import static org.ss2d.cuda.CudaTests.assertClose;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.DType;
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

    /**
     * The d_state-1 SS2D and VSS blocks with their middle fused (FusedScan: one stacked x_proj GEMM, then CrossScan,
     * dt_proj, scan and CrossMerge in one kernel; opt-in, {@code -Dss2d.cuda.fusedScan=true}) and unfused (the default), both against the
     * float64 reference within the blocks' budget; the profile's steps show which path ran. Plane sizes of the VMamba
     * stages (56, 28, 14, 7), non-square, odd and 1x1 maps, dt_rank 1 to 12.
     */
    @ParameterizedTest(name = "d_model={0} ratio={1} {2}x{3} batch={4} fused={5}")
    @CsvSource({"96,1.0,56,56,2,true", "96,1.0,56,56,2,false", "32,2.0,28,28,2,true", "32,2.0,28,28,2,false",
            "48,2.0,14,14,3,true", "192,1.0,7,7,2,true", "192,1.0,7,7,2,false", "12,2.0,13,6,2,true",
            "12,2.0,13,6,2,false", "16,1.0,5,9,1,true", "8,2.0,1,1,3,true", "24,1.0,31,57,1,true"})
    void fusedAndUnfusedMiddleAgainstFloat64(int dModel, double ratio, int h, int w, int batch, boolean fused) {
        CudaBackend cuda = CudaTests.backend();
        SS2DConfig c = SS2DConfig.of(dModel, 1, ratio);
        SS2DWeights weights = RandomWeights.ss2d(scope, c, 50 + dModel);
        VSSWeights vw = RandomWeights.vss(scope, c, 4.0, 51 + dModel);
        Tensor x = RandomWeights.gaussian(scope, 52 + h * w, 1.0, batch, dModel, h, w);
        String what = (fused ? "fused" : "unfused") + " middle, " + c + " " + h + "x" + w + " batch " + batch;
        String before = System.getProperty(FusedScan.PROPERTY);
        System.setProperty(FusedScan.PROPERTY, Boolean.toString(fused));
        try (Tensor ref = Ss2d.on("reference").ss2d(scope, weights, x);
             Tensor vref = Ss2d.on("reference").vssBlock(scope, vw, x)) {
            Tensor[] got = new Tensor[2];
            java.util.Map<String, Double> steps = cuda.profileSteps(() -> {
                got[0] = Ss2d.on(cuda).ss2d(scope, weights, x);
                got[1] = Ss2d.on(cuda).vssBlock(scope, vw, x);
            }, 1);
            assertClose(got[0], ref, 2e-4, "[cuda] ss2d " + what);
            assertClose(got[1], vref, 2e-4, "[cuda] vss " + what);
            assertEquals(fused, steps.containsKey("fused_scan"), what + ": steps " + steps.keySet());
            assertEquals(!fused, steps.containsKey("cross_scan"), what + ": steps " + steps.keySet());
            got[0].close();
            got[1].close();
        } finally {
            if (before == null) System.clearProperty(FusedScan.PROPERTY);
            else System.setProperty(FusedScan.PROPERTY, before);
        }
    }

    /**
     * Blocks on device tensors take their intermediates from the kept scratch: calls that grow it
     * (each larger shape first runs on its own allocations, the next call on the grown scratch),
     * reuse it, and shrink below it all agree with the reference; releaseScratch frees exactly it.
     */
    @Test
    void deviceBlocksReuseAndGrowTheScratch() {
        CudaBackend cuda = CudaTests.backend();
        Ss2d gpu = Ss2d.on(cuda);
        cuda.releaseScratch();
        SS2DConfig c = SS2DConfig.of(16, 2, 2.0);
        SS2DWeights w = RandomWeights.ss2d(scope, c, 21);
        VSSWeights vw = RandomWeights.vss(scope, c, 4.0, 22);
        int[][] shapes = {{1, 6, 7}, {2, 9, 10}, {2, 9, 10}, {1, 6, 7}, {3, 12, 5}, {3, 12, 5}};
        for (int i = 0; i < shapes.length; i++) {
            int b = shapes[i][0], h = shapes[i][1], wd = shapes[i][2];
            String what = "call " + i + " B=" + b + " " + h + "x" + wd;
            Tensor x = RandomWeights.gaussian(scope, 30 + i, 1.0, b, 16, h, wd);
            Tensor dx = gpu.toDevice(scope, x);
            Tensor out = cuda.allocate(scope, DType.F32, b, 16, h, wd);
            Tensor vout = cuda.allocate(scope, DType.F32, b, 16, h, wd);
            cuda.diagnostics().fillBits(out, 0x7fc00000);
            cuda.diagnostics().fillBits(vout, 0x7fc00000);
            gpu.ss2dInto(w, dx, out);
            gpu.vssBlockInto(vw, dx, vout);
            try (Tensor got = gpu.toHost(scope, out); Tensor ref = Ss2d.on("reference").ss2d(scope, w, x);
                 Tensor vgot = gpu.toHost(scope, vout); Tensor vref = Ss2d.on("reference").vssBlock(scope, vw, x)) {
                assertClose(got, ref, 2e-4, "ss2d device " + what + " " + c);
                assertClose(vgot, vref, 2e-4, "vss device " + what + " " + c);
            }
            out.close();
            vout.close();
            dx.close();
            x.close();
        }
        long held = cuda.scratchBytes(), live = cuda.diagnostics().liveDeviceBytes();
        assertTrue(held > 0, "the blocks keep their scratch between calls");
        cuda.releaseScratch();
        assertEquals(0, cuda.scratchBytes());
        assertEquals(live - held, cuda.diagnostics().liveDeviceBytes(), "releaseScratch frees the scratch and nothing else");
    }

    /**
     * Host weights changed in place after the backend uploaded them (copyFrom, a written segment, a
     * fill) give the new answer, not the cached one: in_proj and A_logs (the -exp(A) cache) of SS2D,
     * fc1 of VSS. Each changed output is checked against the reference on the changed weights and
     * must differ from the answer before the change.
     */
    @Test
    void weightsChangedInPlaceAreUploadedAgain() {
        CudaBackend cuda = CudaTests.backend();
        Ss2d gpu = Ss2d.on(cuda);
        SS2DConfig c = SS2DConfig.of(16, 2, 2.0);
        SS2DWeights w = RandomWeights.ss2d(scope, c, 41);
        VSSWeights vw = RandomWeights.vss(scope, c, 4.0, 42);
        Tensor x = RandomWeights.gaussian(scope, 43, 1.0, 2, 16, 6, 7);
        Tensor before = gpu.ss2d(scope, w, x), vbefore = gpu.vssBlock(scope, vw, x);

        float[] in = w.inProjWeight().toFloatArray();
        for (int i = 0; i < in.length; i++) in[i] *= -1.5f;
        w.inProjWeight().copyFrom(in);
        java.lang.foreign.MemorySegment aLogs = w.aLogs().segment();
        for (long i = 0; i < w.aLogs().elementCount(); i++) {
            aLogs.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, 0.5f * i / w.aLogs().elementCount());
        }
        vw.fc1Weight().fill(0.01f);
        // fc1 filled with a constant barely moves the block (LayerNorm'd inputs sum to about 0 and the MLP
        // is ~0.2% of max|out| at these weights); a bias of 1 moves every element, so the check below
        // that the change is visible cannot pass on a stale upload.
        vw.fc2Bias().fill(1.0f);

        try (Tensor got = gpu.ss2d(scope, w, x); Tensor ref = Ss2d.on("reference").ss2d(scope, w, x);
             Tensor vgot = gpu.vssBlock(scope, vw, x); Tensor vref = Ss2d.on("reference").vssBlock(scope, vw, x)) {
            assertClose(got, ref, 2e-4, "ss2d after in_proj and A_logs changed in place " + c);
            assertClose(vgot, vref, 2e-4, "vss after fc1 and fc2 bias changed in place " + c);
            assertTrue(CudaTests.relErr(before, ref) > 1e-2, "the change must change the ss2d answer");
            assertTrue(CudaTests.relErr(vbefore, vref) > 1e-2, "the change must change the vss answer");
        }
    }
}
