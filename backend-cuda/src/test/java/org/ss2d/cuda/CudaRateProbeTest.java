package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ss2d.model.vmamba.ModelFloors;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.ops.GemmShape;
import org.ss2d.spi.DeviceRates;
import org.ss2d.tensor.DType;

/**
 * {@link CudaBackend#measureRates} on VMamba-T's GEMMs at batch 8: every rate finite and positive, the mode named as
 * the model would run, the shapes it used among the ones given, and every byte it took given back. What the rates are
 * is for the benchmark to print (scripts/gpu-model-floors.sh), not for a test to assert.
 */
class CudaRateProbeTest {
    @ParameterizedTest
    @EnumSource(DType.class)
    void ratesAreMeasuredAndMemoryGivenBack(DType dtype) {
        CudaBackend cuda = CudaTests.backend();
        Map<GemmShape, Integer> gemms = ModelFloors.of(VMambaConfig.named("vmamba_tiny_s1l8"), 8, 224, 224, dtype)
                .gemms();
        long before = cuda.diagnostics().liveDeviceBytes();
        DeviceRates r = cuda.measureRates(dtype, gemms).orElseThrow();
        assertEquals(before, cuda.diagnostics().liveDeviceBytes(), "device bytes after the probe, " + dtype);
        String what = dtype + ": " + r;
        assertTrue(Double.isFinite(r.copyGBps()) && r.copyGBps() > 0, what);
        assertTrue(Double.isFinite(r.squareTflops()) && r.squareTflops() > 0, what);
        assertTrue(Double.isFinite(r.modelTflops()) && r.modelTflops() > 0, what);
        assertTrue(r.modelGemms() >= 0 && r.modelGemms() <= gemms.size(), what);
        assertEquals(dtype.isHalf() ? dtype.arrowName() : Boolean.getBoolean("ss2d.cuda.tf32") ? "tf32" : "float32",
                r.gemmMode(), what);
        System.out.printf("[cuda rates] %s%n", what);
    }
}
