package org.ss2d.spi;

/**
 * A host tensor's memory registered with a device ({@link Backend#pin}): page-locked, so that copies
 * to and from the device run by DMA at full bandwidth and may be asynchronous, with no staging copy.
 * {@link #close()} unregisters it; close it before the tensor, whose memory it refers to.
 */
public interface PinnedMemory extends AutoCloseable {
    /** Nothing registered: what host backends, and device backends that cannot pin, return. */
    PinnedMemory NONE = new PinnedMemory() {
        @Override
        public boolean pinned() {
            return false;
        }

        @Override
        public void close() {}
    };

    /**
     * Whether the memory really is registered.
     *
     * @return true until closed; always false for {@link #NONE}
     */
    boolean pinned();

    /** Unregisters the memory (idempotent). */
    @Override
    void close();
}
