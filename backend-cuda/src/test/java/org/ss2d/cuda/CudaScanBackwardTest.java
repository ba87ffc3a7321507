package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ss2d.cuda.CudaTests.assertClose;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanGrads;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The selective scan backward on the GPU against the float64 adjoint (the reference backend), on fresh seeded
 * inputs with NaN-poisoned gradient outputs: every B/C layout and option, dstate 1..256 (every kernel of
 * {@link ScanBackwardLauncher}, one and several slices of variable dB/dC), odd and long sequences; device tensors;
 * bit-identical gradients run to run; bad input refused. At dstate 1..16 every check runs both kernel families
 * ({@code -Dss2d.cuda.scanBackward=v1}, the lane-per-row kernel, and the default {@code v3}: the v2 kernels at dstate 1,
 * v3 at 2..16, both parallel over time), and a failure names the family. Budget: 2e-4 of each gradient's largest magnitude (the
 * conformance suite's {@code selective_scan_backward} budget, TOLERANCES.md).
 */
class CudaScanBackwardTest {
    private static final double TOL = 2e-4;
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-scan-backward-test");
    }

    @AfterEach
    void close() {
        scope.release();
    }

    record Case(int batch, int dim, int seqlen, int dstate, int groups, BCMode b, BCMode c, boolean d, boolean z,
                boolean bias, boolean softplus, boolean dlast) {
        @Override
        public String toString() {
            return "cuda selective_scan_backward f32 (batch " + batch + ", dim " + dim + ", seqlen " + seqlen
                    + ", dstate " + dstate + ", groups " + groups + ", B " + b + ", C " + c + (d ? ", D" : "")
                    + (z ? ", z" : "") + (bias ? ", delta_bias" : "") + (softplus ? ", softplus" : "")
                    + (dlast ? ", dlast_state" : "") + ")";
        }
    }

    /** The kernel families a case runs on: v1 and the default up to dstate 16 (v2 at 1, v3 at 2..16), else v1's. */
    static List<String> variants(Case c) {
        return c.dstate() <= ScanBackwardLauncher.V3_MAX_DSTATE ? List.of("v1", "v3") : List.of("v3");
    }

    /** f with {@link ScanBackwardLauncher#PROPERTY} set to {@code variant}, the property restored after. */
    static <T> T onVariant(String variant, Supplier<T> f) {
        String old = System.getProperty(ScanBackwardLauncher.PROPERTY);
        System.setProperty(ScanBackwardLauncher.PROPERTY, variant);
        try {
            return f.get();
        } finally {
            if (old == null) System.clearProperty(ScanBackwardLauncher.PROPERTY);
            else System.setProperty(ScanBackwardLauncher.PROPERTY, old);
        }
    }

    static String kernel(Case c, String variant) {
        if (variant.equals("v1") || c.dstate() > ScanBackwardLauncher.V3_MAX_DSTATE) return "kernel v1 (a lane per row)";
        return c.dstate() == 1 ? "kernel v2 (dstate 1, parallel over time)" : "kernel v3 (dstate 2..16, parallel over time)";
    }

    static Stream<Case> cases() {
        BCMode g = BCMode.GROUPED, v = BCMode.VARIABLE, k = BCMode.CONSTANT;
        List<Case> cs = new ArrayList<>();
        for (BCMode bm : BCMode.values()) {
            for (BCMode cm : BCMode.values()) {
                int gr = bm == g && cm == g ? 2 : 1;
                cs.add(new Case(2, 8, 37, 3, gr, bm, cm, true, true, true, true, true));
                cs.add(new Case(2, 8, 37, 1, gr, bm, cm, false, false, false, false, false));
                cs.add(new Case(2, 8, 70, 16, gr, bm, cm, true, true, true, true, true));
            }
        }
        // seqlen around the segment lengths (8, 16, 32) and long rows
        for (int l : new int[] {1, 2, 7, 15, 16, 17, 31, 32, 33, 127, 129, 2049}) {
            cs.add(new Case(2, 8, l, 1, 4, g, g, true, true, true, true, true));
            cs.add(new Case(1, 8, l, 16, 2, g, g, true, true, true, true, true));
        }
        // every kernel: dstate classes (1, 4, 8 states per lane; 1..32 lanes per channel)
        for (int n : new int[] {2, 4, 5, 8, 9, 16, 17, 32, 33, 64, 65, 128, 129, 256}) {
            cs.add(new Case(2, 8, 45, n, 1, v, v, true, n % 2 == 0, true, true, true));
        }
        cs.add(new Case(2, 6, 50, 16, 1, k, k, true, true, true, true, true));   // 6 channels: 2 lanes per channel
        cs.add(new Case(3, 7, 40, 1, 1, g, g, true, false, true, true, true));   // 7 channels: 32 lanes per channel
        cs.add(new Case(2, 12, 41, 4, 3, g, g, true, true, false, false, true)); // 4 channels per group
        // many channels: several blocks per group (slices of dB/dC summed afterwards), 8 warps per block
        cs.add(new Case(2, 1024, 67, 16, 1, g, g, true, true, true, true, true));
        cs.add(new Case(4, 768, 50, 1, 4, g, g, true, false, true, true, false)); // VMamba's dstate 1, 4 groups
        cs.add(new Case(2, 512, 33, 16, 2, k, v, true, true, true, true, true));
        // large seqlen at dstate 16 (S5's per-channel shape)
        cs.add(new Case(1, 16, 4099, 16, 1, g, g, true, false, true, true, true));
        cs.add(new Case(1, 8, 4096, 1, 1, g, g, true, true, true, true, true));
        // dstate 1 on v2: many 128-step chunks, two channels a warp and several slices, constant B/C, odd long rows
        cs.add(new Case(2, 64, 3136, 1, 4, g, g, true, true, true, true, true));
        cs.add(new Case(2, 16, 1000, 1, 1, k, k, true, true, true, true, true));
        cs.add(new Case(2, 24, 389, 1, 2, v, k, true, true, false, true, true));
        // dstate 2..16 on v3: many 128-step chunks, 4 warps walking a group's channels, tiles of 32 constant-B/C
        // channels (a partial last tile), mixed B/C, odd long rows
        cs.add(new Case(2, 64, 3136, 16, 4, g, g, true, true, true, true, true));
        cs.add(new Case(2, 70, 1000, 5, 1, k, k, true, true, true, true, true));
        cs.add(new Case(2, 24, 389, 2, 2, v, k, true, true, false, true, true));
        // constant B beside a grouped C: one group (the facade takes no constant B or C beside several groups)
        cs.add(new Case(1, 12, 517, 8, 1, k, g, true, false, true, false, true));
        return cs.stream();
    }

    static Tensor bc(TensorScope s, BCMode m, long seed, Case c) {
        return switch (m) {
            case CONSTANT -> RandomWeights.gaussian(s, seed, 1.0, c.dim(), c.dstate());
            case VARIABLE -> RandomWeights.gaussian(s, seed, 1.0, c.batch(), c.dstate(), c.seqlen());
            case GROUPED -> RandomWeights.gaussian(s, seed, 1.0, c.batch(), c.groups(), c.dstate(), c.seqlen());
        };
    }

    /** Inputs of a case; delta kept positive without softplus, spanning the softplus threshold region with it. */
    record Inputs(ScanArgs args, Tensor dout, Tensor dlast) {}

    Inputs inputs(Case c, long seed) {
        Tensor u = RandomWeights.gaussian(scope, seed, 1.0, c.batch(), c.dim(), c.seqlen());
        Tensor delta = c.softplus() ? RandomWeights.uniform(scope, seed + 1, -4, 1, c.batch(), c.dim(), c.seqlen())
                : RandomWeights.uniform(scope, seed + 1, 0.001, 0.2, c.batch(), c.dim(), c.seqlen());
        Tensor a = RandomWeights.uniform(scope, seed + 2, -2, -0.05, c.dim(), c.dstate());
        ScanArgs.Builder bld = ScanArgs.builder(u, delta, a, bc(scope, c.b(), seed + 3, c), bc(scope, c.c(), seed + 4, c))
                .deltaSoftplus(c.softplus());
        if (c.d()) bld.D(RandomWeights.gaussian(scope, seed + 5, 1.0, c.dim()));
        if (c.z()) bld.z(RandomWeights.gaussian(scope, seed + 6, 1.0, c.batch(), c.dim(), c.seqlen()));
        if (c.bias()) {
            bld.deltaBias(c.softplus() ? RandomWeights.uniform(scope, seed + 7, -1, 0.5, c.dim())
                    : RandomWeights.uniform(scope, seed + 7, 0, 0.05, c.dim()));
        }
        Tensor dout = RandomWeights.gaussian(scope, seed + 8, 1.0, c.batch(), c.dim(), c.seqlen());
        Tensor dlast = c.dlast() ? RandomWeights.gaussian(scope, seed + 9, 1.0, c.batch(), c.dim(), c.dstate()) : null;
        return new Inputs(bld.build(), dout, dlast);
    }

    /** Host gradient outputs filled with NaN, shaped as the inputs. */
    ScanGrads poisoned(ScanArgs a) {
        Tensor[] in = a.tensors(), out = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) {
            out[i] = in[i] == null ? null : scope.allocate(DType.F32, in[i].shape()).fill(Float.NaN);
        }
        return ScanGrads.of(out);
    }

    void assertGradsClose(Case c, String how, ScanGrads got, ScanGrads want) {
        Tensor[] g = got.tensors(), w = want.tensors();
        for (int i = 0; i < g.length; i++) {
            String who = c + " " + how + " " + ScanGrads.NAMES[i];
            if (w[i] == null) {
                assertNull(g[i], who);
                continue;
            }
            assertClose(g[i], w[i], TOL, who);
        }
    }

    /**
     * Every case is input the facade takes, checked without a GPU (the Validator, as the CUDA backend's facade calls
     * it), so that a case it refuses fails here and not only on the GPU host.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyCaseIsInputTheFacadeTakes(Case c) {
        Inputs in = inputs(c, 31L * c.hashCode());
        org.ss2d.spi.Capabilities caps = new org.ss2d.spi.Capabilities(256, java.util.Set.of(DType.F32), false, "test",
                0, false, 1);
        org.ss2d.ops.ScanShape s = org.ss2d.validate.Validator.selectiveScanBackward(in.args(), in.dout(), in.dlast(),
                caps, "cuda");
        assertArrayEquals(new long[] {c.batch(), c.dim(), c.seqlen(), c.dstate()},
                new long[] {s.batch(), s.dim(), s.seqlen(), s.dstate()}, c.toString());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void hostTensorsMatchTheFloat64Adjoint(Case c) {
        CudaBackend cuda = CudaTests.backend();
        Inputs in = inputs(c, 31L * c.hashCode());
        try (ScanGrads want = Ss2d.on("reference").selectiveScanBackward(scope, in.args(), in.dout(), in.dlast())) {
            for (String variant : variants(c)) {
                ScanGrads got = poisoned(in.args());
                onVariant(variant, () -> {
                    Ss2d.on(cuda).selectiveScanBackwardInto(in.args(), in.dout(), in.dlast(), got);
                    return null;
                });
                assertGradsClose(c, "host tensors, " + kernel(c, variant), got, want);
                got.close();
            }
        }
    }

    /** Inputs uploaded once, gradients into device tensors poisoned with NaN bits on the device. */
    @Test
    void deviceTensorsMatchTheFloat64Adjoint() {
        CudaBackend cuda = CudaTests.backend();
        Ss2d gpu = Ss2d.on(cuda);
        for (Case c : List.of(new Case(2, 256, 300, 16, 2, BCMode.GROUPED, BCMode.GROUPED, true, true, true, true, true),
                new Case(4, 96, 196, 1, 4, BCMode.GROUPED, BCMode.GROUPED, true, false, true, true, false)))
        for (String variant : variants(c)) {
            Inputs h = inputs(c, 4242 + c.dstate());
            Tensor[] t = h.args().tensors();
            Tensor[] d = new Tensor[t.length];
            for (int i = 0; i < t.length; i++) d[i] = t[i] == null ? null : gpu.toDevice(scope, t[i]);
            ScanArgs dev = new ScanArgs(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], h.args().deltaSoftplus(), false);
            Tensor dout = gpu.toDevice(scope, h.dout());
            Tensor dlast = h.dlast() == null ? null : gpu.toDevice(scope, h.dlast());
            Tensor[] g = new Tensor[t.length];
            for (int i = 0; i < t.length; i++) {
                if (t[i] == null) continue;
                g[i] = cuda.allocate(scope, DType.F32, t[i].shape());
                cuda.diagnostics().fillBits(g[i], 0x7fc00000);
            }
            onVariant(variant, () -> {
                gpu.selectiveScanBackwardInto(dev, dout, dlast, ScanGrads.of(g));
                return null;
            });
            Tensor[] back = new Tensor[g.length];
            for (int i = 0; i < g.length; i++) back[i] = g[i] == null ? null : gpu.toHost(scope, g[i]);
            try (ScanGrads want = Ss2d.on("reference").selectiveScanBackward(scope, h.args(), h.dout(), h.dlast())) {
                assertGradsClose(c, "device tensors, " + kernel(c, variant), ScanGrads.of(back), want);
            }
        }
    }

    /** Every gradient, the reduced ones (dA, dD, delta_bias, constant and sliced variable dB/dC) included, twice. */
    @Test
    void sameBitsRunToRun() {
        CudaBackend cuda = CudaTests.backend();
        BCMode g = BCMode.GROUPED, k = BCMode.CONSTANT;
        for (Case c : List.of(new Case(4, 1024, 257, 16, 2, g, g, true, true, true, true, true),
                new Case(8, 768, 196, 1, 4, g, g, true, false, true, true, true),
                new Case(4, 64, 129, 4, 1, k, k, true, true, true, true, true),
                new Case(4, 768, 3136, 16, 4, g, g, true, true, true, true, true),
                new Case(4, 768, 3136, 1, 4, g, g, true, true, true, true, true)))
        for (String variant : variants(c)) {
            Inputs in = inputs(c, c.hashCode());
            float[][] first = null;
            for (int run = 0; run < 2; run++) {
                try (ScanGrads gr = onVariant(variant,
                        () -> Ss2d.on(cuda).selectiveScanBackward(scope, in.args(), in.dout(), in.dlast()))) {
                    Tensor[] t = gr.tensors();
                    float[][] now = new float[t.length][];
                    for (int i = 0; i < t.length; i++) now[i] = t[i] == null ? null : t[i].toFloatArray();
                    if (first == null) {
                        first = now;
                        continue;
                    }
                    for (int i = 0; i < t.length; i++) {
                        if (now[i] != null) {
                            assertArrayEquals(first[i], now[i], c + " " + kernel(c, variant) + " " + ScanGrads.NAMES[i]
                                    + " differs in bits from the first run");
                        }
                    }
                }
            }
        }
    }

    /**
     * A = -inf in channel 0, state 0 (exp(dt A) = 0 there), seqlen not a multiple of any segment length: the float64
     * adjoint's grad.delta and grad.delta_bias of that channel are NaN (-inf times a zero state) and every other
     * gradient is finite; the GPU's must be too, within budget where finite. The last segment's steps past seqlen
     * once computed a = exp2(0 * -inf) = NaN and carried it into every earlier step's du, dB, dC, dz.
     */
    @Test
    void infiniteAKeepsTheFiniteGradientsFinite() {
        CudaBackend cuda = CudaTests.backend();
        BCMode g = BCMode.GROUPED, k = BCMode.CONSTANT;
        for (Case c : List.of(new Case(2, 8, 37, 1, 4, g, g, true, true, true, true, true),
                new Case(1, 8, 45, 16, 2, g, g, true, true, true, false, true),
                new Case(2, 64, 70, 4, 1, k, k, true, true, true, true, true),
                new Case(2, 8, 261, 1, 4, g, g, true, true, true, true, true),
                new Case(2, 16, 260, 1, 1, k, k, true, true, true, true, true),
                new Case(2, 8, 389, 16, 2, g, g, true, true, true, true, true))) {
            Inputs in = inputs(c, 77L + c.dstate());
            in.args().A().setFloat(0, Float.NEGATIVE_INFINITY);
            try (ScanGrads want = Ss2d.on("reference").selectiveScanBackward(scope, in.args(), in.dout(), in.dlast())) {
                assertInfiniteAPattern(c, want);
                for (String variant : variants(c)) {
                    ScanGrads got = poisoned(in.args());
                    onVariant(variant, () -> {
                        Ss2d.on(cuda).selectiveScanBackwardInto(in.args(), in.dout(), in.dlast(), got);
                        return null;
                    });
                    assertSameNonFiniteAndClose(c + " " + kernel(c, variant) + " with A[0, 0] = -inf", got, want);
                    got.close();
                }
            }
        }
    }

    /** What the float64 adjoint gives for A[0, 0] = -inf: NaN in channel 0's grad.delta and grad.delta_bias only. */
    static void assertInfiniteAPattern(Case c, ScanGrads want) {
        Tensor[] w = want.tensors();
        for (int i = 0; i < w.length; i++) {
            if (w[i] == null) continue;
            float[] v = w[i].toFloatArray();
            for (int e = 0; e < v.length; e++) {
                boolean channel0 = i == 1 ? (e / c.seqlen()) % c.dim() == 0 : i == 7 && e == 0;
                assertTrue(channel0 ? Float.isNaN(v[e]) : Float.isFinite(v[e]),
                        "reference " + ScanGrads.NAMES[i] + "[" + e + "] = " + v[e] + " for " + c + " with A[0, 0] = -inf");
            }
        }
    }

    /** NaN exactly where {@code want} is NaN, and within TOL of want's largest finite magnitude elsewhere. */
    static void assertSameNonFiniteAndClose(String what, ScanGrads got, ScanGrads want) {
        Tensor[] g = got.tensors(), w = want.tensors();
        for (int i = 0; i < g.length; i++) {
            if (w[i] == null) continue;
            float[] gv = g[i].toFloatArray(), wv = w[i].toFloatArray();
            double maxd = 0, maxr = 0;
            for (int e = 0; e < wv.length; e++) {
                String who = what + " " + ScanGrads.NAMES[i] + "[" + e + "]: " + gv[e] + " vs " + wv[e];
                if (!Float.isFinite(wv[e])) {
                    assertTrue(Float.isNaN(gv[e]) == Float.isNaN(wv[e]) && !Float.isFinite(gv[e]), who);
                    continue;
                }
                assertTrue(Float.isFinite(gv[e]), who);
                maxd = Math.max(maxd, Math.abs((double) gv[e] - wv[e]));
                maxr = Math.max(maxr, Math.abs(wv[e]));
            }
            assertTrue(maxd <= TOL * maxr, what + " " + ScanGrads.NAMES[i] + ": max |diff| " + maxd + " over " + maxr);
        }
    }

    @Test
    void badInputIsRefusedByName() {
        CudaBackend cuda = CudaTests.backend();
        Case c = new Case(1, 4, 8, 2, 1, BCMode.VARIABLE, BCMode.VARIABLE, true, false, false, true, true);
        Inputs in = inputs(c, 5);
        Tensor wrong = RandomWeights.gaussian(scope, 6, 1.0, 1, 4, 7);
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class,
                () -> Ss2d.on(cuda).selectiveScanBackward(scope, in.args(), wrong, null));
        assertTrue(e.getMessage().contains("dout"), e.getMessage());
        Tensor badLast = RandomWeights.gaussian(scope, 7, 1.0, 1, 4, 3);
        e = assertThrows(Ss2dArgumentException.class,
                () -> Ss2d.on(cuda).selectiveScanBackward(scope, in.args(), in.dout(), badLast));
        assertTrue(e.getMessage().contains("dlast_state"), e.getMessage());
        Case big = new Case(1, 2, 8, 300, 1, BCMode.VARIABLE, BCMode.VARIABLE, false, false, false, false, false);
        Inputs tooBig = inputs(big, 8);
        LimitExceededException l = assertThrows(LimitExceededException.class,
                () -> Ss2d.on(cuda).selectiveScanBackward(scope, tooBig.args(), tooBig.dout(), null));
        assertTrue(l.getMessage().contains("MAX_DSTATE=256"), l.getMessage());
    }
}
