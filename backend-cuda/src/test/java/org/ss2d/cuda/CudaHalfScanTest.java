package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ss2d.cuda.CudaTests.assertClose;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The selective scan on float16/bfloat16 activations on the GPU (host and device tensors, out in the input
 * dtype and with out_float32) against the float64 reference on the same rounded inputs. Budget: the float32
 * one (1e-4) plus one rounding of out's dtype, relative to max |out|. {@link #everyHalfKernelAndTheWidenedPath} and
 * {@link #eightStatesPerLaneOnWideShapes} reach every 16-bit kernel family ({@code ScanLauncher.planHalf}: n1seg_k8,
 * n1seg_k4, n1row_k8, pipe ..._h8/_h4/_h1 at every lanes-per-channel width) and run each case again with
 * {@code -Dss2d.cuda.half=widen} (the float32 kernels on widened copies); failures name the kernel. Skips without
 * a GPU.
 */
class CudaHalfScanTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-half-scan-test");
    }

    @AfterEach
    void close() {
        scope.release();
    }

    /** The reference with out in float32: the float64 answer rounded once to float32, what a half out is judged by. */
    private static ScanArgs float32Out(ScanArgs a) {
        return new ScanArgs(a.u(), a.delta(), a.A(), a.B(), a.C(), a.D(), a.z(), a.deltaBias(), a.deltaSoftplus(),
                a.returnLastState(), true);
    }

    private Tensor half(DType d, Tensor t) {
        return scope.convert(t, d);
    }

    @ParameterizedTest(name = "{0} out_float32={1} Bt={2} Dm={3} L={4} N={5} G={6}")
    @CsvSource({"BF16, false, 2, 8, 2049, 1, 4", "BF16, true, 2, 8, 2049, 1, 4", "F16, false, 1, 4, 1000, 16, 1",
            "F16, true, 1, 4, 1000, 16, 1", "BF16, false, 1, 32, 130, 4, 2", "F16, false, 2, 4, 33, 3, 1",
            // dstate 1, L % 8 == 0: the 16-byte kernel (ScanLauncher.planHalf), one row per virtual row at these sizes
            // (joinedRowsOnTheSixteenByteKernel joins them)
            "BF16, false, 2, 8, 2048, 1, 4", "BF16, true, 2, 8, 2048, 1, 4", "F16, false, 4, 16, 784, 1, 4",
            "F16, true, 4, 16, 784, 1, 4", "BF16, false, 2, 64, 104, 1, 2"})
    void halfActivationsMatchTheReferenceOnTheRoundedInputs(DType d, boolean oflex, int b, int dm, int l, int n, int g) {
        halfActivationsMatchTheReferenceOnTheRoundedInputs(d, oflex, b, dm, l, n, g,
                CudaTests.backend().diagnostics().scanKernelFor(new org.ss2d.ops.ScanShape(b, dm, l, n, g,
                        org.ss2d.ops.BCMode.GROUPED, g > 1 ? org.ss2d.ops.BCMode.GROUPED : org.ss2d.ops.BCMode.CONSTANT),
                        d, oflex ? DType.F32 : d));
    }

    private void halfActivationsMatchTheReferenceOnTheRoundedInputs(DType d, boolean oflex, int b, int dm, int l, int n,
                                                                    int g, String kernel) {
        CudaBackend cuda = CudaTests.backend();
        ScanArgs args = halfArgs(d, oflex, b, dm, l, n, g);
        DType outType = oflex ? DType.F32 : d;
        double tol = 1e-4 + HalfFloats.unitRoundoff(outType);
        String what = "cuda " + kernel + " " + d + " out_float32=" + oflex + " (" + b + ", " + dm + ", " + l + ", " + n + ", "
                + g + ")";
        try (ScanArgs.Result ref = Ss2d.on("reference").selectiveScan(scope, float32Out(args));
             ScanArgs.Result got = Ss2d.on(cuda).selectiveScan(scope, args)) {
            assertEquals(outType, got.out().dtype(), what);
            assertClose(got.out(), ref.out(), tol, what + " out");
            assertClose(got.lastState(), ref.lastState(), 1e-4, what + " last_state");
        }
        // device-resident: upload the half tensors as they are, out on the device in its dtype
        Ss2d gpu = Ss2d.on(cuda);
        Tensor[] t = args.tensors();
        Tensor[] dv = new Tensor[t.length];
        for (int i = 0; i < t.length; i++) dv[i] = t[i] == null ? null : gpu.toDevice(scope, t[i]);
        ScanArgs dev = new ScanArgs(dv[0], dv[1], dv[2], dv[3], dv[4], dv[5], dv[6], dv[7], true, false, oflex);
        Tensor out = cuda.allocate(scope, outType, b, dm, l);
        gpu.selectiveScanInto(dev, out, null);
        try (ScanArgs.Result ref = Ss2d.on("reference").selectiveScan(scope, float32Out(args)); Tensor back = gpu.toHost(scope, out)) {
            assertClose(back, ref.out(), tol, what + " device out");
        }
    }

    /** Runs {@code check} on the 16-bit kernels and again on the widened path ({@code -Dss2d.cuda.half=widen}). */
    private static void bothPaths(java.util.function.Consumer<String> check) {
        String old = System.getProperty(ScanLauncher.HALF_PROPERTY);
        try {
            for (String path : new String[] {"kernels", "widen"}) {
                System.setProperty(ScanLauncher.HALF_PROPERTY, path);
                check.accept(path);
            }
        } finally {
            if (old == null) System.clearProperty(ScanLauncher.HALF_PROPERTY);
            else System.setProperty(ScanLauncher.HALF_PROPERTY, old);
        }
    }

    /** Checks one case on the kernel whose name contains {@code expect} (asserted first), then on the widened path. */
    private void onKernelAndWidened(DType d, boolean oflex, int b, int dm, int l, int n, int g, String expect) {
        CudaBackend cuda = CudaTests.backend();
        org.ss2d.ops.ScanShape shape = new org.ss2d.ops.ScanShape(b, dm, l, n, g, org.ss2d.ops.BCMode.GROUPED,
                g > 1 ? org.ss2d.ops.BCMode.GROUPED : org.ss2d.ops.BCMode.CONSTANT);
        bothPaths(path -> {
            String kernel = cuda.diagnostics().scanKernelFor(shape, d, oflex ? DType.F32 : d);
            if (path.equals("kernels")) {
                assertTrue(kernel.contains(expect), "expected a kernel containing " + expect + ", planned " + kernel);
            } else {
                assertTrue(kernel.startsWith("widened:"), "widen: planned " + kernel);
            }
            halfActivationsMatchTheReferenceOnTheRoundedInputs(d, oflex, b, dm, l, n, g, kernel);
        });
    }

    /**
     * The cases of {@link #everyHalfKernelAndTheWidenedPath}: dtype, out_float32, batch, dim, seqlen, dstate, groups
     * and a part of the kernel's name that {@code planHalf} must choose ({@code HalfScanPlanTest} checks that choice
     * at 132 SMs without a GPU). The pipe kernels need a group's channels to fill a warp's rows (32 / lanes).
     */
    static final String[] KERNEL_CASES = {
            // dstate 1: 16-byte words, 8-byte words (L % 8 != 0: S4's 196), 16-bit loads (odd L)
            "BF16, false, 2, 32, 2048, 1, 4, n1seg_k8_bf16_oh", "F16, true, 2, 32, 2048, 1, 4, n1seg_k8_f16_of",
            "BF16, false, 2, 32, 196, 1, 4, n1seg_k4_bf16_oh", "F16, true, 2, 32, 196, 1, 4, n1seg_k4_f16_of",
            "BF16, true, 2, 16, 1028, 1, 2, n1seg_k4_bf16_of", "F16, false, 2, 16, 1028, 1, 1, n1seg_k4_f16_oh",
            "BF16, true, 2, 8, 49, 1, 1, n1row_k8_bf16_of", "F16, false, 3, 8, 2049, 1, 2, n1row_k8_f16_oh",
            "BF16, false, 1, 4, 7, 1, 1, n1row_k8_bf16_oh",
            // dstate 16: the pipe kernel with 16-byte, 8-byte and 2-byte pieces, tiles ending inside and at 16 steps
            "BF16, false, 2, 32, 3136, 16, 4, _h8", "F16, true, 2, 32, 3136, 16, 4, _h8",
            "BF16, true, 2, 32, 196, 16, 4, _h4", "F16, false, 2, 32, 196, 16, 2, _h4",
            "BF16, false, 2, 32, 49, 16, 1, _h1", "F16, true, 1, 32, 2049, 16, 2, _h1", "BF16, true, 2, 32, 15, 16, 2, _h1",
            // every lanes-per-channel width at 4 states per lane (1, 2, 4, 8 lanes), padding states (N = 3, 5)
            "BF16, false, 2, 64, 128, 2, 2, pipe_l1_s4_h8", "F16, true, 2, 32, 100, 3, 1, pipe_l1_s4_h4",
            "BF16, true, 2, 32, 64, 5, 2, pipe_l2_s4_h8", "F16, false, 2, 32, 37, 8, 2, pipe_l2_s4_h1",
            "BF16, false, 2, 32, 136, 32, 2, pipe_l8_s4_h8", "F16, true, 1, 32, 48, 64, 2, pipe_l8_s8_h8"
    };

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> kernelCases() {
        return java.util.Arrays.stream(KERNEL_CASES).map(row -> row.split(",\\s*")).map(f ->
                org.junit.jupiter.params.provider.Arguments.of(DType.valueOf(f[0]), Boolean.parseBoolean(f[1]),
                        Integer.parseInt(f[2]), Integer.parseInt(f[3]), Integer.parseInt(f[4]), Integer.parseInt(f[5]),
                        Integer.parseInt(f[6]), f[7]));
    }

    @ParameterizedTest(name = "{7}: {0} out_float32={1} Bt={2} Dm={3} L={4} N={5} G={6}")
    @org.junit.jupiter.params.provider.MethodSource("kernelCases")
    void everyHalfKernelAndTheWidenedPath(DType d, boolean oflex, int b, int dm, int l, int n, int g, String expect) {
        onKernelAndWidened(d, oflex, b, dm, l, n, g, expect);
    }

    /**
     * 8 states per lane (pipe_l2_s8 at dstate 16, pipe_l4_s8 at 32) is the choice only where 4 would take more than
     * one wave of 16 warps per SM: dim sized by the device's SM count.
     */
    @org.junit.jupiter.api.Test
    void eightStatesPerLaneOnWideShapes() {
        int sm = CudaTests.backend().diagnostics().smCount();
        int dm16 = (66 * sm + 15) / 16 * 16, dm32 = (34 * sm + 7) / 8 * 8;
        onKernelAndWidened(DType.BF16, false, 2, dm16, 40, 16, 1, "pipe_l2_s8_h8");
        onKernelAndWidened(DType.F16, true, 2, dm32, 24, 32, 1, "pipe_l4_s8_h8");
    }

    /** The inputs of a case, seeded by its sizes: 16-bit u, delta, z and B (and C with groups), float32 A, D, bias. */
    ScanArgs halfArgs(DType d, boolean oflex, int b, int dm, int l, int n, int g) {
        long seed = 31L * l + n;
        Tensor u = half(d, RandomWeights.uniform(scope, seed, -1, 1, b, dm, l));
        Tensor delta = half(d, RandomWeights.uniform(scope, seed + 1, -4, 1, b, dm, l));
        Tensor a = RandomWeights.uniform(scope, seed + 2, -2, -0.1, dm, n);
        Tensor bm = half(d, RandomWeights.uniform(scope, seed + 3, -1, 1, b, g, n, l));
        // C grouped like B (16-bit) where there are groups: the facade takes no constant C beside a B of several
        // groups (one group count for both); with one group a constant C, float32 (mamba's rule)
        Tensor cm = g > 1 ? half(d, RandomWeights.uniform(scope, seed + 4, -1, 1, b, g, n, l))
                : RandomWeights.uniform(scope, seed + 4, -1, 1, dm, n);
        Tensor z = half(d, RandomWeights.uniform(scope, seed + 5, -2, 2, b, dm, l));
        return ScanArgs.builder(u, delta, a, bm, cm).z(z)
                .D(RandomWeights.uniform(scope, seed + 6, 0.5, 1.5, dm))
                .deltaBias(RandomWeights.uniform(scope, seed + 7, -1, 0.5, dm))
                .deltaSoftplus(true).returnLastState(true).outFloat32(oflex).build();
    }

    /**
     * The 16-byte kernel with rows joined into virtual rows (RS = 4: a reset inside a lane's chunk, B indexed by the
     * step within the row), which needs enough channels to leave 64 warps per SM: dim = 128 x SMs (16896 on an H100).
     * The shapes above are too small for it, so RS > 1 would otherwise run only in benchmarks, unchecked.
     */
    @org.junit.jupiter.api.Test
    void joinedRowsOnTheSixteenByteKernel() {
        CudaBackend cuda = CudaTests.backend();
        int sm = cuda.diagnostics().smCount(), b = 2, dm = 128 * sm, l = 104, g = 4;
        long[] p = ScanParams.forShape(new org.ss2d.ops.ScanShape(b, dm, l, 1, g, org.ss2d.ops.BCMode.GROUPED,
                org.ss2d.ops.BCMode.GROUPED), true);
        p[ScanParams.U] = p[ScanParams.DELTA] = p[ScanParams.OUT] = p[ScanParams.B] = p[ScanParams.C] = p[ScanParams.Z] = 1 << 20;
        ScanLauncher.Plan plan = ScanLauncher.planHalf(p, 2, true, sm);
        assertEquals(4, plan.extraArg(), "rows per virtual row of " + plan.kernel() + " at dim " + dm);
        halfActivationsMatchTheReferenceOnTheRoundedInputs(DType.BF16, false, b, dm, l, 1, g);
        halfActivationsMatchTheReferenceOnTheRoundedInputs(DType.F16, true, b, dm, l, 1, g);
    }

    @org.junit.jupiter.api.Test
    void float16OutPast65504IsInfinityOnTheGpuAndOutFloat32KeepsIt() {
        CudaBackend cuda = CudaTests.backend();
        Tensor u = half(DType.F16, RandomWeights.uniform(scope, 1, 250, 350, 1, 3, 40));
        Tensor delta = half(DType.F16, RandomWeights.uniform(scope, 2, 0.01, 0.1, 1, 3, 40));
        Tensor a = RandomWeights.uniform(scope, 3, -1, -0.5, 3, 1);
        Tensor bm = RandomWeights.uniform(scope, 4, -1, 1, 3, 1), cm = RandomWeights.uniform(scope, 5, -1, 1, 3, 1);
        Tensor dd = RandomWeights.uniform(scope, 6, 900, 1100, 3);
        try (ScanArgs.Result h = Ss2d.on(cuda).selectiveScan(scope, ScanArgs.builder(u, delta, a, bm, cm).D(dd).build());
             ScanArgs.Result o = Ss2d.on(cuda).selectiveScan(scope, ScanArgs.builder(u, delta, a, bm, cm).D(dd).outFloat32(true).build())) {
            float[] hv = h.out().toFloatArray(), ov = o.out().toFloatArray();
            for (int i = 0; i < hv.length; i++) {
                assertTrue(ov[i] > HalfFloats.F16_MAX && Float.isFinite(ov[i]), "out_float32 element " + i + " = " + ov[i]);
                assertEquals(Float.POSITIVE_INFINITY, hv[i], "float16 out element " + i);
            }
        }
    }
}
