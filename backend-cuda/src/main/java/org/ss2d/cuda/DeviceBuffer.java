package org.ss2d.cuda;

import java.util.concurrent.atomic.AtomicBoolean;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.bindings.CudaOutOfMemoryException;
import org.ss2d.tensor.DeviceMemory;

/** One {@code cuMemAlloc} allocation, freed exactly once by its owner (a tensor or a workspace). */
final class DeviceBuffer implements DeviceMemory {
    private final CudaDevice dev;
    private final long address;
    private final long bytes;
    private final AtomicBoolean freed = new AtomicBoolean();

    private DeviceBuffer(CudaDevice dev, long address, long bytes) {
        this.dev = dev;
        this.address = address;
        this.bytes = bytes;
    }

    /** Allocates {@code bytes}; running out of memory says how much was asked and how much is free. */
    static DeviceBuffer allocate(CudaDevice dev, long bytes) {
        dev.makeCurrent();
        long addr;
        try {
            addr = CudaDriver.memAlloc(bytes);
        } catch (CudaOutOfMemoryException e) {
            long[] info = CudaDriver.memInfo();
            throw new CudaOutOfMemoryException(e.call(), e.status(), e.errorName(), "out of memory",
                    "asked for " + bytes + " bytes on " + dev.describe() + ", " + info[0] + " of " + info[1]
                            + " bytes free; nothing was allocated and the device stays usable");
        }
        dev.countBytes(bytes);
        return new DeviceBuffer(dev, addr, bytes);
    }

    @Override
    public String device() {
        return dev.label;
    }

    @Override
    public String backend() {
        return CudaBackend.NAME;
    }

    @Override
    public long address() {
        return address;
    }

    @Override
    public long byteSize() {
        return bytes;
    }

    @Override
    public void free() {
        if (!freed.compareAndSet(false, true)) return;
        dev.makeCurrent();
        // Work queued on our stream may still read this buffer: let it finish first.
        dev.synchronize();
        CudaDriver.memFree(address);
        dev.countBytes(-bytes);
    }
}
