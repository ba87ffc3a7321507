package org.ss2d.cuda;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.spi.IpcEvent;

/**
 * A CUDA interprocess event on this backend's stream: created here and exported, or opened from another process's
 * handle (the Python package's client events). Recording and waiting are single driver calls that queue work and
 * return; neither waits on the host. They are not serialised with the ops: the stream keeps the order of whatever
 * was queued, and an op from another thread queued in between is only ordered more strictly.
 */
final class CudaIpcEvent implements IpcEvent {
    private final CudaDevice dev;
    private final MemorySegment event;
    private final byte[] handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaIpcEvent(CudaDevice dev, MemorySegment event, byte[] handle) {
        this.dev = dev;
        this.event = event;
        this.handle = handle;
    }

    static CudaIpcEvent create(CudaDevice dev) {
        dev.makeCurrent();
        MemorySegment e = CudaDriver.eventCreateInterprocess();
        try {
            return new CudaIpcEvent(dev, e, CudaDriver.ipcGetEventHandle(e));
        } catch (RuntimeException x) {
            CudaDriver.eventDestroy(e);
            throw x;
        }
    }

    static CudaIpcEvent open(CudaDevice dev, byte[] handle) {
        dev.makeCurrent();
        return new CudaIpcEvent(dev, CudaDriver.ipcOpenEventHandle(handle), handle.clone());
    }

    @Override
    public byte[] handle() {
        return handle.clone();
    }

    @Override
    public void record() {
        dev.makeCurrent();
        CudaDriver.eventRecord(event, dev.stream);
    }

    @Override
    public void streamWait() {
        dev.makeCurrent();
        CudaDriver.streamWaitEvent(dev.stream, event);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || !dev.isOpen()) return;
        dev.makeCurrent();
        try {
            dev.synchronize(); // no queued wait or record on our stream refers to the event any more
        } finally {
            CudaDriver.eventDestroy(event);
        }
    }
}
