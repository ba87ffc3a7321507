package org.ss2d.interop.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.spi.PinnedMemory;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;

/**
 * The benchmark's logic without a GPU: a host "device" backend that counts pins, and one whose copy
 * drops a byte. Bandwidth numbers themselves are only reported, never asserted.
 */
class TransferBenchmarkTest {
    /** Copies on the host; pin() hands out registrations and counts them. */
    static class HostDevice implements Backend {
        final AtomicInteger pins = new AtomicInteger(), unpins = new AtomicInteger();

        @Override
        public String name() {
            return "host-device";
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(Capabilities.UNLIMITED, Set.of(DType.F32), false, "test", 0, true, 1);
        }

        @Override
        public PinnedMemory pin(Tensor host) {
            host.segment(); // a closed or device tensor would throw here
            pins.incrementAndGet();
            return new PinnedMemory() {
                boolean open = true;

                @Override
                public boolean pinned() {
                    return true;
                }

                @Override
                public void close() {
                    if (open) unpins.incrementAndGet();
                    open = false;
                }
            };
        }

        @Override
        public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
            throw new UnsupportedOperationException("selective_scan on host-device (test backend)");
        }

        @Override
        public void crossScan(Tensor x, Tensor out) {
            throw new UnsupportedOperationException("cross_scan on host-device (test backend)");
        }

        @Override
        public void crossMerge(Tensor ys, Tensor out) {
            throw new UnsupportedOperationException("cross_merge on host-device (test backend)");
        }

        @Override
        public void ss2d(SS2DWeights weights, Tensor x, Tensor out) {
            throw new UnsupportedOperationException("ss2d on host-device (test backend)");
        }

        @Override
        public void vssBlock(VSSWeights weights, Tensor x, Tensor out) {
            throw new UnsupportedOperationException("vss_block on host-device (test backend)");
        }
    }

    @Test
    void measuresThreeVerifiedVariantsAndUnpinsEachPin() {
        HostDevice b = new HostDevice();
        List<TransferBenchmark.Row> rows = TransferBenchmark.run(b, 1 << 20, 3, 1);
        assertEquals(3, rows.size());
        assertFalse(rows.get(0).pinned(), "row 1 is pageable Arrow memory");
        assertTrue(rows.get(1).pinned() && rows.get(2).pinned());
        for (var r : rows) {
            assertEquals(1 << 20, r.bytes(), r.memory());
            assertTrue(r.h2d() > 0 && r.d2h() > 0 && Double.isFinite(r.h2d()), r.toString());
        }
        assertEquals(2, b.pins.get());
        assertEquals(2, b.unpins.get(), "every registration is released");
        String table = TransferBenchmark.format(rows);
        assertTrue(table.contains("pinned arrow / pinned plain"), table);
    }

    @Test
    void aWrongCopyPostsNoNumber() {
        HostDevice broken = new HostDevice() {
            @Override
            public void copy(Tensor src, Tensor dst) {
                MemorySegment.copy(src.segment(), 0, dst.segment(), 0, src.byteSize() - 1); // drops the last byte
            }
        };
        var e = assertThrows(IllegalStateException.class, () -> TransferBenchmark.run(broken, 4096, 2, 0));
        assertTrue(e.getMessage().contains("host-device") && e.getMessage().contains("differs at byte 4095"), e.getMessage());
    }
}
