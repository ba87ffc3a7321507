package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.model.RandomWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.RefMath;
import org.ss2d.reference.SS2DRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The depthwise convolution + activation kernels (conv_silu: {@code v2} of dwconv.cuh and the band kernel
 * {@code rows}, both kept; {@link DwconvPlan}) launched directly against the float64 reference on fresh random
 * inputs, outputs poisoned with NaN: odd shapes (1x1 to 57x61), k 3, 5, 7 and 1 (no v2 entry: the band kernel),
 * with and without bias, each activation, float32 and both 16-bit types, grids small enough that every kernel's
 * stride loop runs many times, and an input one element off the vector alignment.
 */
class CudaDwconvTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-dwconv-test");
    }

    @AfterEach
    void close() {
        scope.release();
    }

    /** {b, c, h, w, k}: odd and VMamba-like planes; W % 4 == 0 ones take the vector form of v2. */
    private static final long[][] SHAPES = {
        {2, 3, 1, 1, 3}, {2, 5, 7, 7, 3}, {1, 4, 3, 5, 3}, {1, 3, 57, 61, 3}, {2, 6, 14, 14, 3}, {1, 3, 56, 56, 3},
        {2, 4, 28, 28, 3}, {1, 3, 9, 12, 5}, {2, 3, 13, 8, 7}, {1, 2, 4, 4, 5}, {1, 3, 9, 10, 1}, {1, 2, 2, 9, 3},
    };

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int i = 0;
        for (long[] s : SHAPES) {
            for (DType d : List.of(DType.F32, DType.BF16, DType.F16)) {
                for (String variant : List.of("v2", "rows")) {
                    boolean bias = (i & 1) == 0;
                    int act = i % 3; // none, SiLU, GELU in turn
                    out.add(Arguments.of(variant, d, s[0], s[1], s[2], s[3], s[4], bias, act));
                }
                i++;
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} ({2},{3},{4},{5}) k{6} bias {7} act {8}")
    @MethodSource("cases")
    void matchesTheFloat64Reference(String variant, DType d, long b, long c, long h, long w, long k, boolean bias,
                                    int act) {
        Run r = run(variant, d, b, c, h, w, k, bias, act, 0, 0, 11 + b * c * h * w + k);
        r.check();
    }

    /** More (b, c) planes than the grid: each kernel's stride loop runs dozens of times (cap 3 blocks) or a few. */
    @ParameterizedTest(name = "{0} {1} cap {2}")
    @MethodSource("loops")
    void gridStrideLoopsCoverEveryPlane(String variant, DType d, long cap) {
        run(variant, d, 8, 200, 14, 14, 3, true, Layers.ACT_SILU, cap, 0, 5).check();
        run(variant, d, 3, 50, 28, 28, 3, false, Layers.ACT_SILU, cap, 0, 6).check();
    }

    static Stream<Arguments> loops() {
        List<Arguments> out = new ArrayList<>();
        for (String v : List.of("v2", "rows")) {
            for (DType d : List.of(DType.F32, DType.BF16)) {
                out.add(Arguments.of(v, d, 3L));
                out.add(Arguments.of(v, d, 0L));
            }
        }
        return out.stream();
    }

    /** x and out one element past an aligned address: W % 4 == 0 but no vector access is allowed. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dtypes")
    void misalignedTensorsTakeTheScalarForm(DType d) {
        Run r = run("v2", d, 2, 3, 8, 56, 3, true, Layers.ACT_SILU, 0, 1, 9);
        assertFalse(r.plan.kernel().contains("_vec"), r.plan.kernel());
        r.check();
        Run aligned = run("v2", d, 2, 3, 8, 56, 3, true, Layers.ACT_SILU, 0, 0, 9);
        assertTrue(aligned.plan.kernel().contains("_vec"), aligned.plan.kernel());
        aligned.check();
    }

    static Stream<DType> dtypes() {
        return Stream.of(DType.F32, DType.BF16, DType.F16);
    }

    /** v2 sums the taps in the band kernel's order: the same values (up to the sign of a zero) for every dtype. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dtypes")
    void v2GivesTheBandKernelsValues(DType d) {
        for (long[] s : SHAPES) {
            Run a = run("v2", d, s[0], s[1], s[2], s[3], s[4], true, Layers.ACT_SILU, 0, 0, 21);
            Run b = run("rows", d, s[0], s[1], s[2], s[3], s[4], true, Layers.ACT_SILU, 0, 0, 21);
            for (int i = 0; i < a.got.length; i++) {
                if (!(a.got[i] == b.got[i])) {
                    fail("cuda dwconv " + d + " (" + s[0] + "," + s[1] + "," + s[2] + "," + s[3] + ") k" + s[4] + ": "
                            + a.plan.kernel() + " gives " + a.got[i] + ", " + b.plan.kernel() + " " + b.got[i]
                            + " at element " + i);
                }
            }
        }
    }

    /** Through the model's launchers (Layers.dwconv / dwconvHalf) with each value of the property, every dtype. */
    @Test
    void theModelsLaunchersRunTheConfiguredKernel() {
        CudaTests.backend();
        String old = System.getProperty(DwconvPlan.PROPERTY);
        try {
            for (String v : List.of("rows", "v2")) {
                System.setProperty(DwconvPlan.PROPERTY, v);
                for (DType d : List.of(DType.F32, DType.BF16, DType.F16)) {
                    Run r = run(null, d, 2, 8, 56, 56, 3, false, Layers.ACT_SILU, 0, 0, 3);
                    assertTrue(r.plan.kernel().startsWith(v.equals("v2") ? "ss2d_dwconv2d_v2_k3_vec" : "ss2d_dwconv2d_rows"),
                            r.plan.kernel());
                    r.check();
                }
            }
        } finally {
            if (old == null) System.clearProperty(DwconvPlan.PROPERTY);
            else System.setProperty(DwconvPlan.PROPERTY, old);
        }
    }

    /** One launch and what it wrote: {@code variant} null goes through the model's launchers (Layers.dwconv / dwconvHalf). */
    private Run run(String variant, DType d, long b, long c, long h, long w, long k, boolean withBias, int act,
                    long cap, long offset, long seed) {
        CudaBackend cuda = CudaTests.backend();
        CudaDevice dev = cuda.device();
        long n = b * c * h * w, es = d.byteSize();
        Tensor hx = scope.convert(RandomWeights.gaussian(scope, seed, 1.0, n + offset), d);
        Tensor hw = RandomWeights.gaussian(scope, seed + 1, 0.4, c * k * k);
        Tensor hb = withBias ? RandomWeights.gaussian(scope, seed + 2, 0.5, c) : null;
        Tensor poison = scope.allocate(d, n + offset).fill(Float.NaN);
        Tensor dx = cuda.allocate(scope, d, n + offset), dw = cuda.allocate(scope, DType.F32, c * k * k);
        Tensor dout = cuda.allocate(scope, d, n + offset);
        Tensor db = withBias ? cuda.allocate(scope, DType.F32, c) : null;
        cuda.copy(hx, dx);
        cuda.copy(hw, dw);
        if (withBias) cuda.copy(hb, db);
        cuda.copy(poison, dout);
        long x = HostStaging.address(dx) + offset * es, out = HostStaging.address(dout) + offset * es;
        long wa = HostStaging.address(dw), ba = withBias ? HostStaging.address(db) : 0;
        long kind = d == DType.F32 ? 0 : d == DType.F16 ? 1 : 2;
        DwconvPlan plan = DwconvPlan.of(variant == null ? DwconvPlan.configured() : variant, kind, x, out, b, c, h, w, k,
                cap > 0 ? cap : DwconvPlan.defaultCap(dev.smCount));
        synchronized (cuda) {
            dev.makeCurrent();
            if (variant != null) Layers.dwconv(dev, plan, x, wa, ba, out, b, c, h, w, k, act);
            else if (kind == 0) Layers.dwconv(dev, x, wa, ba, out, b, c, h, w, k, act);
            else Layers.dwconvHalf(dev, kind, x, wa, ba, out, b, c, h, w, k, act);
        }
        cuda.synchronize();
        Tensor back = scope.allocate(d, n + offset);
        cuda.copy(dout, back);
        float[] all = back.toFloatArray(), xs = hx.toFloatArray();
        if (offset > 0) assertTrue(Float.isNaN(all[0]), "cuda dwconv " + plan.kernel() + " wrote before out");
        float[] got = java.util.Arrays.copyOfRange(all, (int) offset, all.length);
        double[] xd = new double[(int) n];
        for (int i = 0; i < n; i++) xd[i] = xs[i + (int) offset];
        double[] ref = SS2DRef.depthwiseConv(xd, Doubles.of(hw), withBias ? Doubles.of(hb) : null, (int) b, (int) c,
                (int) h, (int) w, (int) k);
        for (int i = 0; i < ref.length; i++) {
            ref[i] = act == Layers.ACT_SILU ? RefMath.silu(ref[i]) : act == Layers.ACT_GELU ? RefMath.gelu(ref[i]) : ref[i];
        }
        String who = "cuda dwconv " + plan.kernel() + " " + d + " (" + b + "," + c + "," + h + "," + w + ") k" + k
                + " bias " + withBias + " act " + act + (offset > 0 ? " offset " + offset : "");
        return new Run(plan, got, ref, d, who);
    }

    private record Run(DwconvPlan plan, float[] got, double[] ref, DType d, String who) {
        /** Per element: the dtype's rounding (2^-8 bfloat16, 2^-10 float16, 1e-6 float32) plus 1e-5 of the largest |ref|. */
        void check() {
            double scale = 0;
            for (double v : ref) scale = Math.max(scale, Math.abs(v));
            double u = d == DType.BF16 ? 0x1p-8 : d == DType.F16 ? 0x1p-10 : 1e-6;
            for (int i = 0; i < ref.length; i++) {
                double tol = u * Math.abs(ref[i]) + 1e-5 * scale;
                if (!(Math.abs(got[i] - ref[i]) <= tol)) {
                    fail(who + ": element " + i + " is " + got[i] + ", float64 reference " + ref[i] + " (tolerance " + tol + ")");
                }
            }
        }
    }
}
