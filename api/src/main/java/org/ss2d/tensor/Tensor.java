package org.ss2d.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.arrow.memory.ArrowBuf;

/**
 * A dense, row-major tensor. Host tensors live in Arrow memory ({@link ArrowBuf}) and are seen by
 * kernels as a {@link MemorySegment} over the same bytes (no copy either way); device tensors hold a
 * backend's {@link DeviceMemory}.
 *
 * <p>Every tensor belongs to one {@link TensorScope}. Closing the tensor (or its scope) frees the
 * memory; any later access throws {@link IllegalStateException}. The segment handed out is bound to a
 * per-tensor arena that is closed with the tensor, so a stale segment cannot read freed memory: the
 * JVM refuses the access instead of crashing.
 *
 * <p>{@link #generation()} counts the ways the contents may have changed: every write through this
 * class ({@link #setFloat}, {@link #set}, {@link #copyFrom}, {@link #fill}) and every hand-out of the
 * writable memory ({@link #segment()}, {@link #arrowBuf()}, {@link #deviceMemory()}), through which
 * backends write their outputs. A device backend that keeps a copy of a host weight compares it to
 * decide whether its copy is stale. Code that writes later through memory it was handed earlier
 * calls {@link #markModified()}.
 */
public final class Tensor implements AutoCloseable {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long elements;
    private final TensorScope scope;
    // Host storage (null for device tensors).
    private final ArrowBuf buf;
    private final Arena arena;
    private final MemorySegment segment;
    // Device storage (null for host tensors).
    private final DeviceMemory deviceMemory;
    private final AtomicBoolean closed = new AtomicBoolean();
    // Bumped by every write and every hand-out of writable memory; racing bumps may merge, but any
    // bump makes it differ from a value read before.
    private volatile long generation;

    private Tensor(String name, TensorScope scope, DType dtype, long[] shape, ArrowBuf buf, long byteOffset,
                   DeviceMemory deviceMemory) {
        this.name = name;
        this.scope = scope;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.elements = Shapes.elementCount(shape);
        this.buf = buf;
        this.deviceMemory = deviceMemory;
        if (buf != null) {
            long bytes = elements * dtype.byteSize();
            this.arena = Arena.ofShared();
            this.segment = bytes == 0
                    ? MemorySegment.NULL.reinterpret(0, arena, null)
                    : MemorySegment.ofAddress(buf.memoryAddress() + byteOffset).reinterpret(bytes, arena, null);
        } else {
            this.arena = null;
            this.segment = null;
        }
        scope.register(this);
    }

    /** Host tensor over {@code buf} (already owned by this tensor: it is released on close). */
    static Tensor host(String name, TensorScope scope, DType dtype, long[] shape, ArrowBuf buf, long byteOffset) {
        return new Tensor(name, scope, dtype, shape, buf, byteOffset, null);
    }

    /**
     * Wraps device memory that a backend allocated; the tensor frees it on close. For backends only.
     */
    public static Tensor device(TensorScope scope, DType dtype, long[] shape, DeviceMemory memory) {
        Objects.requireNonNull(memory, "memory");
        long need = Shapes.elementCount(shape) * dtype.byteSize();
        if (memory.byteSize() < need) {
            throw new IllegalArgumentException("device memory of " + memory.byteSize() + " bytes is smaller than "
                    + dtype + Shapes.format(shape) + " needs (" + need + " bytes)");
        }
        return new Tensor(null, scope, dtype, shape, null, 0, memory);
    }

    /** Optional name (the case-file column, say); may be null. */
    public String name() {
        return name;
    }

    /** {@return the element type} */
    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    /** {@return the number of dimensions} */
    public int rank() {
        return shape.length;
    }

    /**
     * @param axis 0 .. rank-1
     * @return the size of that dimension
     */
    public long dim(int axis) {
        return shape[axis];
    }

    /** {@return the number of elements (the product of the shape; 1 for rank 0)} */
    public long elementCount() {
        return elements;
    }

    /** {@return the size of the contents in bytes} */
    public long byteSize() {
        return elements * dtype.byteSize();
    }

    /** {@return the scope that owns this tensor} */
    public TensorScope scope() {
        return scope;
    }

    /** {@return true for a tensor in host (Arrow) memory, false for a backend's device memory} */
    public boolean isHost() {
        return deviceMemory == null;
    }

    /** {@code host} or the device name of the backend memory, e.g. {@code cuda:0}. */
    public String device() {
        return deviceMemory == null ? "host" : deviceMemory.device();
    }

