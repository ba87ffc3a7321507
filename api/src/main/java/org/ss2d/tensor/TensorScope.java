package org.ss2d.tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.apache.arrow.memory.RootAllocator;

/**
 * A named, nestable owner of tensors, in the manner of Arrow's allocators: host memory comes from a
 * child {@link BufferAllocator} of this scope, device memory from a backend, and both are tracked
 * here. Closing a scope closes its children first; if tensors are still live it frees them, marks
 * them closed and then throws {@link IllegalStateException} naming the scope and the bytes that were
 * outstanding, so that a leak fails a test instead of passing quietly.
 */
public final class TensorScope implements AutoCloseable {
    private final String name;
    private final TensorScope parent;
    private final BufferAllocator allocator;
    private final Set<Tensor> live = Collections.synchronizedSet(new LinkedHashSet<>());
    private final List<TensorScope> children = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean closed;
    /**
     * Held while closing or releasing, so that one thread does it and a concurrent caller waits and then finds the
     * scope closed (two closes at once used to report the same leak twice).
     */
    private final Object closing = new Object();

    private TensorScope(String name, TensorScope parent, BufferAllocator allocator) {
        this.name = Objects.requireNonNull(name, "name");
        this.parent = parent;
        this.allocator = allocator;
    }

    /** A root scope with its own Arrow {@link RootAllocator} (no limit). */
    public static TensorScope root(String name) {
        return new TensorScope(name, null, new RootAllocator(Long.MAX_VALUE));
    }

    /** A root scope on a caller's Arrow allocator (a child allocator is made, the caller's is left open). */
    public static TensorScope of(String name, BufferAllocator parentAllocator) {
        return new TensorScope(name, null, parentAllocator.newChildAllocator(name, 0, Long.MAX_VALUE));
    }

    /** A nested scope; closed when this one closes, if not before. */
    public TensorScope child(String childName) {
        checkOpen();
        TensorScope c = new TensorScope(childName, this,
                allocator.newChildAllocator(childName, 0, Long.MAX_VALUE));
        children.add(c);
        return c;
    }

    /** {@return this scope's own name (its path adds the parents')} */
    public String name() {
        return name;
    }

    /** {@code root/child/grandchild} */
    public String path() {
        return parent == null ? name : parent.path() + "/" + name;
    }

    /** The Arrow allocator that host tensors of this scope draw from. */
    public BufferAllocator allocator() {
        checkOpen();
        return allocator;
    }

    /** A zero-filled host tensor. */
    public Tensor allocate(DType dtype, long... shape) {
        return allocate(null, dtype, shape);
    }

