package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.model.RandomWeights;
import org.ss2d.spi.PinnedMemory;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** Registered Arrow memory round-trips through the device unchanged, and unregisters exactly once. */
class CudaPinTest {
    @Test
    void pinnedArrowMemoryRoundTrips() {
        CudaBackend cuda = CudaTests.backend();
        try (TensorScope s = TensorScope.root("pin")) {
            long n = 1 << 20;
            Tensor host = RandomWeights.gaussian(s, 11, 1, n);
            Tensor back = s.allocate(DType.F32, n).fill(Float.NaN);
            Tensor dev = cuda.allocate(s, DType.F32, n);
            try (PinnedMemory pin = cuda.pin(host); PinnedMemory pinBack = cuda.pin(back)) {
                assertTrue(pin.pinned(), "cuda f32(" + n + "): host tensor should be registered");
                cuda.copy(host, dev);
                cuda.copy(dev, back);
                assertArrayEquals(host.toFloatArray(), back.toFloatArray(), "cuda f32(" + n + ") pinned round trip");
                pin.close();
                assertFalse(pin.pinned());
                pin.close(); // idempotent
            }
            s.release();
        }
    }
}
