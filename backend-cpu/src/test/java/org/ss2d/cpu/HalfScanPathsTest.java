package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.ss2d.reference.Doubles.of;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.reference.ScanRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;

/**
 * Every path of the kernels that read 16-bit activations themselves (the dstate-1 time-lane kernel, the channel-lane
 * blocks at dstate > 1 with their leftover rows, the exact path for tails and out-of-range chunks) with each option:
 * constant, variable and grouped B/C, z, softplus or not, D and delta_bias or none, out in the input dtype or float32,
 * lengths that are not a multiple of the vector width nor of a chunk, and non-finite inputs. Against the float64
 * recurrence on the rounded inputs, outputs poisoned with NaN first; the budget is HalfScanTest's.
 */
@org.junit.jupiter.api.Tag("width")
class HalfScanPathsTest {
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    /** {@code poison}: one delta element NaN, one row with delta past the fast path's range (exact path), u inf and NaN. */
    record Case(DType dtype, boolean outF32, int batch, int dim, int seqlen, int dstate, int groups, BCMode b, BCMode c,
                boolean z, boolean softplus, boolean dAndBias, boolean poison) {
        @Override
        public String toString() {
            return dtype.arrowName() + (outF32 ? " out_float32" : "") + " (batch " + batch + ", dim " + dim + ", seqlen "
                    + seqlen + ", dstate " + dstate + ", groups " + groups + ", B " + b + ", C " + c + (z ? ", z" : "")
                    + (softplus ? ", softplus" : "") + (dAndBias ? ", D, delta_bias" : "") + (poison ? ", NaN and huge delta, inf and NaN u" : "")
                    + ")";
        }
    }

