package org.ss2d.tensor;

/**
 * Memory that a device backend owns (a CUDA allocation, say). The api module never reads it; the
 * backend that made it does. {@link #free()} is called exactly once, by the owning {@link Tensor}.
 */
public interface DeviceMemory {
    /** Device name as shown to users, e.g. {@code cuda:0}. */
    String device();

    /** Name of the backend that allocated this memory; only that backend may read it. */
    String backend();

    /** Raw device address; meaningful only to {@link #backend()}. */
    long address();

    /** Size in bytes. */
    long byteSize();

    /** Returns the memory to the device. Called once, when the owning tensor closes. */
    void free();
}