    /** {@return whether {@link #close()} ran (on this tensor or its scope)} */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * The host bytes as a writable segment (valid until this tensor closes); counts as a change of the
     * contents ({@link #generation()}).
     *
     * @throws IllegalStateException if the tensor was closed
     * @throws UnsupportedOperationException for a device tensor
     */
    public MemorySegment segment() {
        checkOpen();
        if (segment == null) {
            throw new UnsupportedOperationException(describe() + " lives on " + device()
                    + "; copy it to the host first (Ss2d.toHost)");
        }
        generation++;
        return segment;
    }

    /**
     * The Arrow buffer holding a host tensor's bytes (shared, not copied); counts as a change of the
     * contents ({@link #generation()}).
     *
     * @throws IllegalStateException if the tensor was closed
     * @throws UnsupportedOperationException for a device tensor
     */
    public ArrowBuf arrowBuf() {
        checkOpen();
        if (buf == null) {
            throw new UnsupportedOperationException(describe() + " lives on " + device() + ", not in Arrow memory");
        }
        generation++;
        return buf;
    }

    /**
     * A number that changes whenever the contents may have changed (see the class comment); equal
     * values mean no write through this tensor and no hand-out of its memory in between. Starts at 0.
     */
    public long generation() {
        return generation;
    }

    /**
     * Records a change of the contents made through memory handed out earlier (a segment kept by the
     * caller, say), so that copies kept elsewhere (a device backend's weight upload) are refreshed.
     */
    public void markModified() {
        generation++;
    }

    /** Byte offset of element 0 inside {@link #arrowBuf()}. */
    public long arrowOffset() {
        checkOpen();
        return segment.address() - buf.memoryAddress();
    }

    /**
     * The backend memory of a device tensor; counts as a change of the contents ({@link #generation()}),
     * as backends write outputs through it.
     *
     * @throws IllegalStateException if the tensor was closed
     * @throws UnsupportedOperationException for a host tensor
     */
    public DeviceMemory deviceMemory() {
        checkOpen();
        if (deviceMemory == null) {
            throw new UnsupportedOperationException(describe() + " is a host tensor");
        }
        generation++;
        return deviceMemory;
    }

    /** Element at a flat row-major index, as float32 (host tensors; a 16-bit element is widened exactly). */
    public float getFloat(long index) {
        requireHost();
        return dtype == DType.F32 ? segment.getAtIndex(F32, index) : HalfFloats.get(segment, dtype, index);
    }

    /**
     * Sets the element at a flat row-major index (host tensors); a 16-bit tensor stores {@code value}
     * rounded to nearest, ties to even ({@link HalfFloats}).
     */
    public void setFloat(long index, float value) {
        requireHost();
        if (dtype == DType.F32) segment.setAtIndex(F32, index, value);
        else HalfFloats.set(segment, dtype, index, value);
        generation++;
    }

    /** Element at a multi-dimensional index, as float32. */
    public float get(long... index) {
        return getFloat(flatIndex(index));
    }

    /**
     * Sets the element at a multi-dimensional index (host tensors; rounded for a 16-bit tensor).
     *
     * @param value the new value
     * @param index one index per dimension
     */
    public void set(float value, long... index) {
        setFloat(flatIndex(index), value);
    }

    /** Copies the contents out as float32 (host; 16-bit elements widened exactly). */
    public float[] toFloatArray() {
        requireHost();
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(describe() + " has more elements than a Java array can hold");
        }
        if (dtype == DType.F32) return segment.toArray(ValueLayout.JAVA_FLOAT);
        float[] out = new float[(int) elements];
        for (int i = 0; i < out.length; i++) out[i] = HalfFloats.get(segment, dtype, i);
        return out;
    }

    /**
     * Copies {@code values} in (host); the length must equal the element count. A 16-bit tensor stores
     * each value rounded to nearest, ties to even.
     */
    public Tensor copyFrom(float[] values) {
        requireHost();
        if (values.length != elements) {
            throw new IllegalArgumentException("values: expected " + elements + " elements for " + describe()
                    + ", found " + values.length);
        }
        if (dtype == DType.F32) {
            MemorySegment.copy(values, 0, segment, ValueLayout.JAVA_FLOAT, 0, values.length);
        } else {
            for (int i = 0; i < values.length; i++) HalfFloats.set(segment, dtype, i, values[i]);
        }
        generation++;
        return this;
    }

    /** Sets every element (host; rounded for a 16-bit tensor); used to poison outputs in tests. */
    public Tensor fill(float value) {
        requireHost();
        if (value == 0f && Float.floatToRawIntBits(value) == 0) {
            segment.fill((byte) 0);
        } else if (dtype == DType.F32) {
            for (long i = 0; i < elements; i++) {
                segment.setAtIndex(F32, i, value);
            }
        } else {
            short bits = HalfFloats.fromFloat(dtype, value);
            for (long i = 0; i < elements; i++) {
                segment.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, bits);
            }
        }
        generation++;
        return this;
    }

    /**
     * The row-major position of a multi-dimensional index.
     *
     * @param index one index per dimension
     * @return the flat index
     * @throws IllegalArgumentException for an index of the wrong rank
     * @throws IndexOutOfBoundsException for an index outside its dimension
     */
    public long flatIndex(long... index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index of rank " + index.length + " for " + describe());
        }
        long flat = 0;
        for (int i = 0; i < shape.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("index " + index[i] + " on axis " + i + " of " + describe());
            }
            flat = flat * shape[i] + index[i];
        }
        return flat;
    }

    /** {@code f32(2, 3, 4)@host "u"} */
    public String describe() {
        return dtype.name().toLowerCase() + Shapes.format(shape) + "@" + device() + (name == null ? "" : " \"" + name + "\"");
    }

    @Override
    public String toString() {
        return "Tensor[" + describe() + (closed.get() ? ", closed" : "") + "]";
    }

    /** Frees the memory (idempotent). */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            if (arena != null) {
                arena.close();
            }
            if (buf != null) {
                buf.close();
            }
            if (deviceMemory != null) {
                deviceMemory.free();
            }
        } finally {
            scope.unregister(this);
        }
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException(describe() + " was used after it was closed (scope '" + scope.path() + "')");
        }
    }

    private void requireHost() {
        checkOpen();
        if (segment == null) {
            throw new UnsupportedOperationException(describe() + " lives on " + device() + "; copy it to the host first");
        }
    }
}
