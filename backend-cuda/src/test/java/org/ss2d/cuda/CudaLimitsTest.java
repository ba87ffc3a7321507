package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;
import org.ss2d.bindings.CudaOutOfMemoryException;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;

/** MAX_DSTATE, out-of-memory: clear exceptions, nothing leaked, the device stays usable. */
class CudaLimitsTest {
    @Test
    void dstateOverMaxIsRejectedWithTheLimit() {
        CudaBackend cuda = CudaTests.backend();
        try (TensorScope s = TensorScope.root("limits")) {
            ScanArgs a = ScanArgs.builder(RandomWeights.uniform(s, 1, -1, 1, 1, 2, 8),
                    RandomWeights.uniform(s, 2, 0, 0.1, 1, 2, 8), RandomWeights.uniform(s, 3, -1, -0.5, 2, 300),
                    RandomWeights.uniform(s, 4, -1, 1, 1, 300, 8), RandomWeights.uniform(s, 5, -1, 1, 1, 300, 8)).build();
            LimitExceededException e = assertThrows(LimitExceededException.class, () -> Ss2d.on(cuda).selectiveScan(s, a));
            assertTrue(e.getMessage().contains("dstate=300 exceeds the CUDA backend's MAX_DSTATE=256"), e.getMessage());
            s.release();
        }
    }

    /** Past the facade, the launcher checks the limit itself, before any device is touched (runs without a GPU). */
    @Test
    void launcherRejectsOverMaxBeforeTouchingTheDevice() {
        long[] p = new long[ScanParams.FIELDS];
        p[ScanParams.DSTATE] = 300;
        LimitExceededException e = assertThrows(LimitExceededException.class, () -> ScanLauncher.launch(null, p));
        assertEquals("A: dstate=300 exceeds the CUDA backend's MAX_DSTATE=256", e.getMessage());
    }

    @Test
    void outOfMemoryIsClearAndRecoverable() {
        CudaBackend cuda = CudaTests.backend();
        long before = cuda.diagnostics().liveDeviceBytes();
        try (TensorScope s = TensorScope.root("oom")) {
            long total = cuda.diagnostics().deviceMemoryInfo()[1];
            CudaOutOfMemoryException e = assertThrows(CudaOutOfMemoryException.class,
                    () -> cuda.allocate(s, DType.F32, 2 * total / 4));
            System.out.println("[cuda oom] " + e.getMessage());
            assertTrue(e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
            assertTrue(e.getMessage().contains("asked for " + 2 * total), e.getMessage());
            assertEquals(0, s.liveCount());
            // Still usable.
            Tensor x = RandomWeights.uniform(s, 3, -1, 1, 1, 2, 4, 4);
            try (Tensor y = Ss2d.on(cuda).crossScan(s, x); Tensor ref = Ss2d.on("reference").crossScan(s, x)) {
                CudaTests.assertClose(y, ref, 0, "cross_scan after OOM");
            }
            x.close();
        }
        assertEquals(before, cuda.diagnostics().liveDeviceBytes());
    }
}
