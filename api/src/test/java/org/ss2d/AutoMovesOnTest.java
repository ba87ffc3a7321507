package org.ss2d;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.ss2d.testing.FakeBackends;
import org.ss2d.validate.LimitExceededException;

/**
 * Issue 18 item 8 through the facade, without a GPU: a backend that fails while running (a device fault) makes
 * {@code auto} run the op on the next backend, which overwrites the failed one's partial output; a forced backend
 * reports the fault. The device memory an op stages (host inputs and caller-provided host outputs copied to the
 * device) counts against the backend's budget.
 */
class AutoMovesOnTest {
    static ScanArgs scan(TensorScope s) {
        return ScanArgs.builder(s.allocate(DType.F32, 1, 2, 8).fill(0.5f), s.allocate(DType.F32, 1, 2, 8).fill(0.25f),
                s.allocate(DType.F32, 2, 4).fill(-1), s.allocate(DType.F32, 2, 4).fill(1),
                s.allocate(DType.F32, 2, 4).fill(1)).build();
    }

    @Test
    void autoRunsTheOpOnTheNextBackendAfterADeviceFault() {
        try (TensorScope s = TensorScope.root("auto-moves-on")) {
            Ss2d auto = Ss2d.auto();
            FakeBackends.failNextRun("small");
            try (ScanArgs.Result r = auto.selectiveScan(s, scan(s))) {
                assertEquals("biggest", auto.lastBackend().name(), "auto moved on from the failed backend");
                for (float v : r.out().toFloatArray()) assertEquals("biggest".length(), v, "every output rewritten");
            }
            try (ScanArgs.Result r = auto.selectiveScan(s, scan(s))) {
                assertEquals("small", auto.lastBackend().name(), "the failed backend is tried again on the next op");
            }
            s.release();
        }
    }

    @Test
    void aForcedBackendReportsTheFault() {
        try (TensorScope s = TensorScope.root("forced-fault")) {
            Ss2d small = Ss2d.on("small");
            ScanArgs args = scan(s);
            FakeBackends.failNextRun("small");
            long live = s.liveBytes();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> small.selectiveScan(s, args));
            assertTrue(e.getMessage().contains("simulated device fault"), e.getMessage());
            assertEquals(live, s.liveBytes(), "the failed op's outputs are closed");
            s.release();
        }
    }

    /** A device-like backend: 1 KiB of memory, stages every host tensor. */
    static final class Staging implements Backend {
        @Override
        public String name() {
            return "staging";
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(Capabilities.UNLIMITED, Set.of(DType.F32), false, "test", 0, false, 1);
        }

        @Override
        public long memoryBudget() {
            return 1024;
        }

        @Override
        public long stagingBytes(Tensor... tensors) {
            long b = 0;
            for (Tensor t : tensors) if (t != null && t.isHost()) b += t.byteSize();
            return b;
        }

        @Override
        public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
            out.fill(1);
        }

        @Override
        public void crossScan(Tensor x, Tensor out) {
            out.fill(1);
        }

        @Override
        public void crossMerge(Tensor ys, Tensor out) {
            out.fill(1);
        }

        @Override
        public void ss2d(SS2DWeights weights, Tensor x, Tensor out) {
            out.fill(1);
        }

        @Override
        public void vssBlock(VSSWeights weights, Tensor x, Tensor out) {
            out.fill(1);
        }
    }

    @Test
    void stagedInputsAndOutputsCountAgainstTheBudget() {
        try (TensorScope s = TensorScope.root("staging")) {
            Ss2d on = Ss2d.on(new Staging());
            Tensor x = s.allocate(DType.F32, 1, 4, 4, 4).fill(1); // 256 B
            // out 1 KiB + staged x 256 B > 1 KiB; without counting the staging, 1 KiB fits
            LimitExceededException e = assertThrows(LimitExceededException.class, () -> on.crossScan(s, x));
            assertTrue(e.getMessage().contains("workspace 256 B"), e.getMessage());
            Tensor out = s.allocate(DType.F32, 1, 4, 4, 16);
            // into a caller-provided host output: staged x 256 B + staged out 1 KiB
            e = assertThrows(LimitExceededException.class, () -> on.crossScanInto(x, out));
            assertTrue(e.getMessage().contains("output staging 1.0 KiB"), e.getMessage());
            Tensor small = s.allocate(DType.F32, 1, 1, 2, 2).fill(1); // 16 B in, 64 B out, staged: 80 B
            Tensor smallOut = s.allocate(DType.F32, 1, 4, 1, 4);
            on.crossScanInto(small, smallOut);
            assertEquals(1f, smallOut.getFloat(0));
            s.release();
        }
    }
}
