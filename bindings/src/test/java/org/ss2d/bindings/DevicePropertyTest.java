package org.ss2d.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code -Dss2d.cuda.device}: an ordinal, or an error naming the property (never a silent device 0). */
class DevicePropertyTest {
    private final String before = System.getProperty("ss2d.cuda.device");

    @AfterEach
    void restore() {
        if (before == null) System.clearProperty("ss2d.cuda.device");
        else System.setProperty("ss2d.cuda.device", before);
    }

    @Test
    void unsetOrBlankIsDeviceZero() {
        System.clearProperty("ss2d.cuda.device");
        assertEquals(0, CudaDriver.deviceProperty());
        System.setProperty("ss2d.cuda.device", " ");
        assertEquals(0, CudaDriver.deviceProperty());
    }

    @Test
    void anOrdinalIsTaken() {
        System.setProperty("ss2d.cuda.device", "3");
        assertEquals(3, CudaDriver.deviceProperty());
        System.setProperty("ss2d.cuda.device", " 1 ");
        assertEquals(1, CudaDriver.deviceProperty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "-1", "1.5", "cuda:1", "99999999999"})
    void anythingElseIsAnErrorNamingTheProperty(String value) {
        System.setProperty("ss2d.cuda.device", value);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, CudaDriver::deviceProperty,
                "ss2d.cuda.device=" + value);
        assertTrue(e.getMessage().startsWith("ss2d.cuda.device: expected a device ordinal"), e.getMessage());
        assertTrue(e.getMessage().contains("\"" + value + "\""), e.getMessage());
    }
}
