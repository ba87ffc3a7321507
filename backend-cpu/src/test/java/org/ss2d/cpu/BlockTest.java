package org.ss2d.cpu;

import static org.ss2d.reference.Doubles.of;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.reference.CrossRef;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.Tensor;

/** CrossScan/CrossMerge, the SS2D block and the VSS block against float64 sequential code. */
@Tag("width")
class BlockTest {
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    static Stream<Arguments> grids() {
        return Stream.of(Arguments.of(1, 3, 5, 6), Arguments.of(2, 4, 4, 4), Arguments.of(1, 5, 3, 7),
                Arguments.of(2, 3, 14, 14), Arguments.of(1, 2, 1, 1), Arguments.of(1, 2, 17, 9));
    }

    @ParameterizedTest(name = "x ({0}, {1}, {2}, {3})")
    @MethodSource("grids")
    void crossScanAndMergeMatchTheRoutes(int b, int c, int h, int w) {
        try (Fixture f = new Fixture("cross", 7L * h + w)) {
            Tensor x = f.gauss(1.0, b, c, h, w);
            Tensor xs = f.poisoned(b, 4, c, (long) h * w);
            Ss2d.on(backend).crossScanInto(x, xs);
            String who = Fixture.who(backend) + " x (" + b + ", " + c + ", " + h + ", " + w + ")";
            Checks.close(who + " cross_scan", xs.toFloatArray(), CrossRef.scan(of(x), b, c, h, w), 0);
            Tensor ys = f.gauss(1.0, b, 4, c, (long) h * w);
            Tensor y = f.poisoned(b, c, h, w);
            Ss2d.on(backend).crossMergeInto(ys, y);
            Checks.close(who + " cross_merge", y.toFloatArray(), CrossRef.merge(of(ys), b, c, h, w), 1e-6);
        }
    }

    static Stream<Arguments> configs() {
        return Stream.of(
                Arguments.of(SS2DConfig.of(8, 1, 1.0), 1, 5, 6),
                Arguments.of(SS2DConfig.of(12, 2, 2.0), 2, 4, 4),
                Arguments.of(SS2DConfig.of(12, 4, 1.0).withConvBias(true), 1, 3, 7),
                Arguments.of(SS2DConfig.of(8, 1, 2.0).withDConv(5), 1, 6, 5),
                Arguments.of(SS2DConfig.of(96, 1, 1.0), 1, 14, 14),
                Arguments.of(SS2DConfig.of(20, 3, 1.5).withConvBias(true), 2, 9, 11));
    }

    @ParameterizedTest(name = "{0} x ({1}, H {2}, W {3})")
    @MethodSource("configs")
    void ss2dMatchesFloat64(SS2DConfig cfg, int b, int h, int w) {
        try (Fixture f = new Fixture("ss2d", cfg.hashCode() + 31L * h + w)) {
            SS2DWeights wt = RandomWeights.ss2d(f.scope, cfg, 17);
            Tensor x = f.gauss(1.0, b, cfg.dModel(), h, w);
            Tensor out = f.poisoned(b, cfg.dModel(), h, w);
            try {
                Ss2d.on(backend).ss2dInto(wt, x, out);
                Checks.close(Fixture.who(backend) + " ss2d " + cfg + " x (" + b + ", " + cfg.dModel() + ", " + h + ", " + w + ")",
                        out.toFloatArray(), SS2DRef.forward(SS2DRef.Params.of(wt), of(x), b, h, w), 1e-4);
            } finally {
                for (Tensor t : wt.asMap().values()) t.close();
            }
        }
    }

    @ParameterizedTest(name = "{0} x ({1}, H {2}, W {3})")
    @MethodSource("configs")
    void vssBlockMatchesFloat64(SS2DConfig cfg, int b, int h, int w) {
        try (Fixture f = new Fixture("vss", cfg.hashCode() + 131L * h + w)) {
            VSSWeights wt = RandomWeights.vss(f.scope, cfg, 4.0, 23);
            Tensor x = f.gauss(1.0, b, cfg.dModel(), h, w);
            Tensor out = f.poisoned(b, cfg.dModel(), h, w);
            try {
                Ss2d.on(backend).vssBlockInto(wt, x, out);
                Checks.close(Fixture.who(backend) + " vss " + cfg + " x (" + b + ", " + cfg.dModel() + ", " + h + ", " + w + ")",
                        out.toFloatArray(), VSSRef.forward(VSSRef.Params.of(wt), of(x), b, h, w), 1e-4);
            } finally {
                for (Tensor t : wt.asMap().values()) t.close();
            }
        }
    }

    @Test
    void poolRunsEveryTaskOnceAndRethrows() {
        try (CpuPool pool = new CpuPool(3)) {
            java.util.concurrent.atomic.AtomicIntegerArray hits = new java.util.concurrent.atomic.AtomicIntegerArray(1000);
            pool.parallelFor(1000, hits::incrementAndGet);
            for (int i = 0; i < 1000; i++) org.junit.jupiter.api.Assertions.assertEquals(1, hits.get(i), "task " + i);
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> pool.parallelFor(50, i -> {
                        if (i == 17) throw new IllegalStateException("task 17");
                    }));
            org.junit.jupiter.api.Assertions.assertEquals("task 17", e.getMessage());
        }
    }
}
