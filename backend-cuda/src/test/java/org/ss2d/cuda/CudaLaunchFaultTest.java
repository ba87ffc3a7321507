package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;
import org.ss2d.bindings.CudaException;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.TensorScope;

/**
 * A launch error (issue 18 item 8), forced through the test-only hook of the launch helper: the op ends in the
 * driver's status as an exception naming the kernel and its launch (grid, block, shared bytes), nothing is left
 * allocated, and the backend runs the next op right. Skipped without CUDA.
 */
class CudaLaunchFaultTest {
    @Test
    void aFailedLaunchIsACleanExceptionAndTheBackendStaysUsable() {
        CudaBackend cuda = CudaTests.backend();
        Ss2d gpu = Ss2d.on(cuda);
        try (TensorScope s = TensorScope.root("launch-fault")) {
            ScanArgs args = ScanArgs.builder(RandomWeights.gaussian(s, 1, 1, 2, 8, 256),
                    RandomWeights.uniform(s, 2, -3, 1, 2, 8, 256), RandomWeights.uniform(s, 3, -1, -0.5, 8, 1),
                    RandomWeights.gaussian(s, 4, 1, 2, 2, 1, 256), RandomWeights.gaussian(s, 5, 1, 2, 2, 1, 256))
                    .deltaSoftplus(true).returnLastState(true).build();
            float[] before;
            try (ScanArgs.Result r = gpu.selectiveScan(s, args)) {
                before = r.out().toFloatArray();
            }
            long live = s.liveBytes();
            Launch.failNextLaunch("scan");
            CudaException e = assertThrows(CudaException.class, () -> gpu.selectiveScan(s, args));
            assertTrue(e.getMessage().contains("cuLaunchKernel") && e.getMessage().contains("scan")
                    && e.getMessage().contains("smem"), e.getMessage());
            assertTrue(s.liveBytes() == live, "outputs of the failed op are freed");
            try (ScanArgs.Result r = gpu.selectiveScan(s, args)) {
                float[] after = r.out().toFloatArray();
                assertTrue(java.util.Arrays.equals(before, after), "the next scan gives the same bits as before the fault");
            }
            s.release();
        }
    }
}
