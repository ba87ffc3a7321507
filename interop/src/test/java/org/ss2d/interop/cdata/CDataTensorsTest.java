package org.ss2d.interop.cdata;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.apache.arrow.c.ArrowArray;
import org.apache.arrow.c.ArrowSchema;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.ss2d.model.RandomWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The C Data Interface path: no copy (checked by address identity) and every release exactly once
 * (checked by counting upcalls and by the allocators returning to zero; closing an allocator with
 * memory outstanding throws, so a leak fails the test).
 */
class CDataTensorsTest {

    @Test
    void javaToJavaThroughTheStructsSharesTheBytesAndFreesThemOnce() {
        try (BufferAllocator producerRoot = new RootAllocator(); BufferAllocator consumerRoot = new RootAllocator()) {
            TensorScope producer = TensorScope.of("producer", producerRoot);
            TensorScope consumer = TensorScope.of("consumer", consumerRoot);
            Tensor t = RandomWeights.gaussian(producer, 7, 1.0, 2, 3, 4);
            long bytes = producerRoot.getAllocatedMemory();
            Tensor in;
            try (ArrowArray array = ArrowArray.allocateNew(consumerRoot); ArrowSchema schema = ArrowSchema.allocateNew(consumerRoot)) {
                CDataTensors.exportTensor(t, array, schema);
                in = CDataTensors.importTensor(consumer, array, schema);
            }
            assertEquals(t.segment().address(), in.segment().address(), "import must view the exported bytes, f32 (2, 3, 4)");
            assertArrayEquals(new long[] {2, 3, 4}, in.shape(), "shape from the fixed_shape_tensor metadata");
            assertArrayEquals(t.toFloatArray(), in.toFloatArray());
            t.setFloat(5, 42f);
            assertEquals(42f, in.getFloat(5), "a write on one side is seen on the other");
            t.close(); // the consumer still holds the memory
            assertTrue(producerRoot.getAllocatedMemory() >= bytes, "the export keeps the tensor's memory alive");
            assertEquals(t.elementCount(), in.toFloatArray().length);
            in.close(); // release callback -> the producer's reference goes
            assertEquals(0, producerRoot.getAllocatedMemory(), "producer memory after release");
            consumer.close();
            producer.close();
        } // RootAllocator.close throws on any outstanding byte
    }

    @Test
    void halfTensorsCrossTheStructsAsViewsOfTheirOwnDtype() {
        for (DType d : new DType[] {DType.F16, DType.BF16}) {
            try (BufferAllocator producerRoot = new RootAllocator(); BufferAllocator consumerRoot = new RootAllocator()) {
                TensorScope producer = TensorScope.of("producer", producerRoot);
                TensorScope consumer = TensorScope.of("consumer", consumerRoot);
                Tensor f = RandomWeights.gaussian(producer, 9, 1.0, 3, 5);
                Tensor t = producer.convert(f, d);
                Tensor in;
                try (ArrowArray array = ArrowArray.allocateNew(consumerRoot); ArrowSchema schema = ArrowSchema.allocateNew(consumerRoot)) {
                    CDataTensors.exportTensor(t, array, schema);
                    in = CDataTensors.importTensor(consumer, array, schema);
                }
                assertEquals(d, in.dtype(), d + ": the dtype comes back (bfloat16 from logical_dtype)");
                assertEquals(t.segment().address(), in.segment().address(), d + ": import views the exported bytes");
                assertArrayEquals(new long[] {3, 5}, in.shape());
                assertArrayEquals(t.toFloatArray(), in.toFloatArray(), d.name());
                in.close();
                t.close();
                f.close();
                consumer.close();
                producer.close();
            }
        }
    }

