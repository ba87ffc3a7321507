package org.ss2d.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ss2d.model.vmamba.ModelFloors;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.spi.DeviceRates;
import org.ss2d.tensor.DType;

/**
 * The profile table and JSON of {@code bench model} with floors, from a made-up profile of VMamba-T at batch 128 and
 * made-up rates (3000 GB/s, 50 TFLOP/s): no GPU. Each expected floor is worked out here from the step counts.
 */
class ModelFloorTableTest {
    static final int BATCH = 128;
    static final DeviceRates RATES = new DeviceRates(3000, 52, 8192, 50, 12, "float32");

    static ModelBench.Result result(Map<String, Double> prof) {
        ModelFloors mf = ModelFloors.of(VMambaConfig.named("vmamba_tiny_s1l8"), BATCH, 224, 224, DType.F32);
        return new ModelBench.Result("cuda", "vmamba_tiny_s1l8", "fake", 0, BATCH, 224,
                new Timing(64.0, 63.5, 65.0, 5, 1.0), prof, 1e-7, 1L << 30, DType.F32,
                ModelBench.Floors.of(mf, RATES, BATCH));
    }

    @Test
    void floorsRatiosAndMarks() throws Exception {
        Map<String, Double> prof = new LinkedHashMap<>();
        // cross_merge (bytes-bound): stage k moves 5 * 4 * d L bytes an image (d L = 301056 / 2^k), over 2, 2, 8, 2
        // blocks: 20 * (2*301056 + 2*150528 + 8*75264 + 2*37632) = 31610880 bytes an image = 0.010537 ms at 3000 GB/s
        double mergeFloor = 31610880 / 3e9;
        prof.put("cross_merge", 3 * mergeFloor); // 3x: marked
        // in_proj (FLOP-bound at these rates, see ModelFloorsTest): 14 blocks of 57802752 FLOPs an image at 50 TFLOP/s
        double inProjFloor = 14 * 57802752 / 5e10;
        prof.put("in_proj", 1.5 * inProjFloor); // 1.5x: not marked
        prof.put("x_proj", 0.01); // a kind with no floor (the opt-in fused middle)
        ModelBench.Result r = result(prof);

        assertEquals(mergeFloor, r.floors().floorMsPerImage().get("cross_merge"), 1e-12);
        assertEquals(inProjFloor, r.floors().floorMsPerImage().get("in_proj"), 1e-12);
        assertEquals(3.0, r.ratios().get("cross_merge"), 1e-9);
        assertEquals(1.5, r.ratios().get("in_proj"), 1e-9);
        assertFalse(r.ratios().containsKey("x_proj"));

        List<String> t = ModelBench.profileTable(r);
        String merge = line(t, "  cross_merge ");
        assertTrue(merge.contains("3.0x") && merge.contains("bytes") && merge.contains("<-- above 2x"), merge);
        String inProj = line(t, "  in_proj ");
        assertTrue(inProj.contains("1.5x") && inProj.contains("flops") && !inProj.contains("<--"), inProj);
        assertTrue(line(t, "  x_proj ").contains("n/a"), line(t, "  x_proj "));
        assertTrue(t.getFirst().contains("3000 GB/s") && t.getFirst().contains("50.0 TFLOP/s cuBLAS float32")
                && t.getFirst().contains("52.0 at 8192^3"), t.getFirst());
        // the whole model: 0.5 ms an image measured against every kind's floor summed
        String whole = line(t, "whole model:");
        double sum = r.floors().totalMsPerImage();
        assertTrue(whole.contains(String.format(java.util.Locale.ROOT, "%.4f ms floor", sum)), whole);
        assertTrue(sum > mergeFloor + inProjFloor, "the sum covers every kind, not only the profiled ones: " + sum);

        JsonNode j = new ObjectMapper().readTree(r.toJson());
        assertEquals(3.0, j.get("profile_ratio").get("cross_merge").asDouble(), 1e-9);
        assertEquals(mergeFloor, j.get("profile_floor_ms_per_image").get("cross_merge").asDouble(), 1e-12);
        assertEquals(3000, j.get("copy_gbps").asDouble());
        assertEquals(50, j.get("gemm_tflops").asDouble());
        assertEquals(sum, j.get("floor_ms_per_image").asDouble(), 1e-12);
        assertEquals("bytes", j.get("profile_bound").get("scan").asText());
    }

    @Test
    void withoutFloorsTheTableIsThePlainProfile() throws Exception {
        ModelBench.Result r = new ModelBench.Result("cpu", "vmamba_tiny_s1l8", "cpu", 2, 1, 224,
                new Timing(100, 99, 101, 5, 100), Map.of("mlp", 40.0), 1e-7, -1, DType.F32);
        List<String> t = ModelBench.profileTable(r);
        assertEquals(List.of("time per layer kind (ms per image):", "  mlp               40.000  100.0%"), t);
        JsonNode j = new ObjectMapper().readTree(r.toJson());
        assertFalse(j.has("profile_ratio"));
        assertTrue(ModelBench.profileTable(new ModelBench.Result("cpu", "m", "cpu", 1, 1, 224,
                new Timing(1, 1, 1, 1, 1), Map.of(), 0, -1, DType.F32)).isEmpty());
    }

    private static String line(List<String> t, String start) {
        return t.stream().filter(l -> l.startsWith(start)).findFirst()
                .orElseThrow(() -> new AssertionError("no line starting " + start + " in " + t));
    }
}
