package org.ss2d.cpu;

import org.ss2d.spi.Availability;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendProvider;

/**
 * ServiceLoader entry for the CPU backend ({@code cpu}, rank 100). Always available: without the
 * Vector API it runs on scalar kernels after one warning. Threads: {@code -Dss2d.cpu.threads=N},
 * default the available processors.
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
    public Backend create() {
        return new CpuBackend(CpuBackend.defaultThreads());
    }
}
