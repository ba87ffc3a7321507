package org.ss2d.spark.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
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
}
