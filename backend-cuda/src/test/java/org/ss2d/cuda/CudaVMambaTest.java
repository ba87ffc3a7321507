package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.VMambaRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.MemoryBudget;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Whole VMamba models on the GPU against the float64 {@link VMambaRef}, at small sizes: logits and the four
 * stage features (through outnorms), outputs poisoned with NaN first, on host and on device tensors. The
 * budget is the whole-model one of the tolerance policy (2e-4 of the largest magnitude, conformance's
 * {@code Tolerances.VMAMBA_F32}). Also: the second call of a shape allocates nothing, the per-layer profile,
 * the memory budget and bad inputs.
 */
class CudaVMambaTest {
    /** conformance's Tolerances.VMAMBA_F32 (that module is not a dependency of this one). */
    private static final double TOL = 2e-4;

    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-vmamba-test");
    }

    @AfterEach
    void close() {
        scope.release();
    }

    /** A small custom configuration: the stem, downsampling and block variant of the test, narrow widths. */
    static VMambaConfig custom(VMambaConfig.ForwardType ft, int dState, double mlp, VMambaConfig.PatchEmbed pe,
                               VMambaConfig.Downsample ds) {
        return new VMambaConfig("custom", new int[] {16, 24, 32, 40}, new int[] {1, 2, 1, 1}, dState, 2.0, 0, 3,
                ft == VMambaConfig.ForwardType.V0, mlp, ft, pe, ds, ft == VMambaConfig.ForwardType.V05_NOZ, 7, 3, 4);
    }

    @ParameterizedTest(name = "{0} depths {1} batch {2} {3}x{4}")
    @CsvSource({
            // v05_noz, d_state 1, stem v2, downsample v3, MLP (VMamba-T s1l8 widths, stage 3 cut)
            "vmamba_tiny_s1l8, '2,2,2,2', 2, 64, 64",
            "vmamba_tiny_s2l5, '1,1,2,1', 3, 32, 32",
            // v0, d_state 16, z gate, conv bias, stem v1, PatchMerging2D, no MLP; odd stage maps (17x13 -> 9x7 ...)
            "vanilla_vmamba_tiny, '2,2,2,2', 2, 64, 64",
            "vanilla_vmamba_tiny, '1,1,1,1', 3, 70, 54",
            "vanilla_vmamba_small, '1,1,2,1', 1, 32, 32"})
    void releasedConfigurationsAgainstFloat64(String name, String depths, int batch, int h, int w) {
        int[] d = java.util.Arrays.stream(depths.split(",")).mapToInt(Integer::parseInt).toArray();
        checkModel(VMambaConfig.named(name).withDepths(d), name + " depths " + depths, batch, h, w);
    }

    @ParameterizedTest(name = "{0} d_state {1} mlp {2} stem {3} downsample {4}")
    @CsvSource({"V05_NOZ, 1, 0.0, V1, V2", "V05_NOZ, 2, 4.0, V1, V1", "V0, 16, 2.0, V2, V3", "V0, 4, 0.0, V2, V2",
            "V05_NOZ, 16, 4.0, V2, V1"})
    void explicitConfigurationsAgainstFloat64(VMambaConfig.ForwardType ft, int dState, double mlp,
                                              VMambaConfig.PatchEmbed pe, VMambaConfig.Downsample ds) {
        checkModel(custom(ft, dState, mlp, pe, ds), ft + "/" + pe + "/" + ds, 2, 45, 38);
    }

    /**
     * The v05_noz (d_state 1) blocks run their middle unfused by default; with {@code -Dss2d.cuda.fusedScan=true}
     * the same model runs it fused ({@link FusedScan}). Both within the whole-model budget; at 64x64 the
     * stage maps are 16, 8, 4, 2, at 100x76 odd and non-square (25x19 ... 4x3).
     */
    @ParameterizedTest(name = "{0} {1}x{2} fused={3}")
    @CsvSource({"vmamba_tiny_s1l8, 64, 64, true", "vmamba_tiny_s1l8, 64, 64, false", "vmamba_small_s2l15, 100, 76, true",
            "vmamba_small_s2l15, 100, 76, false"})
    void v05NozWithAndWithoutTheFusedScan(String name, int h, int w, boolean fused) {
        String before = System.getProperty(FusedScan.PROPERTY);
        System.setProperty(FusedScan.PROPERTY, Boolean.toString(fused));
        try {
            checkModel(VMambaConfig.named(name).withDepths(1, 1, 2, 1), name + (fused ? " fused" : " unfused")
                    + " scan", 2, h, w);
        } finally {
            if (before == null) System.clearProperty(FusedScan.PROPERTY);
            else System.setProperty(FusedScan.PROPERTY, before);
        }
    }

    private void checkModel(VMambaConfig c, String what, int batch, int h, int w) {
        CudaBackend cuda = CudaTests.backend();
        VMambaWeights wt = VMambaRandomWeights.withOutNorms(scope, VMambaRandomWeights.of(scope, c, 31), 32);
        Tensor x = RandomWeights.gaussian(scope, 33, 1.0, batch, 3, h, w);
        VMambaRef.Result ref = VMambaRef.forward(wt, Doubles.of(x), batch, h, w);
        int[][] g = c.grids(h, w);
        try (VMambaModel m = Ss2d.on(cuda).vmamba(wt)) {
            assertEquals("cuda", m.backend().name());
            // host tensors: uploaded and downloaded by the call
            Tensor logits = scope.allocate(DType.F32, batch, c.numClasses()).fill(Float.NaN);
            m.logitsInto(x, logits);
            assertWithin(ref.logits(), logits, "[cuda] " + what + " logits, host tensors, batch " + batch + " " + h + "x" + w);
            List<Tensor> feats = m.features(scope, x);
            for (int i = 0; i < VMambaConfig.STAGES; i++) {
                assertEquals(List.of((long) batch, (long) c.dim(i), (long) g[i][0], (long) g[i][1]),
                        java.util.Arrays.stream(feats.get(i).shape()).boxed().toList());
                assertWithin(ref.features().get(i), feats.get(i), "[cuda] " + what + " features[" + i + "], host tensors");
            }
            // device tensors, outputs poisoned on the device; the same call twice (the second on the kept arenas)
            Tensor xd = cuda.allocate(scope, DType.F32, x.shape());
            cuda.copy(x, xd);
            Tensor od = cuda.allocate(scope, DType.F32, batch, c.numClasses());
            for (int rep = 0; rep < 2; rep++) {
                cuda.diagnostics().fillBits(od, 0x7fc00000);
                m.logitsInto(xd, od);
                assertWithin(ref.logits(), download(od), "[cuda] " + what + " logits, device tensors, call " + (rep + 1));
            }
            List<Tensor> fd = new ArrayList<>();
            for (int i = 0; i < VMambaConfig.STAGES; i++) {
                Tensor f = cuda.allocate(scope, DType.F32, batch, c.dim(i), g[i][0], g[i][1]);
                cuda.diagnostics().fillBits(f, 0x7fc00000);
                fd.add(f);
            }
            m.featuresInto(xd, fd);
            for (int i = 0; i < VMambaConfig.STAGES; i++) {
                assertWithin(ref.features().get(i), download(fd.get(i)), "[cuda] " + what + " features[" + i + "], device");
            }
        }
    }

    private Tensor download(Tensor device) {
        Tensor h = scope.allocate(DType.F32, device.shape());
        CudaTests.backend().copy(device, h);
        return h;
    }

    private static void assertWithin(double[] want, Tensor got, String what) {
        float[] g = got.toFloatArray();
        assertEquals(want.length, g.length, what + ": size");
        double maxd = 0, maxr = 0;
        for (int i = 0; i < g.length; i++) {
            assertTrue(Float.isFinite(g[i]), what + ": element " + i + " is " + g[i]);
            maxd = Math.max(maxd, Math.abs(g[i] - want[i]));
            maxr = Math.max(maxr, Math.abs(want[i]));
        }
        assertTrue(maxr > 0, what + ": the reference is all zeros");
        assertTrue(maxd <= TOL * maxr, what + ": max |diff| " + maxd + " over max |ref| " + maxr + " = " + maxd / maxr
                + " (budget " + TOL + ")");
    }

    /**
     * After the first call of a shape, calls on device tensors allocate nothing (live device bytes and the peak
     * stay put) and agree bit for bit; a larger shape grows the arenas once, a smaller one reuses them.
     */
    @Test
    void laterCallsOfAShapeAllocateNothing() {
        CudaBackend cuda = CudaTests.backend();
        VMambaConfig c = VMambaConfig.named("vmamba_tiny_s1l8").withDepths(1, 1, 1, 1);
        VMambaWeights wt = VMambaRandomWeights.of(scope, c, 41);
        try (VMambaModel m = Ss2d.on(cuda).vmamba(wt)) {
            Tensor x = RandomWeights.gaussian(scope, 42, 1.0, 4, 3, 64, 64);
            Tensor xd = cuda.allocate(scope, DType.F32, x.shape());
            cuda.copy(x, xd);
            Tensor od = cuda.allocate(scope, DType.F32, 4, c.numClasses());
            m.logitsInto(xd, od);
            float[] first = download(od).toFloatArray();
            cuda.synchronize();
            long live = cuda.diagnostics().liveDeviceBytes();
            cuda.resetPeakDeviceBytes();
            for (int i = 0; i < 5; i++) m.logitsInto(xd, od);
            cuda.synchronize();
            assertEquals(live, cuda.diagnostics().liveDeviceBytes(), "live device bytes after 5 more calls");
            assertEquals(live, cuda.peakDeviceBytes().orElseThrow(), "peak device bytes over 5 more calls");
            assertTrue(java.util.Arrays.equals(first, download(od).toFloatArray()), "same input, same bits");

            Tensor big = RandomWeights.gaussian(scope, 43, 1.0, 6, 3, 96, 96);
            Tensor bigOut = m.logits(scope, big);
            assertWithin(VMambaRef.forward(wt, Doubles.of(big), 6, 96, 96).logits(), bigOut, "[cuda] after growing");
            m.logitsInto(xd, od);
            assertTrue(java.util.Arrays.equals(first, download(od).toFloatArray()), "the small shape again, same bits");
        }
    }

    @Test
    void closingTheModelFreesItsWeightsAndArenas() {
        CudaBackend cuda = CudaTests.backend();
        VMambaWeights wt = VMambaRandomWeights.of(scope, VMambaConfig.named("vanilla_vmamba_tiny").withDepths(1, 1, 1, 1), 44);
        Tensor x = RandomWeights.gaussian(scope, 45, 1.0, 2, 3, 32, 32);
        cuda.synchronize();
        long before = cuda.diagnostics().liveDeviceBytes();
        VMambaModel m = Ss2d.on(cuda).vmamba(wt);
        assertTrue(cuda.diagnostics().liveDeviceBytes() > before, "the weights are on the device");
        m.logits(scope, x).close();
        m.close();
        assertEquals(before, cuda.diagnostics().liveDeviceBytes(), "device bytes after close");
        var e = assertThrows(IllegalStateException.class, () -> m.logits(scope, x));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    /** The model uploads its weights itself: weights given as device tensors are an argument error naming the key. */
    @Test
    void deviceWeightsAreRejectedNamingTheKey() {
        CudaBackend cuda = CudaTests.backend();
        VMambaWeights host = VMambaRandomWeights.of(scope, VMambaConfig.named("vmamba_tiny_s2l5").withDepths(1, 1, 1, 1), 46);
        Map<String, Tensor> dict = new LinkedHashMap<>(host.params());
        Tensor hostHead = host.get("classifier.head.weight");
        Tensor d = cuda.allocate(scope, DType.F32, hostHead.shape());
        cuda.copy(hostHead, d);
        dict.put("classifier.head.weight", d);
        VMambaWeights mixed = VMambaWeights.fromStateDict(host.config(), dict);
        var e = assertThrows(Ss2dArgumentException.class, () -> Ss2d.on(cuda).vmamba(mixed));
        assertEquals("classifier.head.weight", e.argument());
    }

    @Test
    void profileNamesTheLayerKinds() {
        CudaBackend cuda = CudaTests.backend();
        VMambaWeights wt = VMambaRandomWeights.of(scope, VMambaConfig.named("vmamba_tiny_s1l8").withDepths(1, 1, 1, 1), 48);
        Tensor x = RandomWeights.gaussian(scope, 49, 1.0, 2, 3, 64, 64);
        try (VMambaModel m = Ss2d.on(cuda).vmamba(wt)) {
            m.logits(scope, x).close();
            assertTrue(m.profile().isEmpty(), "no profile while off");
            m.profiling(true);
            m.logits(scope, x).close();
            m.logits(scope, x).close();
            Map<String, Long> p = m.profile();
            // the fused middle is opt-in (FusedScan), so by default the block's middle runs as cross_scan, x_dt_proj,
            // scan and cross_merge (v05NozWithAndWithoutTheFusedScan runs the fused kernel too)
            for (String k : List.of("patch_embed", "norm_in", "in_proj", "conv_silu", "cross_scan", "x_dt_proj",
                    "scan", "cross_merge", "norm_out", "out_proj", "mlp", "downsample", "classifier")) {
                assertTrue(p.containsKey(k) && p.get(k) > 0, k + " in " + p);
            }
            m.profiling(false);
            Map<String, Double> steps = cuda.profileSteps(() -> m.logits(scope, x).close(), 2);
            assertTrue(steps.containsKey("patch_embed") && steps.containsKey("cross_scan")
                    && !steps.containsKey("fused_scan") && steps.containsKey("classifier"), steps.toString());
        }
    }

    @Test
    void anInputOverTheMemoryBudgetIsRejectedBeforeRunningAndTheModelStaysUsable() {
        CudaBackend cuda = CudaTests.backend();
        VMambaConfig c = VMambaConfig.named("vmamba_tiny_s1l8").withDepths(1, 1, 1, 1);
        VMambaWeights wt = VMambaRandomWeights.of(scope, c, 50);
        Tensor x = RandomWeights.gaussian(scope, 51, 1.0, 2, 3, 64, 64);
        String before = System.getProperty(MemoryBudget.PROPERTY);
        try (VMambaModel m = Ss2d.on(cuda).vmamba(wt)) {
            long live = cuda.diagnostics().liveDeviceBytes();
            System.setProperty(MemoryBudget.PROPERTY, "100000");
            var e = assertThrows(LimitExceededException.class, () -> m.logits(scope, x));
            assertTrue(e.getMessage().contains("over its memory budget of 100000 bytes"), e.getMessage());
            assertEquals(live, cuda.diagnostics().liveDeviceBytes(), "nothing was allocated");
            restore(before);
            assertWithin(VMambaRef.logits(wt, Doubles.of(x), 2, 64, 64), m.logits(scope, x), "[cuda] after the rejection");
        } finally {
            restore(before);
        }
    }

    private static void restore(String before) {
        if (before == null) System.clearProperty(MemoryBudget.PROPERTY);
        else System.setProperty(MemoryBudget.PROPERTY, before);
    }

    @Test
    void badInputsAreArgumentErrorsNamingTheArgument() {
        CudaBackend cuda = CudaTests.backend();
        VMambaConfig c = VMambaConfig.named("vanilla_vmamba_tiny").withDepths(1, 1, 1, 1);
        VMambaWeights wt = VMambaRandomWeights.of(scope, c, 52);
        try (VMambaModel m = Ss2d.on(cuda).vmamba(wt)) {
            var channels = assertThrows(Ss2dArgumentException.class,
                    () -> m.logits(scope, RandomWeights.gaussian(scope, 53, 1.0, 1, 4, 32, 32)));
            assertEquals("x", channels.argument());
            var small = assertThrows(Ss2dArgumentException.class,
                    () -> m.logits(scope, RandomWeights.gaussian(scope, 54, 1.0, 1, 3, 3, 3))); // below one 4x4 patch
            assertEquals("x", small.argument());
            Tensor x = RandomWeights.gaussian(scope, 55, 1.0, 2, 3, 32, 32);
            var out = assertThrows(Ss2dArgumentException.class,
                    () -> m.logitsInto(x, scope.allocate(DType.F32, 2, c.numClasses() + 1)));
            assertEquals("out", out.argument());
            // the model still answers correctly after the rejections
            assertWithin(VMambaRef.logits(wt, Doubles.of(x), 2, 32, 32), m.logits(scope, x), "[cuda] after bad inputs");
        }
        VMambaConfig huge = new VMambaConfig("custom", new int[] {8, 8, 8, 8}, new int[] {1, 1, 1, 1}, 300, 1.0, 0, 3,
                false, 0.0, VMambaConfig.ForwardType.V05_NOZ, VMambaConfig.PatchEmbed.V1, VMambaConfig.Downsample.V2, true,
                3, 3, 4);
        VMambaWeights hw = VMambaRandomWeights.of(scope, huge, 56);
        var e = assertThrows(LimitExceededException.class, () -> Ss2d.on(cuda).vmamba(hw));
        assertTrue(e.getMessage().contains("MAX_DSTATE"), e.getMessage());
    }
}
