package org.ss2d.cuda;

import org.ss2d.bindings.CudaDriver;
import org.ss2d.spi.Availability;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;
import org.ss2d.spi.BackendProvider;

/**
 * ServiceLoader entry for the CUDA backend. {@link #probe()} opens {@code libcuda.so.1} through
 * {@link CudaDriver#probe()} (its own lookup, {@code cuInit}, driver version, device count, compute
 * capability) and never touches the generated bindings, so a machine without a GPU gets a reason
 * in words; {@link #create(BackendOptions)} retains the primary context of the chosen device and loads
 * the fatbin (the thread count is a host backend's setting and is ignored).
 */
public final class CudaProvider implements BackendProvider {
    @Override
    public String name() {
        return CudaBackend.NAME;
    }

    /** Above the CPU backend (100): auto prefers the GPU when there is one. */
    @Override
    public int rank() {
        return 200;
    }

    @Override
    public Availability probe() {
        CudaDriver.Probe p = CudaDriver.probe();
        return p.available() ? Availability.yes() : Availability.no(p.reason());
    }

    @Override
    public boolean hasDevices() {
        return true;
    }

    /** On {@code options.device()} ({@code cuda:N}), else {@code -Dss2d.cuda.device}, else device 0. */
    @Override
    public Backend create(BackendOptions options) {
        return new CudaBackend(CudaDevice.open(options.device() >= 0 ? options.device() : CudaDriver.deviceProperty()));
    }
}
