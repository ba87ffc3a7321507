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
            // Inputs on the device once (an op takes its inputs from one place); each cycle allocates
            // a fresh u, out and last_state, runs, and frees them.
            ScanArgs dev = new ScanArgs(gpu.toDevice(root, host.u()), gpu.toDevice(root, host.delta()),
                    gpu.toDevice(root, host.A()), gpu.toDevice(root, host.B()), gpu.toDevice(root, host.C()), null, null,
                    null, true, true);
            runCycle(gpu, cuda, dev, root);
            cuda.synchronize();
            long freeBefore = cuda.diagnostics().deviceMemoryInfo()[0];
            long liveBefore = cuda.diagnostics().liveDeviceBytes();
            for (int i = 0; i < 10_000; i++) runCycle(gpu, cuda, dev, root);
            cuda.synchronize();
            long freeAfter = cuda.diagnostics().deviceMemoryInfo()[0];
            System.out.printf("[cuda cycles] free before %d, after %d (delta %d bytes)%n", freeBefore, freeAfter,
                    freeBefore - freeAfter);
            assertEquals(liveBefore, cuda.diagnostics().liveDeviceBytes(), "device bytes held by live buffers");
            // The driver may keep a little bookkeeping; growth by a cycle's worth times many would be a leak.
            assertTrue(freeBefore - freeAfter <= 4L << 20, "free device memory shrank by " + (freeBefore - freeAfter));
            assertEquals(10, root.liveCount(), "tensors left in the scope besides the 5 inputs and their device copies");
            root.release();
        }
    }

    private static void runCycle(Ss2d gpu, CudaBackend cuda, ScanArgs dev, TensorScope root) {
        try (TensorScope s = root.child("cycle")) {
            Tensor u = cuda.allocate(s, DType.F32, 2, 16, 256);
            cuda.copy(dev.u(), u);
            Tensor out = cuda.allocate(s, DType.F32, 2, 16, 256);
            Tensor last = cuda.allocate(s, DType.F32, 2, 16, 4);
            ScanArgs a = new ScanArgs(u, dev.delta(), dev.A(), dev.B(), dev.C(), null, null, null, true, true);
            gpu.selectiveScanInto(a, out, last);
            u.close();
            out.close();
            last.close();
        }
    }
}
