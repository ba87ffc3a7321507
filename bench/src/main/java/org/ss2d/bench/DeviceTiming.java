package org.ss2d.bench;

import java.util.Arrays;
import org.ss2d.spi.Backend;

/**
 * An op on device tensors timed three ways in one run, so that a report says where its time goes:
 * <ul>
 *   <li>{@code eventMs}: CUDA events around one call, the device idle before it (the GPU anchors are timed so);
 *       any host time before the launch shows up here as device idle time;</li>
 *   <li>{@code hostUs}: the wall time of the op's host part in those same calls (validation, dispatch, launch;
 *       the op returns with its work queued, so no wait is in it);</li>
 *   <li>{@code queuedMs}: events around {@link #QUEUED} calls made back to back, per call: the host queues the
 *       next call while the device runs the last, so a host part shorter than the kernel is hidden. Near the
 *       kernel's own time when eventMs is not, the difference is host time;</li>
 *   <li>{@code hostLoad}: the machine's load average over the last minute per core, read after the timings: near
 *       or above 1, other processes took the cores (a compiler beside the benchmark), and host times grow.</li>
 * </ul>
 */
public record DeviceTiming(double eventMs, double hostUs, double queuedMs, double hostLoad) {
    /** Calls per queued measurement. */
    public static final int QUEUED = 10;

    /** NaN for all three: a backend without a device clock. */
    public static final DeviceTiming NONE = new DeviceTiming(Double.NaN, Double.NaN, Double.NaN, Double.NaN);

    public static DeviceTiming measure(Backend backend, Runnable op, int warmup, int reps) {
        long[] hostNs = new long[warmup + reps];
        int[] calls = {0};
        Runnable timed = () -> {
            long t0 = System.nanoTime();
            op.run();
            long ns = System.nanoTime() - t0;
            if (calls[0] < hostNs.length) hostNs[calls[0]] = ns;
            calls[0]++;
        };
        double event = backend.deviceTimeMs(timed, warmup, reps).orElse(Double.NaN);
        if (!Double.isFinite(event)) return NONE;
        // the timed calls are the last reps of those recorded (a backend runs the warm-up calls first)
        int n = Math.min(calls[0], hostNs.length);
        long[] timedNs = Arrays.copyOfRange(hostNs, Math.max(0, n - reps), n);
        Arrays.sort(timedNs);
        double hostUs = timedNs.length == 0 ? Double.NaN : timedNs[timedNs.length / 2] / 1e3;
        double queued = backend.deviceTimeMs(() -> {
            for (int i = 0; i < QUEUED; i++) op.run();
        }, 2, Math.max(3, reps / 5)).orElse(Double.NaN) / QUEUED;
        return new DeviceTiming(event, hostUs, queued, loadPerCore());
    }

    /** One-minute load average per core; NaN where the platform has none. */
    static double loadPerCore() {
        double load = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return load < 0 ? Double.NaN : load / Runtime.getRuntime().availableProcessors();
    }
}
