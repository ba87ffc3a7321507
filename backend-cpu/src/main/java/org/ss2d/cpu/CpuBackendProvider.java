package org.ss2d.cpu;

import org.ss2d.spi.Availability;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;
import org.ss2d.spi.BackendProvider;

/**
 * ServiceLoader entry for the CPU backend ({@code cpu}, rank 100). Always available: without the
 * Vector API it runs on scalar kernels after one warning. Threads: {@link BackendOptions#threads()},
 * else {@code -Dss2d.cpu.threads=N}, else the available processors. Kernels: {@code -Dss2d.cpu.kernels}
 * (process-wide; a benchmark that needs the scalar ones sets it in its fork's JVM flags).
 */
public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return CpuBackend.NAME;
    }

    @Override
    public int rank() {
        return 100;
    }

    @Override
    public Availability probe() {
        return Availability.yes();
    }

    @Override
    public Backend create(BackendOptions options) {
        return new CpuBackend(options.threads() > 0 ? options.threads() : CpuBackend.defaultThreads());
    }
}
