package org.ss2d.cuda;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.spi.StreamFlags;

/**
 * Host memory registered for this backend's stream ({@code cuMemHostRegister} with {@code PORTABLE | DEVICEMAP}) and
 * the stream memory operations on its words ({@code cuStreamWaitValue32}, {@code cuStreamWriteValue32}): single driver
 * calls that queue and return. Like the ops, they are not serialised with other threads' work on the stream: the
 * stream keeps the order in which things were queued, and work queued in between is only ordered more strictly.
 */
final class CudaStreamFlags implements StreamFlags {
    private final CudaDevice dev;
    private final MemorySegment host;
    private final long device;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaStreamFlags(CudaDevice dev, MemorySegment host, long device) {
        this.dev = dev;
        this.host = host;
        this.device = device;
    }

    static CudaStreamFlags register(CudaDevice dev, MemorySegment host) {
        dev.makeCurrent();
        return new CudaStreamFlags(dev, host, CudaDriver.hostRegisterMapped(host));
    }

    private long word(long byteOffset) {
        if (byteOffset < 0 || byteOffset % 4 != 0 || byteOffset + 4 > host.byteSize()) {
            throw new IllegalArgumentException("a 32-bit word at a multiple of 4 inside " + host.byteSize()
                    + " registered bytes, found offset " + byteOffset);
        }
        if (closed.get()) throw new IllegalStateException("stream flags used after close");
        return device + byteOffset;
    }

    @Override
    public void waitAtLeast(long byteOffset, int value) {
        long at = word(byteOffset);
        dev.makeCurrent();
        CudaDriver.streamWaitValue32(dev.stream, at, value);
    }

    @Override
    public void write(long byteOffset, int value) {
        long at = word(byteOffset);
        dev.makeCurrent();
        CudaDriver.streamWriteValue32(dev.stream, at, value);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || !dev.isOpen()) return;
        dev.makeCurrent();
        try {
            dev.synchronize(); // no queued wait or write on our stream refers to the memory any more
        } finally {
            CudaDriver.hostUnregister(host);
        }
    }
}
