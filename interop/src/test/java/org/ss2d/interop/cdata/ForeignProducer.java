package org.ss2d.interop.cdata;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A producer that is not Arrow Java: C structs laid out by hand in foreign memory, with release
 * callbacks that are FFM upcalls counting how often they run. It plays pyarrow's or a C library's
 * part, so that the tests can see exactly when and how often Arrow Java releases foreign memory.
 */
final class ForeignProducer implements AutoCloseable {
    // struct ArrowSchema field offsets
    static final long S_FORMAT = 0, S_NAME = 8, S_METADATA = 16, S_FLAGS = 24, S_N_CHILDREN = 32, S_CHILDREN = 40,
            S_DICTIONARY = 48, S_RELEASE = 56, S_PRIVATE = 64;
    // struct ArrowArray field offsets
    static final long A_LENGTH = 0, A_NULL_COUNT = 8, A_OFFSET = 16, A_N_BUFFERS = 24, A_N_CHILDREN = 32,
            A_BUFFERS = 40, A_CHILDREN = 48, A_DICTIONARY = 56, A_RELEASE = 64, A_PRIVATE = 72;

    static final AtomicInteger ARRAY_RELEASES = new AtomicInteger();
    static final AtomicInteger SCHEMA_RELEASES = new AtomicInteger();

    final Arena arena = Arena.ofShared();
    final MemorySegment values;
    final MemorySegment array;
    final MemorySegment schema;

    /** A one-row fixed_shape_tensor of {@code shape} over {@code data} (float32, 64-byte aligned). */
    ForeignProducer(float[] data, long... shape) {
        this(0, data, shape);
    }

    /** As above, with {@code childOffset} in the values array's offset field (a sliced array). */
    ForeignProducer(long childOffset, float[] data, long... shape) {
        values = arena.allocate((long) data.length * 4, 64);
        MemorySegment.copy(data, 0, values, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, data.length);
        MemorySegment arrayRelease = upcall("releaseArray");
        MemorySegment schemaRelease = upcall("releaseSchema");

        StringBuilder dims = new StringBuilder();
        for (long d : shape) dims.append(dims.length() == 0 ? "" : ",").append(d);
        MemorySegment childSchema = arena.allocate(CDataTensors.SCHEMA_STRUCT_BYTES, 8);
        childSchema.set(ADDRESS, S_FORMAT, arena.allocateFrom("f"));
        childSchema.set(ADDRESS, S_NAME, arena.allocateFrom("item"));
        childSchema.set(JAVA_LONG, S_FLAGS, 0);
        childSchema.set(ADDRESS, S_RELEASE, schemaRelease);
        schema = arena.allocate(CDataTensors.SCHEMA_STRUCT_BYTES, 8);
        schema.set(ADDRESS, S_FORMAT, arena.allocateFrom("+w:" + data.length));
        schema.set(ADDRESS, S_NAME, arena.allocateFrom("foreign"));
        schema.set(ADDRESS, S_METADATA, metadata("ARROW:extension:name", "arrow.fixed_shape_tensor",
                "ARROW:extension:metadata", "{\"shape\":[" + dims + "]}"));
        schema.set(JAVA_LONG, S_N_CHILDREN, 1);
        schema.set(ADDRESS, S_CHILDREN, pointers(childSchema));
        schema.set(ADDRESS, S_RELEASE, schemaRelease);

        MemorySegment childArray = arena.allocate(CDataTensors.ARRAY_STRUCT_BYTES, 8);
        childArray.set(JAVA_LONG, A_LENGTH, data.length);
        childArray.set(JAVA_LONG, A_OFFSET, childOffset);
        childArray.set(JAVA_LONG, A_N_BUFFERS, 2);
        childArray.set(ADDRESS, A_BUFFERS, pointers(MemorySegment.NULL, values));
        childArray.set(ADDRESS, A_RELEASE, arrayRelease);
        array = arena.allocate(CDataTensors.ARRAY_STRUCT_BYTES, 8);
        array.set(JAVA_LONG, A_LENGTH, 1);
        array.set(JAVA_LONG, A_N_BUFFERS, 1);
        array.set(ADDRESS, A_BUFFERS, pointers(MemorySegment.NULL));
        array.set(JAVA_LONG, A_N_CHILDREN, 1);
        array.set(ADDRESS, A_CHILDREN, pointers(childArray));
        array.set(ADDRESS, A_RELEASE, arrayRelease);
    }

    private MemorySegment upcall(String method) {
        try {
            var mh = MethodHandles.lookup().findStatic(ForeignProducer.class, method,
                    MethodType.methodType(void.class, MemorySegment.class));
            return Linker.nativeLinker().upcallStub(mh, FunctionDescriptor.ofVoid(ADDRESS), arena);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** The producer's release: releases the children, then marks the struct released (release = NULL). */
    static void releaseArray(MemorySegment p) {
        MemorySegment a = p.reinterpret(CDataTensors.ARRAY_STRUCT_BYTES);
        long n = a.get(JAVA_LONG, A_N_CHILDREN);
        if (n > 0) {
            MemorySegment kids = a.get(ADDRESS, A_CHILDREN).reinterpret(8 * n);
            for (long i = 0; i < n; i++) {
                MemorySegment c = kids.getAtIndex(ADDRESS, i).reinterpret(CDataTensors.ARRAY_STRUCT_BYTES);
                c.set(ADDRESS, A_RELEASE, MemorySegment.NULL);
            }
            ARRAY_RELEASES.incrementAndGet(); // count top-level releases only
        }
        a.set(ADDRESS, A_RELEASE, MemorySegment.NULL);
    }

    static void releaseSchema(MemorySegment p) {
        MemorySegment s = p.reinterpret(CDataTensors.SCHEMA_STRUCT_BYTES);
        long n = s.get(JAVA_LONG, S_N_CHILDREN);
        if (n > 0) {
            MemorySegment kids = s.get(ADDRESS, S_CHILDREN).reinterpret(8 * n);
            for (long i = 0; i < n; i++) {
                kids.getAtIndex(ADDRESS, i).reinterpret(CDataTensors.SCHEMA_STRUCT_BYTES).set(ADDRESS, S_RELEASE, MemorySegment.NULL);
            }
            SCHEMA_RELEASES.incrementAndGet();
        }
        s.set(ADDRESS, S_RELEASE, MemorySegment.NULL);
    }

    private MemorySegment pointers(MemorySegment... ps) {
        MemorySegment s = arena.allocate(8L * ps.length, 8);
        for (int i = 0; i < ps.length; i++) s.setAtIndex(ADDRESS, i, ps[i]);
        return s;
    }

    /** The C Data Interface metadata encoding: int32 count, then int32-length-prefixed keys and values. */
    private MemorySegment metadata(String... kv) {
        int bytes = 4;
        for (String s : kv) bytes += 4 + s.getBytes(StandardCharsets.UTF_8).length;
        MemorySegment m = arena.allocate(bytes, 8);
        long at = 0;
        m.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, at, kv.length / 2);
        at += 4;
        for (String s : kv) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            m.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, at, b.length);
            MemorySegment.copy(b, 0, m, java.lang.foreign.ValueLayout.JAVA_BYTE, at + 4, b.length);
            at += 4 + b.length;
        }
        return m;
    }

    @Override
    public void close() {
        arena.close();
    }
}
