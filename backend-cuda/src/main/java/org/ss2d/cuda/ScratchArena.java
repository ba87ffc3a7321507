package org.ss2d.cuda;

/**
 * One cached device buffer that the blocks' workspaces carve their intermediates from, so that an
 * SS2D or VSS call on device tensors costs no cuMemAlloc, no cuMemFree and no stream sync (the
 * three together were 0.87 of 2.27 ms per SS2D call at batch 32 on the H100). Reuse needs no
 * waiting: every user of the arena queues its work on the backend's one stream, so the next op's
 * kernels run after the previous op's. It grows to the largest demand seen, at the start of an op
 * (freeing the old buffer waits for queued work first); {@link #release} or closing the backend
 * frees it.
 */
final class ScratchArena {
    /** Sub-allocations start on 256-byte boundaries (cuMemAlloc's own alignment; float4 and cuBLAS need 16). */
    static final long ALIGN = 256;

    private final CudaDevice dev;
    private DeviceBuffer buffer;
    private long demand;

    ScratchArena(CudaDevice dev) {
        this.dev = dev;
    }

    static long aligned(long bytes) {
        return (bytes + ALIGN - 1) & -ALIGN;
    }

    /** Grows the buffer to the largest demand recorded so far; called before an op takes pieces of it. */
    void prepare() {
        if (buffer != null && buffer.byteSize() >= demand) return;
        if (demand == 0) return;
        release();
        buffer = DeviceBuffer.allocate(dev, demand);
    }

    /** What one op asked for in total (the arena fits it from the next op on). */
    void noteDemand(long bytes) {
        demand = Math.max(demand, bytes);
    }

    long base() {
        return buffer == null ? 0 : buffer.address();
    }

    long capacity() {
        return buffer == null ? 0 : buffer.byteSize();
    }

    /** Frees the buffer (after the queued work that may use it); the next op allocates it again. */
    void release() {
        if (buffer != null) {
            DeviceBuffer b = buffer;
            buffer = null;
            b.free();
        }
    }

    /** Forgets the recorded demand too, so that a smaller next op does not re-grow to the old size. */
    void reset() {
        release();
        demand = 0;
    }
}
