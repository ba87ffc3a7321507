package org.ss2d;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;

/** Through the facade, running out of memory is the engine's exception, never an OutOfMemoryError. */
class MemoryFaultsTest {
    /** A backend whose every op fails to allocate, the way a huge float[] does; its budget is set per test. */
    static final class Starved implements Backend {
        final long budget;
        final long scratch;

        Starved(long budget, long scratch) {
            this.budget = budget;
            this.scratch = scratch;
        }

        @Override
        public String name() {
            return "starved";
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(Capabilities.UNLIMITED, Set.of(DType.F32), false, "test", 0, false, 1);
        }

        @Override
        public long memoryBudget() {
            return budget;
        }

        @Override
        public long scanWorkingBytes(ScanShape shape) {
            return scratch;
        }

        @Override
        public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
            throw new OutOfMemoryError("Java heap space");
        }

        @Override
        public void crossScan(Tensor x, Tensor out) {
            throw new OutOfMemoryError("Java heap space");
        }

        @Override
        public void crossMerge(Tensor ys, Tensor out) {
            throw new OutOfMemoryError("Java heap space");
        }

        @Override
        public void ss2d(SS2DWeights weights, Tensor x, Tensor out) {
            throw new OutOfMemoryError("Java heap space");
        }

        @Override
        public void vssBlock(VSSWeights weights, Tensor x, Tensor out) {
            throw new OutOfMemoryError("Java heap space");
        }
    }

    private static ScanArgs scan(TensorScope s) {
        Tensor u = s.allocate(DType.F32, 1, 2, 8), delta = s.allocate(DType.F32, 1, 2, 8);
        Tensor a = s.allocate(DType.F32, 2, 3), b = s.allocate(DType.F32, 2, 3), c = s.allocate(DType.F32, 2, 3);
        return ScanArgs.builder(u, delta, a, b, c).build();
    }

    @Test
    void aFailedAllocationIsAnEngineExceptionAndLeavesNothing() {
        try (TensorScope s = TensorScope.root("oom")) {
            ScanArgs args = scan(s);
            long before = s.liveBytes();
            LimitExceededException e = assertThrows(LimitExceededException.class,
                    () -> Ss2d.on(new Starved(Long.MAX_VALUE, 0)).selectiveScan(s, args));
            assertInstanceOf(OutOfMemoryError.class, e.getCause());
            assertTrue(e.getMessage().contains("starved") && e.getMessage().contains("could not allocate"), e.getMessage());
            assertEquals(before, s.liveBytes(), "the output allocated for the failed op is freed");
            assertThrows(LimitExceededException.class, () -> Ss2d.on(new Starved(Long.MAX_VALUE, 0)).crossScan(s,
                    s.allocate(DType.F32, 1, 2, 3, 4)));
            s.release();
        }
    }

    @Test
    void overTheBackendsBudgetNothingRuns() {
        try (TensorScope s = TensorScope.root("budget")) {
            ScanArgs args = scan(s);
            LimitExceededException e = assertThrows(LimitExceededException.class,
                    () -> Ss2d.on(new Starved(1000, 5000)).selectiveScan(s, args));
            assertEquals("workspace", e.argument(), e.getMessage()); // the biggest part; the op never ran (no OOM cause)
            assertTrue(e.getCause() == null && e.getMessage().contains("5064 bytes") && e.getMessage().contains("1000 bytes"),
                    e.getMessage());
            s.release();
        }
    }
}
