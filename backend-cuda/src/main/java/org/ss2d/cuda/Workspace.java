package org.ss2d.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * Owner of the temporary device buffers of one op (uploads of host inputs, intermediates of the
 * SS2D block, outputs bound for the host). Without an arena every buffer is its own cuMemAlloc and
 * closing waits for the stream once, then frees them all. With a {@link ScratchArena} (the blocks)
 * buffers are pieces of the arena while it has room (else their own allocation, as above), and
 * closing waits only when the op moved host memory or made its own allocations: an op on device
 * tensors returns with its work queued, as every op on device tensors does.
 */
final class Workspace implements AutoCloseable {
    private final CudaDevice dev;
    private final ScratchArena arena;
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private long used;
    private long requested;
    private long peak;
    private boolean hostTransfers;

    Workspace(CudaDevice dev) {
        this(dev, null);
    }

    Workspace(CudaDevice dev, ScratchArena arena) {
        this.dev = dev;
        this.arena = arena;
        if (arena != null) arena.prepare();
    }

    /** A buffer of {@code floats} float32 elements; its address. */
    long floats(long floats) {
        long bytes = Math.multiplyExact(floats, 4L);
        if (arena != null) {
            long piece = ScratchArena.aligned(bytes);
            requested += piece;
            peak = Math.max(peak, requested);
            if (used + piece <= arena.capacity()) {
                long address = arena.base() + used;
                used += piece;
                return address;
            }
        }
        DeviceBuffer b = DeviceBuffer.allocate(dev, bytes);
        buffers.add(b);
        return b.address();
    }

    /** A point of the arena's bump allocation that {@link #rewind} returns to. */
    record Mark(long used, long requested) {}

    Mark mark() {
        return new Mark(used, requested);
    }

    /**
     * Hands the arena pieces taken since {@code m} out again: their contents are dead once the work queued so far
     * has read them, and every later user queues on the same stream, after that work. Pieces that were their own
     * allocations stay until close. The arena's demand is the peak, not the sum.
     */
    void rewind(Mark m) {
        used = m.used();
        requested = m.requested();
    }

    /** The op copied between host memory and a buffer: close must wait for the copies. */
    void hostTransfer() {
        hostTransfers = true;
    }

    @Override
    public void close() {
        if (arena != null) arena.noteDemand(peak);
        if (buffers.isEmpty() && (arena == null || !hostTransfers)) return;
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
