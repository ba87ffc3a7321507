package org.ss2d.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * Owner of the temporary device buffers of one op (uploads of host inputs, intermediates of the
 * SS2D block, outputs bound for the host). Closing it waits for the stream once, then frees them all.
 */
final class Workspace implements AutoCloseable {
    private final CudaDevice dev;
    private final List<DeviceBuffer> buffers = new ArrayList<>();

    Workspace(CudaDevice dev) {
        this.dev = dev;
    }

    /** A buffer of {@code floats} float32 elements; its address. */
    long floats(long floats) {
        DeviceBuffer b = DeviceBuffer.allocate(dev, Math.multiplyExact(floats, 4L));
        buffers.add(b);
        return b.address();
    }

    @Override
    public void close() {
        if (buffers.isEmpty()) return;
        RuntimeException failure = null;
        try {
            dev.synchronize();
        } catch (RuntimeException e) {
            failure = e;
        }
        for (int i = buffers.size() - 1; i >= 0; i--) {
            try {
                buffers.get(i).free();
            } catch (RuntimeException e) {
                if (failure == null) failure = e; else failure.addSuppressed(e);
            }
        }
        buffers.clear();
        if (failure != null) throw failure;
    }
}
