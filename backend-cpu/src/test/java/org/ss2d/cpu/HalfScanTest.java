package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.ss2d.reference.Doubles.of;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.reference.ScanRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;

/**
 * The selective scan on float16 and bfloat16 activations (u, delta, z, variable B/C) with float32 A, D,
 * delta_bias and constant B/C, out in the input dtype or float32 ({@code out_float32}), against the
 * float64 recurrence run on the rounded inputs. Budget: the float32 one (1e-4 of max |out|) plus one
 * rounding of the output dtype relative to max |out|. Also the lane-wise conversions, bit for bit.
 */
@org.junit.jupiter.api.Tag("width")
class HalfScanTest {
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    record Case(DType dtype, boolean outF32, int batch, int dim, int seqlen, int dstate, int groups, BCMode b, BCMode c,
                boolean z) {
        @Override
        public String toString() {
            return dtype.arrowName() + (outF32 ? " out_float32" : "") + " (batch " + batch + ", dim " + dim + ", seqlen "
                    + seqlen + ", dstate " + dstate + ", groups " + groups + ", B " + b + ", C " + c + (z ? ", z" : "") + ")";
        }
    }

    static Stream<Case> cases() {
        List<Case> cs = new ArrayList<>();
        BCMode g = BCMode.GROUPED, v = BCMode.VARIABLE, k = BCMode.CONSTANT;
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            for (boolean f32 : new boolean[] {false, true}) {
                cs.add(new Case(d, f32, 2, 20, 2049, 1, 4, g, g, true));    // VMamba's dstate 1, tails, several blocks
                cs.add(new Case(d, f32, 1, 12, 77, 5, 2, g, g, true));      // time lanes, any dstate
                cs.add(new Case(d, f32, 2, 64, 130, 16, 2, g, g, false));   // channel-lane blocks
                cs.add(new Case(d, f32, 2, 40, 70, 4, 2, g, g, true));      // blocks and leftover channels
                cs.add(new Case(d, f32, 2, 9, 33, 3, 1, k, v, true));       // constant B (float32), variable C
                cs.add(new Case(d, f32, 1, 5, 20000, 1, 1, v, k, false));   // rows longer than a staging block
            }
        }
        return cs.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheFloat64RecurrenceOnTheRoundedInputs(Case c) {
        try (Fixture f = new Fixture("half-scan", 17L * c.hashCode())) {
            DType d = c.dtype();
            int b = c.batch(), dm = c.dim(), l = c.seqlen(), n = c.dstate(), gr = c.groups();
            Tensor u = f.as(d, f.gauss(1.0, b, dm, l));
            Tensor delta = f.as(d, f.gauss(0.5, b, dm, l));
            Tensor a = f.uniform(-2.0, -0.05, dm, n);
            Tensor bm = bc(f, d, c.b(), b, dm, n, l, gr), cm = bc(f, d, c.c(), b, dm, n, l, gr);
            Tensor dSkip = f.gauss(1.0, dm);
            Tensor z = c.z() ? f.as(d, f.gauss(1.0, b, dm, l)) : null;
            Tensor bias = f.uniform(-4.0, -1.0, dm);
            DType outType = c.outF32() ? DType.F32 : d;
            Tensor out = f.poisoned(outType, b, dm, l);
            Tensor last = f.poisoned(b, dm, n);
            ScanArgs args = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).z(z).deltaBias(bias)
                    .deltaSoftplus(true).returnLastState(true).outFloat32(c.outF32()).build();
            Ss2d.on(backend).selectiveScanInto(args, out, last);

            ScanRef.Result want = ScanRef.run(new ScanRef.Problem(b, dm, l, n, gr, c.b(), c.c(), of(u), of(delta), of(a),
                    of(bm), of(cm), of(dSkip), of(z), of(bias), true));
            String who = "cpu backend (" + backend.kernels().name() + " kernels) " + c;
            Checks.close(who + " out", out.toFloatArray(), want.out(), 1e-4 + HalfFloats.unitRoundoff(outType));
            Checks.close(who + " last_state", last.toFloatArray(), want.lastState(), 1e-4);

            // the allocating call gives out in the input dtype, or float32 with out_float32
            try (ScanArgs.Result r = Ss2d.on(backend).selectiveScan(f.scope, args)) {
                assertEquals(outType, r.out().dtype(), who);
                assertEquals(DType.F32, r.lastState().dtype(), who);
            }
        }
    }

    @Test
    void float16OutPast65504IsInfinityAndOutFloat32KeepsIt() {
        try (Fixture f = new Fixture("half-overflow", 5)) {
            int b = 1, dm = 3, l = 40, n = 1;
            // u ~ 300, D = 1000: y = D u is ~3e5, past float16's 65504 but far inside float32
            Tensor u = f.as(DType.F16, f.uniform(250, 350, b, dm, l));
            Tensor delta = f.as(DType.F16, f.uniform(0.01, 0.1, b, dm, l));
            Tensor a = f.uniform(-1, -0.5, dm, n), bm = f.gauss(1, dm, n), cm = f.gauss(1, dm, n);
            Tensor dSkip = f.uniform(900, 1100, dm);
            ScanArgs half = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).build();
            ScanArgs oflex = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).outFloat32(true).build();
            try (ScanArgs.Result h = Ss2d.on(backend).selectiveScan(f.scope, half);
                 ScanArgs.Result o = Ss2d.on(backend).selectiveScan(f.scope, oflex)) {
                float[] hv = h.out().toFloatArray(), ov = o.out().toFloatArray();
                for (int i = 0; i < hv.length; i++) {
                    assertTrue(ov[i] > HalfFloats.F16_MAX && Float.isFinite(ov[i]), "out_float32 element " + i + " = " + ov[i]);
                    assertEquals(Float.POSITIVE_INFINITY, hv[i], "float16 out element " + i + " (float32 gave " + ov[i] + ")");
                }
            }
        }
    }

    @Test
    void laneConversionsAreBitExact() {
        Kernels simd = Kernels.get(), scalar = Kernels.scalar();
        int n = 65536 + 13; // every 16-bit pattern, then a tail
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment halves = arena.allocate(2L * n), a = arena.allocate(4L * n), b = arena.allocate(4L * n);
            for (int i = 0; i < n; i++) halves.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) i);
            for (DType d : new DType[] {DType.F16, DType.BF16}) {
                simd.halfToFloat(d, halves, 0, a, 0, n);
                scalar.halfToFloat(d, halves, 0, b, 0, n);
                for (int i = 0; i < n; i++) {
                    int got = Float.floatToRawIntBits(a.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                    int want = Float.floatToRawIntBits(b.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                    boolean ok = Float.isNaN(Float.intBitsToFloat(want)) ? Float.isNaN(Float.intBitsToFloat(got)) : want == got;
                    if (!ok) {
                        fail(simd.name() + " " + d + " widening of 0x" + Integer.toHexString(i & 0xffff) + ": got 0x"
                                + Integer.toHexString(got) + ", expected 0x" + Integer.toHexString(want));
                    }
                }
            }
            // narrowing: random bit patterns, every float16 boundary neighbourhood, halfway points
            SplittableRandom r = new SplittableRandom(3);
            MemorySegment f = arena.allocate(4L * n), h1 = arena.allocate(2L * n), h2 = arena.allocate(2L * n);
            for (int round = 0; round < 8; round++) {
                for (int i = 0; i < n; i++) {
                    float x = switch (round) {
                        case 0 -> Float.intBitsToFloat(r.nextInt());
                        case 1 -> (float) (r.nextGaussian() * 70000);
                        case 2 -> (float) (r.nextGaussian() * 1e-5); // float16 subnormals
                        case 3 -> Float.intBitsToFloat(Float.floatToRawIntBits(Float.float16ToFloat((short) i)) + r.nextInt(-2, 3));
                        case 4 -> Float.intBitsToFloat(Float.floatToRawIntBits(Float.float16ToFloat((short) i)) + (1 << 12)); // halfway
                        case 5 -> Float.intBitsToFloat((i << 16) | 0x8000); // bfloat16 halfway
                        case 6 -> Float.intBitsToFloat((i << 16) | r.nextInt(0x10000));
                        default -> 65504f + r.nextInt(-40, 40);
                    };
                    f.setAtIndex(ValueLayout.JAVA_FLOAT, i, x);
                }
                for (DType d : new DType[] {DType.F16, DType.BF16}) {
                    simd.floatToHalf(d, f, 0, h1, 0, n);
                    scalar.floatToHalf(d, f, 0, h2, 0, n);
                    for (int i = 0; i < n; i++) {
                        short got = h1.getAtIndex(ValueLayout.JAVA_SHORT, i), want = h2.getAtIndex(ValueLayout.JAVA_SHORT, i);
                        float x = f.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                        boolean ok = Float.isNaN(x) ? Float.isNaN(HalfFloats.toFloat(d, got)) : want == got;
                        if (!ok) {
                            fail(simd.name() + " " + d + " narrowing of " + Float.toHexString(x) + ": got 0x"
                                    + Integer.toHexString(got & 0xffff) + ", expected 0x" + Integer.toHexString(want & 0xffff));
                        }
                    }
                }
            }
        }
    }

    private static Tensor bc(Fixture f, DType d, BCMode mode, int b, int dm, int n, int l, int groups) {
        return switch (mode) {
            case CONSTANT -> f.gauss(1.0, dm, n);
            case VARIABLE -> f.as(d, f.gauss(1.0, b, n, l));
            case GROUPED -> f.as(d, f.gauss(1.0, b, groups, n, l));
        };
    }
}
