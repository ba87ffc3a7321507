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

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    public long elementCount() {
        return elements;
    }

    public long byteSize() {
        return elements * dtype.byteSize();
    }

    public TensorScope scope() {
        return scope;
    }

    public boolean isHost() {
        return deviceMemory == null;
    }

    /** {@code host} or the device name of the backend memory, e.g. {@code cuda:0}. */
    public String device() {
        return deviceMemory == null ? "host" : deviceMemory.device();
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** The host bytes as a segment (valid until this tensor closes). */
    public MemorySegment segment() {
        checkOpen();
        if (segment == null) {
            throw new UnsupportedOperationException(describe() + " lives on " + device()
                    + "; copy it to the host first (Ss2d.toHost)");
        }
        return segment;
    }

    /** The Arrow buffer holding a host tensor's bytes (shared, not copied). */
    public ArrowBuf arrowBuf() {
        checkOpen();
        if (buf == null) {
            throw new UnsupportedOperationException(describe() + " lives on " + device() + ", not in Arrow memory");
        }
        return buf;
    }

    /** Byte offset of element 0 inside {@link #arrowBuf()}. */
    public long arrowOffset() {
        checkOpen();
        return segment.address() - buf.memoryAddress();
    }

    /** The backend memory of a device tensor. */
    public DeviceMemory deviceMemory() {
        checkOpen();
        if (deviceMemory == null) {
            throw new UnsupportedOperationException(describe() + " is a host tensor");
        }
        return deviceMemory;
    }

    /** Element at a flat row-major index (float32 tensors on the host). */
    public float getFloat(long index) {
        requireF32Host();
        return segment.getAtIndex(F32, index);
    }

    public void setFloat(long index, float value) {
        requireF32Host();
        segment.setAtIndex(F32, index, value);
    }

    /** Element at a multi-dimensional index. */
    public float get(long... index) {
        return getFloat(flatIndex(index));
    }

    public void set(float value, long... index) {
        setFloat(flatIndex(index), value);
    }

    /** Copies the contents out (host, float32). */
    public float[] toFloatArray() {
        requireF32Host();
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(describe() + " has more elements than a Java array can hold");
        }
        return segment.toArray(ValueLayout.JAVA_FLOAT);
    }

    /** Copies {@code values} in (host, float32); the length must equal the element count. */
    public Tensor copyFrom(float[] values) {
        requireF32Host();
        if (values.length != elements) {
            throw new IllegalArgumentException("values: expected " + elements + " elements for " + describe()
                    + ", found " + values.length);
        }
        MemorySegment.copy(values, 0, segment, ValueLayout.JAVA_FLOAT, 0, values.length);
        return this;
    }

    /** Sets every element (host, float32); used to poison outputs in tests. */
    public Tensor fill(float value) {
        requireF32Host();
        if (value == 0f && Float.floatToRawIntBits(value) == 0) {
            segment.fill((byte) 0);
        } else {
            for (long i = 0; i < elements; i++) {
                segment.setAtIndex(F32, i, value);
            }
        }
        return this;
    }

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

    private void requireF32Host() {
        checkOpen();
        if (dtype != DType.F32) {
            throw new UnsupportedOperationException(describe() + ": element access is implemented for f32 only");
        }
        if (segment == null) {
            throw new UnsupportedOperationException(describe() + " lives on " + device() + "; copy it to the host first");
        }
    }
}
