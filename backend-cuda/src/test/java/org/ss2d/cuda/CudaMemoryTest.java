package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** 10 000 alloc/run/free cycles leave device memory where it was (cuMemGetInfo and our own count). */
class CudaMemoryTest {
    @Test
    void tenThousandCyclesDoNotGrow() {
        CudaBackend cuda = CudaTests.backend();
        Ss2d gpu = Ss2d.on(cuda);
        try (TensorScope root = TensorScope.root("cycles")) {
            ScanArgs host = ScanArgs.builder(RandomWeights.uniform(root, 1, -1, 1, 2, 16, 256),
                    RandomWeights.uniform(root, 2, -3, 1, 2, 16, 256), RandomWeights.uniform(root, 3, -1, -0.5, 16, 4),
                    RandomWeights.uniform(root, 4, -1, 1, 2, 2, 4, 256), RandomWeights.uniform(root, 5, -1, 1, 2, 2, 4, 256))
                    .deltaSoftplus(true).returnLastState(true).build();
            // Warm-up: module, cuBLAS-free path, allocator pools.
            runCycle(gpu, cuda, host, root);
            cuda.synchronize();
            long freeBefore = cuda.deviceMemoryInfo()[0];
            long liveBefore = cuda.liveDeviceBytes();
            for (int i = 0; i < 10_000; i++) runCycle(gpu, cuda, host, root);
            cuda.synchronize();
            long freeAfter = cuda.deviceMemoryInfo()[0];
            System.out.printf("[cuda cycles] free before %d, after %d (delta %d bytes)%n", freeBefore, freeAfter,
                    freeBefore - freeAfter);
            assertEquals(liveBefore, cuda.liveDeviceBytes(), "device bytes held by live buffers");
            // The driver may keep a little bookkeeping; growth by a cycle's worth times many would be a leak.
            assertTrue(freeBefore - freeAfter <= 4L << 20, "free device memory shrank by " + (freeBefore - freeAfter));
            assertEquals(0, root.liveCount() - 5, "host tensors left in the scope besides the 5 inputs");
        }
    }

    private static void runCycle(Ss2d gpu, CudaBackend cuda, ScanArgs host, TensorScope root) {
        try (TensorScope s = root.child("cycle")) {
            Tensor u = gpu.toDevice(s, host.u());
            Tensor out = cuda.allocate(s, DType.F32, 2, 16, 256);
            Tensor last = cuda.allocate(s, DType.F32, 2, 16, 4);
            ScanArgs a = new ScanArgs(u, host.delta(), host.A(), host.B(), host.C(), null, null, null, true, true);
            gpu.selectiveScanInto(a, out, last);
            u.close();
            out.close();
            last.close();
        }
    }
}
