package org.ss2d.spi;

/**
 * Host memory that a device backend's stream can wait on and write to (CUDA stream memory operations on page-locked,
 * device-mapped memory). The Python package's stream-ordered calls map one page that both processes share, and order
 * their GPU work through two 32-bit counters in it; either process can also write a counter from the host, which
 * is what lets a dead peer's waits be released.
 */
public interface StreamFlags extends AutoCloseable {
    /**
     * Queues on the backend's stream a wait until the 32-bit word at {@code byteOffset} is at or past {@code value} in
     * cyclic order ({@code (int) (word - value) >= 0}), so counters may wrap around. The host does not wait.
     *
     * @param byteOffset offset of the word in the registered memory, a multiple of 4
     * @param value      the value to reach
     */
    void waitAtLeast(long byteOffset, int value);

    /**
     * Queues on the backend's stream a write of {@code value} to the word at {@code byteOffset}, after the work queued
     * before it. The host does not wait.
     *
     * @param byteOffset offset of the word in the registered memory, a multiple of 4
     * @param value      the value to write
     */
    void write(long byteOffset, int value);

    /**
     * Waits for the backend's stream, then unregisters the memory. Whoever could leave a wait queued on it must have
     * released it first (written a value that every queued wait accepts), or this waits for ever.
     */
    @Override
    void close();
}