    static Stream<Case> cases() {
        List<Case> cs = new ArrayList<>();
        BCMode g = BCMode.GROUPED, v = BCMode.VARIABLE, k = BCMode.CONSTANT;
        // float32 too: the exact path is shared (and gates only the half rows itself)
        for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            for (boolean f32 : d == DType.F32 ? new boolean[] {false} : new boolean[] {false, true}) {
                // dstate 1: several chunks and a tail (133 = 8 x 16 + 5), every B/C mode, with and without the options
                cs.add(new Case(d, f32, 2, 7, 133, 1, 1, k, k, true, true, true, false));
                cs.add(new Case(d, f32, 2, 6, 133, 1, 1, v, k, false, false, false, false));
                cs.add(new Case(d, f32, 1, 5, 301, 1, 1, k, v, true, false, true, false));
                cs.add(new Case(d, f32, 2, 8, 35, 1, 4, g, g, true, true, true, true));
                cs.add(new Case(d, f32, 1, 3, 16500, 1, 1, v, v, true, true, true, false)); // rows past C_ROW_MAX
                // channel-lane blocks (16 rows a block at 512 bits), leftover rows of each group, several super-chunks
                cs.add(new Case(d, f32, 2, 48, 70, 16, 1, g, g, true, true, true, false));
                cs.add(new Case(d, f32, 1, 40, 37, 4, 2, v, k, false, true, false, false));
                cs.add(new Case(d, f32, 1, 36, 2100, 3, 1, k, g, true, false, true, false));
                cs.add(new Case(d, f32, 2, 32, 45, 16, 2, g, g, true, true, true, true));
            }
        }
        return cs.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyPathMatchesTheFloat64RecurrenceOnTheRoundedInputs(Case c) {
        try (Fixture f = new Fixture("half-paths", 31L * c.hashCode())) {
            DType d = c.dtype();
            int b = c.batch(), dm = c.dim(), l = c.seqlen(), n = c.dstate(), gr = c.groups();
            Tensor u = f.gauss(1.0, b, dm, l), delta = c.softplus() ? f.gauss(0.5, b, dm, l) : f.uniform(0.01, 0.3, b, dm, l);
            if (c.poison()) {
                delta.setFloat((long) l + l / 2, Float.NaN); // row 1, mid-row: NaN from there on in both
                // row 2: past the fast path's |delta| limit (bfloat16; float16 ends at 65504); row 3: large in both
                float huge = d == DType.BF16 ? 3.0e6f : 60000f;
                for (int t = 0; t < l; t += 3) delta.setFloat(2L * l + t, huge);
                for (int t = 0; t < l; t += 5) delta.setFloat(3L * l + t, 60000f);
                // u infinite (row 5) and NaN (row 6) inside a full vector: float16's fast widening leaves these lanes
                // to the exact path
                u.setFloat(5L * l + 20, Float.POSITIVE_INFINITY);
                u.setFloat(6L * l + 17, Float.NaN);
            }
            u = f.as(d, u);
            delta = f.as(d, delta);
            Tensor a = f.uniform(-2.0, -0.05, dm, n);
            if (c.poison()) a.setFloat((long) 4 * n, 0.05f); // a positive A (growth): the fast path's limit is small
            Tensor bm = bc(f, d, c.b(), b, dm, n, l, gr), cm = bc(f, d, c.c(), b, dm, n, l, gr);
            // without softplus dt = delta + bias must stay positive (a negative step grows the state exponentially)
            Tensor dSkip = c.dAndBias() ? f.gauss(1.0, dm) : null;
            Tensor bias = !c.dAndBias() ? null : c.softplus() ? f.uniform(-4.0, -1.0, dm) : f.uniform(0.0, 0.1, dm);
            Tensor z = c.z() ? f.as(d, f.gauss(1.0, b, dm, l)) : null;
            DType outType = c.outF32() ? DType.F32 : d;
            Tensor out = f.poisoned(outType, b, dm, l), last = f.poisoned(b, dm, n);
            ScanArgs args = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).z(z).deltaBias(bias).deltaSoftplus(c.softplus())
                    .returnLastState(true).outFloat32(c.outF32()).build();
            Ss2d.on(backend).selectiveScanInto(args, out, last);

            ScanRef.Result want = ScanRef.run(new ScanRef.Problem(b, dm, l, n, gr, c.b(), c.c(), of(u), of(delta), of(a),
                    of(bm), of(cm), of(dSkip), of(z), of(bias), c.softplus()));
            String who = "cpu backend (" + backend.kernels().name() + " kernels) " + c;
            double tol = 1e-4 + HalfFloats.unitRoundoff(outType);
            close(who + " out", out.toFloatArray(), want.out(), tol, outType);
            close(who + " last_state", last.toFloatArray(), want.lastState(), 1e-4, DType.F32);
        }
    }

    /**
     * Relative to the largest finite |expected|; an expected NaN must come out NaN, an expected infinity (or a value past
     * the output dtype's range) the same infinity; and no NaN passes where a number is expected.
     */
    private static void close(String what, float[] got, double[] want, double tol, DType outType) {
        assertEquals(want.length, got.length, what + ": element count");
        double scale = 0;
        for (double w : want) if (Double.isFinite(w)) scale = Math.max(scale, Math.abs(w));
        scale = scale == 0 ? 1 : scale;
        for (int i = 0; i < want.length; i++) {
            double w = want[i];
            float rounded = HalfFloats.round(outType, (float) w);
            if (Double.isNaN(w)) {
                if (!Float.isNaN(got[i])) fail(what + ": element " + i + " is " + got[i] + ", expected NaN");
            } else if (Float.isInfinite(rounded)) {
                if (got[i] != rounded) fail(what + ": element " + i + " is " + got[i] + ", expected " + rounded + " (" + w + ")");
            } else {
                double e = Math.abs(got[i] - w) / scale;
                if (!(e <= tol)) {
                    fail(what + ": element " + i + " is " + got[i] + ", expected " + w + " (relative error " + e + " > " + tol
                            + " of max |expected| " + scale + ")");
                }
            }
        }
    }

    @ParameterizedTest(name = "dstate {0}")
    @MethodSource("dstates")
    void gatedFloat16OutPast65504IsInfinityAndOutFloat32KeepsIt(int n) {
        try (Fixture f = new Fixture("half-gated-overflow", 11 + n)) {
            int b = 1, dm = 32, l = 45;
            // y = D u ~ 3e4, gated by silu(z) with z ~ 4: past 65504 only after the gate, which a half out must see
            // before its one rounding
            Tensor u = f.as(DType.F16, f.uniform(250, 350, b, dm, l)), z = f.as(DType.F16, f.uniform(3.9, 4.1, b, dm, l));
            Tensor delta = f.as(DType.F16, f.uniform(0.01, 0.1, b, dm, l));
            Tensor a = f.uniform(-1, -0.5, dm, n), bm = f.gauss(0.01, dm, n), cm = f.gauss(0.01, dm, n);
            Tensor dSkip = f.uniform(90, 110, dm);
            ScanArgs half = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).z(z).build();
            ScanArgs oflex = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).z(z).outFloat32(true).build();
            try (ScanArgs.Result h = Ss2d.on(backend).selectiveScan(f.scope, half);
                 ScanArgs.Result o = Ss2d.on(backend).selectiveScan(f.scope, oflex)) {
                float[] hv = h.out().toFloatArray(), ov = o.out().toFloatArray();
                for (int i = 0; i < hv.length; i++) {
                    assertTrue(ov[i] > 70000 && Float.isFinite(ov[i]), "dstate " + n + " out_float32 element " + i + " = " + ov[i]);
                    assertEquals(Float.POSITIVE_INFINITY, hv[i], "dstate " + n + " float16 out element " + i + " (float32 gave "
                            + ov[i] + ")");
                }
            }
        }
    }

    static Stream<Integer> dstates() {
        return Stream.of(1, 16);
    }

    private static Tensor bc(Fixture f, DType d, BCMode mode, int b, int dm, int n, int l, int groups) {
        return switch (mode) {
            case CONSTANT -> f.gauss(1.0, dm, n);
            case VARIABLE -> f.as(d, f.gauss(1.0, b, n, l));
            case GROUPED -> f.as(d, f.gauss(1.0, b, groups, n, l));
        };
    }
}
