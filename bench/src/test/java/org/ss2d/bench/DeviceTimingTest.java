package org.ss2d.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;
import org.ss2d.spi.Backend;

/**
 * What {@link DeviceTiming} asks of a backend's device clock, against a stand-in backend whose clock runs each op as
 * CudaDiagnostics.timeMs does (warm-up calls, then timed ones) and answers a fixed time: the single-call time is the
 * clock's answer, the queued time is its answer for ten calls divided by ten, and the host time comes from the timed
 * calls. No GPU and no timing assertion.
 */
class DeviceTimingTest {
    /** A backend whose only working method is deviceTimeMs: runs op warmup + reps times, answers ms. */
    private static Backend clock(double ms) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, m, args) -> {
                    if (!m.getName().equals("deviceTimeMs")) throw new UnsupportedOperationException(m.getName());
                    Runnable op = (Runnable) args[0];
                    int n = (Integer) args[1] + (Integer) args[2];
                    for (int i = 0; i < n; i++) op.run();
                    return OptionalDouble.of(ms);
                });
    }

    @Test
    void eventHostAndQueuedTimesComeFromTheirOwnCalls() {
        int[] runs = {0};
        DeviceTiming t = DeviceTiming.measure(clock(0.5), () -> runs[0]++, 20, 50);
        assertEquals(0.5, t.eventMs(), "events around one call: the clock's answer");
        assertEquals(0.5 / DeviceTiming.QUEUED, t.queuedMs(), 1e-15, "ten queued calls per measurement");
        assertTrue(t.hostUs() >= 0 && Double.isFinite(t.hostUs()), "host part of the timed calls: " + t.hostUs());
        // 70 single calls, then (2 + max(3, 50 / 5)) = 12 measurements of 10 queued calls
        assertEquals(70 + 12 * DeviceTiming.QUEUED, runs[0], "calls the op ran");
    }

    @Test
    void aBackendWithoutADeviceClockGivesNothing() {
        Backend none = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, m, args) -> {
                    if (!m.getName().equals("deviceTimeMs")) throw new UnsupportedOperationException(m.getName());
                    return OptionalDouble.empty();
                });
        DeviceTiming t = DeviceTiming.measure(none, () -> { }, 20, 50);
        assertTrue(Double.isNaN(t.eventMs()) && Double.isNaN(t.hostUs()) && Double.isNaN(t.queuedMs())
                && Double.isNaN(t.hostLoad()), t.toString());
    }
}
