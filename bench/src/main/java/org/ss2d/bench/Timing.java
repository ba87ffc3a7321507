package org.ss2d.bench;

import java.util.Arrays;

/** Warm-up, repeated runs, median/min/max in milliseconds. */
public record Timing(double medianMs, double minMs, double maxMs, int reps, double cpuMedianMs) {
    private static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();

    public static Timing measure(int warmup, int reps, Runnable body) {
        if (warmup < 0) {
            // Time-based warm-up: small shapes need hundreds of calls before C2 has compiled the kernels
            // (the Vector API in the interpreter is tens of times slower), large ones a few.
            long end = System.nanoTime() + 3_000_000_000L;
            for (int i = 0; i < 3 || System.nanoTime() < end; i++) body.run();
        }
        for (int i = 0; i < warmup; i++) body.run();
        double[] ms = new double[Math.max(1, reps)], cpu = new double[ms.length];
        for (int i = 0; i < ms.length; i++) {
            long c0 = MX.getCurrentThreadCpuTime(), t0 = System.nanoTime();
            body.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
            cpu[i] = (MX.getCurrentThreadCpuTime() - c0) / 1e6;
        }
        Arrays.sort(ms);
        Arrays.sort(cpu);
        return new Timing(ms[ms.length / 2], ms[0], ms[ms.length - 1], ms.length, cpu[cpu.length / 2]);
    }
}
