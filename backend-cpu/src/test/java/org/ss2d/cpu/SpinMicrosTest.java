package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code -Dss2d.cpu.spinMicros}: taken when in range, else the default 100 (with a warning, see CpuPool). */
class SpinMicrosTest {
    @Test
    void valuesInRangeAreTaken() {
        assertEquals(100, CpuPool.spinMicros(null));
        assertEquals(100, CpuPool.spinMicros(" "));
        assertEquals(0, CpuPool.spinMicros("0"));
        assertEquals(250, CpuPool.spinMicros(" 250 "));
        assertEquals(1_000_000, CpuPool.spinMicros("1000000"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "-1", "1000001", "2.5", "9999999999999999999999"})
    void anythingElseFallsBackToTheDefault(String v) {
        assertEquals(100, CpuPool.spinMicros(v), "ss2d.cpu.spinMicros=" + v);
    }
}