    @Test
    void foreignProducerIsReleasedExactlyOnceWhenTheTensorCloses() {
        float[] data = new float[6];
        for (int i = 0; i < data.length; i++) data[i] = 0.5f * i - 1.25f;
        int arrays = ForeignProducer.ARRAY_RELEASES.get(), schemas = ForeignProducer.SCHEMA_RELEASES.get();
        try (ForeignProducer p = new ForeignProducer(data, 2, 3); BufferAllocator root = new RootAllocator();
             TensorScope scope = TensorScope.of("consumer", root)) {
            Tensor t = CDataTensors.importTensor(scope, p.array, p.schema);
            assertEquals(p.values.address(), t.segment().address(), "zero copy from a foreign producer, f32 (2, 3)");
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertEquals("foreign", t.name());
            assertArrayEquals(data, t.toFloatArray());
            assertEquals(schemas + 1, ForeignProducer.SCHEMA_RELEASES.get(), "the schema is released once, after import");
            assertEquals(arrays, ForeignProducer.ARRAY_RELEASES.get(), "array released while the tensor lives");
            assertEquals(MemorySegment.NULL, p.array.get(ADDRESS, ForeignProducer.A_RELEASE), "import moves the struct");
            t.close();
            assertEquals(arrays + 1, ForeignProducer.ARRAY_RELEASES.get(), "array released once, on close");
            t.close();
            scope.close();
            assertEquals(arrays + 1, ForeignProducer.ARRAY_RELEASES.get(), "no second release");
            assertEquals(0, root.getAllocatedMemory());
            // The structs are marked released: a second import is refused, not a double free.
            var e = assertThrows(Ss2dArgumentException.class,
                    () -> CDataTensors.importTensor(TensorScope.of("again", root), p.array, p.schema));
            assertTrue(e.getMessage().contains("released"), e.getMessage());
            assertEquals(arrays + 1, ForeignProducer.ARRAY_RELEASES.get());
        }
    }

    @Test
    void aSlicedArrayIsRefusedNotMisreadAndItsStructsAreReleased() {
        int arrays = ForeignProducer.ARRAY_RELEASES.get(), schemas = ForeignProducer.SCHEMA_RELEASES.get();
        try (ForeignProducer p = new ForeignProducer(2, new float[] {1, 2, 3, 4}, 4);
             BufferAllocator root = new RootAllocator(); TensorScope scope = TensorScope.of("consumer", root)) {
            var e = assertThrows(Ss2dArgumentException.class, () -> CDataTensors.importTensor(scope, p.array, p.schema));
            assertEquals("array", e.argument(), e.getMessage());
            assertTrue(e.getMessage().contains("offset 2"), e.getMessage());
            assertEquals(arrays + 1, ForeignProducer.ARRAY_RELEASES.get(), "refused array released once");
            assertEquals(schemas + 1, ForeignProducer.SCHEMA_RELEASES.get(), "refused schema released once");
            assertEquals(0, root.getAllocatedMemory());
        }
    }