    /** A zero-filled, named host tensor. */
    public Tensor allocate(String tensorName, DType dtype, long... shape) {
        checkOpen();
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), dtype.byteSize());
        ArrowBuf buf = allocator.buffer(Math.max(bytes, 1));
        buf.setZero(0, buf.capacity());
        try {
            return Tensor.host(tensorName, this, dtype, shape, buf, 0);
        } catch (RuntimeException e) {
            buf.close();
            throw e;
        }
    }

    /** A float32 host tensor holding a copy of {@code values}. */
    public Tensor fromArray(float[] values, long... shape) {
        return fromArray(null, values, shape);
    }

    /**
     * A named float32 host tensor of this scope holding a copy of {@code values}.
     *
     * @param tensorName the tensor's name (may be null)
     * @param values     row-major values, as many as the shape holds
     * @param shape      dimensions
     * @return the new tensor
     * @throws IllegalArgumentException when the counts differ
     * @throws IllegalStateException when this scope is closed
     */
    public Tensor fromArray(String tensorName, float[] values, long... shape) {
        Tensor t = allocate(tensorName, DType.F32, shape);
        try {
            return t.copyFrom(values);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /**
     * A named host tensor of {@code dtype} holding {@code values}, rounded to nearest (ties to even) for a
     * 16-bit type.
     *
     * @throws IllegalArgumentException when the counts differ
     */
    public Tensor fromArray(String tensorName, DType dtype, float[] values, long... shape) {
        Tensor t = allocate(tensorName, dtype, shape);
        try {
            return t.copyFrom(values);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /**
     * A new host tensor of {@code dtype} with {@code src}'s values (a host tensor of any type), rounded
     * to nearest (ties to even) where {@code dtype} is narrower; named as {@code src}.
     */
    public Tensor convert(Tensor src, DType dtype) {
        Tensor t = allocate(src.name(), dtype, src.shape());
        try {
            long n = src.elementCount();
            for (long i = 0; i < n; i++) t.setFloat(i, src.getFloat(i));
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /**
     * Zero-copy view of an existing Arrow buffer: the buffer is retained (its reference count goes up)
     * and released when the tensor closes, so the caller may release its own reference at any time.
     */
    public Tensor wrap(String tensorName, ArrowBuf buffer, long byteOffset, DType dtype, long... shape) {
        checkOpen();
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), dtype.byteSize());
        if (byteOffset < 0 || byteOffset + bytes > buffer.capacity()) {
            throw new IllegalArgumentException("buffer: " + dtype + Shapes.format(shape) + " at byte offset "
                    + byteOffset + " needs " + bytes + " bytes, the buffer holds " + buffer.capacity());
        }
        ArrowBuf retained = buffer.getReferenceManager().retain(buffer, allocator);
        try {
            return Tensor.host(tensorName, this, dtype, shape, retained, byteOffset);
        } catch (RuntimeException e) {
            retained.close();
            throw e;
        }
    }

    /**
     * Zero-copy view of foreign memory (another library's segment). The memory must stay valid until the
     * tensor closes; Arrow accounts for it but does not free it.
     */
    public Tensor wrap(String tensorName, MemorySegment memory, DType dtype, long... shape) {
        checkOpen();
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), dtype.byteSize());
        if (bytes > memory.byteSize()) {
            throw new IllegalArgumentException("memory: " + dtype + Shapes.format(shape) + " needs " + bytes
                    + " bytes, the segment holds " + memory.byteSize());
        }
        ArrowBuf buf = allocator.wrapForeignAllocation(new ForeignAllocation(Math.max(bytes, 1), memory.address()) {
            @Override
            protected void release0() {
                // Owned by the caller's arena: nothing to free here.
            }
        });
        return Tensor.host(tensorName, this, dtype, shape, buf, 0);
    }

    /** Live tensors of this scope (not of its children). */
    public int liveCount() {
        return live.size();
    }

    /** Bytes held by live tensors of this scope and its children. */
    public long liveBytes() {
        long n = 0;
        synchronized (live) {
            for (Tensor t : live) n += t.byteSize();
        }
        synchronized (children) {
            for (TensorScope c : children) n += c.liveBytes();
        }
        return n;
    }

    /** {@return whether this scope was closed or released} */
    public boolean isClosed() {
        return closed;
    }

    void register(Tensor t) {
        checkOpen();
        live.add(t);
    }

    void unregister(Tensor t) {
        live.remove(t);
    }

    /**
     * Frees every live tensor of this scope and its children, then closes it without complaint: for
     * scopes used as arenas, where the tensors are meant to die with the scope. {@link #close()} is the
     * one that treats live tensors as a leak.
     */
    public void release() {
        synchronized (closing) {
            if (closed) {
                return;
            }
            releaseLocked();
        }
    }

    private void releaseLocked() {
        List<TensorScope> kids;
        synchronized (children) {
            kids = new ArrayList<>(children);
        }
        for (TensorScope c : kids) c.release();
        List<Tensor> all;
        synchronized (live) {
            all = new ArrayList<>(live);
        }
        for (Tensor t : all) t.close();
        closeLocked();
    }

    @Override
    public void close() {
        synchronized (closing) {
            if (closed) {
                return;
            }
            closeLocked();
        }
    }

    private void closeLocked() {
        RuntimeException failure = null;
        List<TensorScope> kids;
        synchronized (children) {
            kids = new ArrayList<>(children);
        }
        for (int i = kids.size() - 1; i >= 0; i--) {
            try {
                kids.get(i).close();
            } catch (RuntimeException e) {
                if (failure == null) failure = e; else failure.addSuppressed(e);
            }
        }
        List<Tensor> leaked;
        synchronized (live) {
            leaked = new ArrayList<>(live);
        }
        closed = true;
        if (!leaked.isEmpty()) {
            long bytes = 0;
            StringBuilder which = new StringBuilder();
            for (Tensor t : leaked) {
                bytes += t.byteSize();
                if (which.length() < 300) which.append(which.length() == 0 ? "" : ", ").append(t.describe());
                t.close();
            }
            IllegalStateException e = new IllegalStateException("scope '" + path() + "' closed with "
                    + leaked.size() + " live tensor(s) holding " + bytes + " bytes: " + which);
            if (failure != null) e.addSuppressed(failure);
            failure = e;
        }
        try {
            allocator.close();
        } catch (RuntimeException e) {
            if (failure == null) failure = e; else failure.addSuppressed(e);
        }
        if (parent != null) {
            parent.children.remove(this);
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("scope '" + path() + "' is closed");
        }
    }

    @Override
    public String toString() {
        return "TensorScope[" + path() + ", live=" + live.size() + "]";
    }
}
