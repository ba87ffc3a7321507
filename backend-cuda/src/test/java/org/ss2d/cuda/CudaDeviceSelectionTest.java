package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * {@code cuda:N} names device N (what a Spark task's GPU address selects): each device of the host runs a
 * scan within the scan budget of the float64 reference, its device tensors say which device holds them,
 * and a device the host does not have is a clean error naming the range. One GPU or eight alike.
 */
class CudaDeviceSelectionTest {
    static final double TOL = 1e-4;

    @Test
    void everyDeviceOfTheHostRunsByName() {
        CudaTests.backend(); // skips (or fails under -Dss2d.require=cuda) without CUDA
        int count = CudaDriver.deviceCount();
        assertTrue(count >= 1, "devices: " + count);
        try (TensorScope scope = TensorScope.root("devices")) {
            ScanArgs a = ScanArgs.builder(RandomWeights.uniform(scope, 1, -1, 1, 2, 16, 64),
                    RandomWeights.uniform(scope, 2, -3, 1, 2, 16, 64), RandomWeights.uniform(scope, 3, -1, -0.5, 16, 4),
                    RandomWeights.uniform(scope, 4, -1, 1, 2, 2, 4, 64), RandomWeights.uniform(scope, 5, -1, 1, 2, 2, 4, 64))
                    .deltaSoftplus(true).build();
            try (ScanArgs.Result ref = Ss2d.on("reference").selectiveScan(scope, a)) {
                for (int d = 0; d < count; d++) {
                    Backend b = Backends.get("cuda:" + d);
                    assertTrue(b.capabilities().device().contains("cuda:" + d), "cuda:" + d + " runs on " + b.capabilities().device());
                    Ss2d gpu = Ss2d.on("cuda:" + d);
                    try (ScanArgs.Result r = gpu.selectiveScan(scope, a); Tensor dev = gpu.toDevice(scope, a.u())) {
                        CudaTests.assertClose(r.out(), ref.out(), TOL, "cuda:" + d + " selective_scan (2,16,64) dstate 4 softplus");
                        assertEquals("cuda:" + d, dev.device(), "device tensor of cuda:" + d);
                    }
                }
            }
            scope.release();
        }
    }

    @Test
    void aDeviceTheHostDoesNotHaveIsRejectedWithTheRange() {
        CudaTests.backend();
        int count = CudaDriver.deviceCount();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.get("cuda:" + count));
        assertTrue(e.getMessage().contains("CUDA device: expected 0.." + (count - 1)), e.getMessage());
    }
}
