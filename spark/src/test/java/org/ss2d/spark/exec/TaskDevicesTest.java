package org.ss2d.spark.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.io.TempDir;
import org.apache.spark.resource.ResourceInformation;
import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.validate.Ss2dArgumentException;

/** The task's GPU address picks the CUDA device; everything else keeps the backend it asked for. */
class TaskDevicesTest {
    static Map<String, ResourceInformation> gpu(String... addresses) {
        return Map.of("gpu", new ResourceInformation("gpu", addresses));
    }

    @Test
    void cudaOnATaskWithAGpuBecomesThatDevice() {
        assertEquals("cuda:1", TaskDevices.backendFor("cuda", gpu("1")));
        assertEquals("cuda:0", TaskDevices.backendFor("CUDA", gpu("0", "1")), "the first address of a task holding two");
    }

    @Test
    void autoTakesTheGpuOnlyWhereCudaIsAvailable() {
        boolean cuda = Backends.list().stream().anyMatch(e -> e.name().equals("cuda") && e.available());
        assertEquals(cuda ? "cuda:2" : "auto", TaskDevices.backendFor("auto", gpu("2")));
    }

    @Test
    void otherBackendsAndTasksWithoutAGpuAreLeftAlone() {
        assertEquals("cpu", TaskDevices.backendFor("cpu", gpu("1")));
        assertEquals("cuda:3", TaskDevices.backendFor("cuda:3", gpu("1")), "an explicit device is the user's choice");
        assertEquals("cuda", TaskDevices.backendFor("cuda", Map.of()));
        assertEquals("auto", TaskDevices.backendFor("auto", Map.of("fpga", new ResourceInformation("fpga", new String[] {"0"}))));
    }

    @Test
    void anAddressThatIsNotADeviceNumberIsRejected() {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> TaskDevices.backendFor("cuda", gpu("GPU-8f2a")));
        assertTrue(e.getMessage().startsWith("gpu resource address: expected a CUDA device number"), e.getMessage());
    }

    /**
     * Local mode offers tasks no resources, so the driver's GPU (its amount and discovery script) is the
     * tasks': a real local[2] session whose discovery script reports address 3 gives every task cuda:3.
     */
    @Test
    void inLocalModeTheTasksUseTheDriversGpu(@TempDir Path dir) throws IOException {
        Path script = dir.resolve("gpus.sh");
        Files.writeString(script, "#!/bin/sh\necho '{\"name\": \"gpu\", \"addresses\": [\"3\"]}'\n");
        assertTrue(script.toFile().setExecutable(true));
        SparkSession.getDefaultSession().foreach(s -> {
            s.stop();
            return null;
        });
        SparkSession spark = SparkSession.builder().master("local[2]").appName("ss2d-spark driver gpu")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.resource.gpu.amount", "1")
                .config("spark.driver.resource.gpu.discoveryScript", script.toString()).getOrCreate();
        try {
            List<String> got = spark.range(0, 4, 1, 2).mapPartitions((MapPartitionsFunction<Long, String>) rows ->
                    List.of(TaskDevices.backendFor("cuda"), TaskDevices.backendFor("cpu")).iterator(), Encoders.STRING())
                    .collectAsList();
            assertEquals(List.of("cuda:3", "cpu", "cuda:3", "cpu"), got);
        } finally {
            spark.stop();
        }
    }
}
