package org.ss2d.cuda;

import java.util.concurrent.atomic.AtomicBoolean;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.tensor.DeviceMemory;

/**
 * Another process's device allocation mapped into this backend's context through a CUDA IPC handle (the
 * Python package's path for PyTorch's CUDA tensors): no copy, and not counted as this backend's memory. Freeing
 * it unmaps it, after the work queued on our stream is done; the allocation stays the exporter's.
 */
final class IpcMemory implements DeviceMemory {
    private final CudaDevice dev;
    private final long address;
    private final long bytes;
    private final AtomicBoolean freed = new AtomicBoolean();

    private IpcMemory(CudaDevice dev, long address, long bytes) {
        this.dev = dev;
        this.address = address;
        this.bytes = bytes;
    }

    static IpcMemory open(CudaDevice dev, byte[] handle, long bytes) {
        dev.makeCurrent();
        return new IpcMemory(dev, CudaDriver.ipcOpenMemHandle(handle), bytes);
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
        dev.synchronize();
        CudaDriver.ipcCloseMemHandle(address);
    }
}
