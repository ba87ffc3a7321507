package org.ss2d.spi;

/**
 * A device event shared between processes (a CUDA interprocess event), tied to a device backend's stream: the
 * Python package's stream-ordered calls on PyTorch's CUDA tensors use two per connection, one opened from the
 * client's handle and one of the engine's, exported. Either kind can be recorded and waited for.
 */
public interface IpcEvent extends AutoCloseable {
    /**
     * The event's interprocess handle: the exporter's bytes for an opened event, this process's for a created one.
     *
     * @return a copy of the 64 handle bytes
     */
    byte[] handle();

    /** Captures the work queued on the backend's stream so far: waiting for the event waits for that work. */
    void record();

    /**
     * Makes the backend's stream wait, on the device, for the work the event's latest record captured (in whichever
     * process recorded it) before running anything queued after this call. The host does not wait.
     */
    void streamWait();

    /**
     * Frees the event once the backend's stream has run what was queued on it (so no queued wait or record still
     * refers to it).
     */
    @Override
    void close();
}