    @Test
    void foreignConsumerSeesTheTensorAndItsReleaseFreesTheExport() throws Throwable {
        try (BufferAllocator root = new RootAllocator(); Arena arena = Arena.ofConfined()) {
            TensorScope scope = TensorScope.of("producer", root);
            Tensor t = scope.fromArray("y", new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
            MemorySegment array = arena.allocate(CDataTensors.ARRAY_STRUCT_BYTES, 8);
            MemorySegment schema = arena.allocate(CDataTensors.SCHEMA_STRUCT_BYTES, 8);
            CDataTensors.exportTensor(t, array, schema);
            t.close(); // the export holds its own reference
            assertTrue(root.getAllocatedMemory() > 0);

            // Read the structs as a C consumer would.
            assertEquals("+w:6", cString(schema.get(ADDRESS, ForeignProducer.S_FORMAT)));
            assertEquals("y", cString(schema.get(ADDRESS, ForeignProducer.S_NAME)));
            String meta = metadata(schema.get(ADDRESS, ForeignProducer.S_METADATA));
            assertTrue(meta.contains("ARROW:extension:name=arrow.fixed_shape_tensor"), meta);
            assertTrue(meta.contains("ARROW:extension:metadata={\"shape\":[3,2]}"), meta);
            MemorySegment childSchema = schema.get(ADDRESS, ForeignProducer.S_CHILDREN).reinterpret(8)
                    .get(ADDRESS, 0).reinterpret(CDataTensors.SCHEMA_STRUCT_BYTES);
            assertEquals("f", cString(childSchema.get(ADDRESS, ForeignProducer.S_FORMAT)));
            assertEquals(1, array.get(JAVA_LONG, ForeignProducer.A_LENGTH));
            MemorySegment child = array.get(ADDRESS, ForeignProducer.A_CHILDREN).reinterpret(8).get(ADDRESS, 0)
                    .reinterpret(CDataTensors.ARRAY_STRUCT_BYTES);
            assertEquals(6, child.get(JAVA_LONG, ForeignProducer.A_LENGTH));
            MemorySegment values = child.get(ADDRESS, ForeignProducer.A_BUFFERS).reinterpret(16).get(ADDRESS, 8).reinterpret(24);
            assertEquals(6f, values.getAtIndex(ValueLayout.JAVA_FLOAT, 5));

            // Release each struct once through its own callback, as C code does.
            release(schema, ForeignProducer.S_RELEASE);
            release(array, ForeignProducer.A_RELEASE);
            assertEquals(MemorySegment.NULL, array.get(ADDRESS, ForeignProducer.A_RELEASE), "marked released");
            assertEquals(MemorySegment.NULL, schema.get(ADDRESS, ForeignProducer.S_RELEASE), "marked released");
            assertEquals(0, root.getAllocatedMemory(), "the consumer's release frees the exported tensor");
            scope.close();
        }
    }

    @Test
    void anExportHoldsItsMemoryUntilTheConsumerReleasesIt() {
        try (BufferAllocator root = new RootAllocator(); BufferAllocator structs = new RootAllocator()) {
            TensorScope scope = TensorScope.of("producer", root);
            ArrowArray array = ArrowArray.allocateNew(structs);
            ArrowSchema schema = ArrowSchema.allocateNew(structs);
            Tensor t = scope.fromArray(new float[] {1, 2}, 2);
            CDataTensors.exportTensor(t, array, schema);
            t.close();
            assertTrue(root.getAllocatedMemory() >= 8, "an unreleased export is outstanding memory: closing "
                    + "its allocator now would fail with Arrow's leak report");
            array.release();
            schema.release();
            assertEquals(0, root.getAllocatedMemory());
            array.close();
            schema.close();
            scope.close();
        }
    }

    @Test
    void badStructsAreRefusedByName() {
        try (BufferAllocator structs = new RootAllocator(); TensorScope scope = TensorScope.root("r");
             ArrowArray a = ArrowArray.allocateNew(structs); ArrowSchema s = ArrowSchema.allocateNew(structs)) {
            try (Tensor one = scope.fromArray(new float[] {1}, 1)) {
                var bad = assertThrows(Ss2dArgumentException.class,
                        () -> CDataTensors.exportTensor(one, MemorySegment.NULL, MemorySegment.NULL));
                assertEquals("array", bad.argument());
            }
            MemorySegment struct = MemorySegment.ofAddress(a.memoryAddress()).reinterpret(CDataTensors.ARRAY_STRUCT_BYTES);
            assertEquals(MemorySegment.NULL, struct.get(ADDRESS, ForeignProducer.A_RELEASE), "a refused export fills nothing");
            assertEquals(0, scope.liveBytes());
        }
    }

    private static void release(MemorySegment struct, long releaseOffset) throws Throwable {
        MemorySegment fn = struct.get(ADDRESS, releaseOffset);
        assertTrue(!fn.equals(MemorySegment.NULL), "release callback present");
        Linker.nativeLinker().downcallHandle(fn, FunctionDescriptor.ofVoid(ADDRESS)).invokeExact(struct);
    }

    private static String cString(MemorySegment p) {
        return p.reinterpret(Integer.MAX_VALUE).getString(0, StandardCharsets.UTF_8);
    }

    private static String metadata(MemorySegment p) {
        MemorySegment m = p.reinterpret(1 << 16);
        int n = m.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        long at = 4;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String[] kv = new String[2];
            for (int j = 0; j < 2; j++) {
                int len = m.get(ValueLayout.JAVA_INT_UNALIGNED, at);
                kv[j] = new String(m.asSlice(at + 4, len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
                at += 4 + len;
            }
            sb.append(kv[0]).append('=').append(kv[1]).append(';');
        }
        return sb.toString();
    }
}
