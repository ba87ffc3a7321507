package org.ss2d.interop.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.ExtensionTypeRegistry;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** Zero copy is proven by address identity and by writes showing through on the other side. */
class ArrowTensorsTest {
    private BufferAllocator root;
    private TensorScope scope;

    @BeforeEach
    void open() {
        root = new RootAllocator();
        scope = TensorScope.of("arrow-test", root);
    }

    @AfterEach
    void close() {
        scope.close(); // throws if a tensor leaked
        root.close(); // throws if a vector leaked
    }

    private static float[] random(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** A plain FixedSizeList<float32>[6] column with `rows` rows of random values. */
    private FixedSizeListVector plainColumn(int rows, float[] values) {
        FixedSizeListVector v = FixedSizeListVector.empty("x", 6, root);
        v.addOrGetVector(FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)));
        v.allocateNew();
        Float4Vector data = (Float4Vector) v.getDataVector();
        for (int i = 0; i < values.length; i++) data.setSafe(i, values[i]);
        data.setValueCount(values.length);
        for (int r = 0; r < rows; r++) v.setNotNull(r);
        v.setValueCount(rows);
        return v;
    }

    @Test
    void rowOfAFixedSizeListIsWrappedWithoutCopy() {
        float[] values = random(11, 18);
        try (FixedSizeListVector col = plainColumn(3, values);
             Tensor t = ArrowTensors.wrapRow(scope, col, 1, 2, 3)) {
            Float4Vector data = (Float4Vector) col.getDataVector();
            assertEquals(data.getDataBufferAddress() + 6L * Float.BYTES, t.segment().address(),
                    "f32(2,3) row 1: tensor must alias the column's value buffer");
            assertArrayEquals(java.util.Arrays.copyOfRange(values, 6, 12), t.toFloatArray());
            t.set(42.5f, 1, 2);
            assertEquals(42.5f, data.get(11), "a write through the tensor shows in the column");
        }
    }

    @Test
    void wrappedRowOutlivesTheVector() {
        float[] values = random(12, 12);
        FixedSizeListVector col = plainColumn(2, values);
        try (Tensor t = ArrowTensors.wrapRow(scope, col, 0, 6)) {
            col.close(); // the tensor keeps its own reference to the buffer
            assertArrayEquals(java.util.Arrays.copyOfRange(values, 0, 6), t.toFloatArray());
        }
    }

    @Test
    void wholeExtensionColumnIsOneTensor() {
        float[] values = random(13, 24);
        try (Tensor src = scope.fromArray(java.util.Arrays.copyOf(values, 12), 3, 4);
             FixedShapeTensorVector v = ArrowTensors.toVector(src, "t", root);
             Tensor back = ArrowTensors.wrapColumn(scope, v)) {
            assertArrayEquals(new long[] {1, 3, 4}, back.shape());
            assertEquals(src.segment().address(), back.segment().address(), "f32(3,4): round trip must not copy");
        }
    }

    @Test
    void tensorIsHandedOutWithoutCopy() {
        float[] values = random(14, 2 * 3 * 5);
        try (Tensor t = scope.fromArray("y", values, 2, 3, 5);
             FixedShapeTensorVector v = ArrowTensors.toVector(t, "y", root)) {
            Float4Vector data = (Float4Vector) v.getUnderlyingVector().getDataVector();
            assertEquals(t.segment().address(), data.getDataBufferAddress(), "f32(2,3,5): vector must alias the tensor");
            assertEquals(1, v.getValueCount());
            assertEquals(30, data.getValueCount());
            assertArrayEquals(new long[] {2, 3, 5}, v.tensorType().shape());
            t.setFloat(7, -3.25f);
            assertEquals(-3.25f, data.get(7), "a write through the tensor shows in the vector");
            Field f = v.getField();
            assertInstanceOf(FixedShapeTensorType.class, f.getType());
            assertEquals(1, f.getChildren().size());
        }
    }

    @Test
    void tensorIsHandedOutAsAPlainFixedSizeListWithShapeMetadata() {
        float[] values = random(18, 12);
        try (Tensor t = scope.fromArray(values, 3, 4);
             FixedSizeListVector v = ArrowTensors.toFixedSizeList(t, "p", root)) {
            Float4Vector data = (Float4Vector) v.getDataVector();
            assertEquals(t.segment().address(), data.getDataBufferAddress(), "f32(3,4) plain list must alias the tensor");
            assertEquals("[3, 4]", v.getField().getMetadata().get("shape"));
            assertEquals(12, v.getListSize());
            assertEquals(1, v.getValueCount());
            try (Tensor back = ArrowTensors.wrapRow(scope, v, 0, 3, 4)) {
                assertEquals(t.segment().address(), back.segment().address());
            }
        }
    }

    @Test
    void handedOutVectorOutlivesTheTensor() {
        float[] values = random(15, 8);
        Tensor t = scope.fromArray(values, 2, 4);
        try (FixedShapeTensorVector v = ArrowTensors.toVector(t, "z", root)) {
            t.close();
            Float4Vector data = (Float4Vector) v.getUnderlyingVector().getDataVector();
            for (int i = 0; i < values.length; i++) assertEquals(values[i], data.get(i), "element " + i);
        }
    }

    @Test
    void ipcRoundTripKeepsTheExtensionTypeAndShape() throws Exception {
        float[] values = random(16, 2 * 3 * 4);
        byte[] file;
        try (Tensor t = scope.fromArray(values, 2, 3, 4);
             FixedShapeTensorVector v = ArrowTensors.toVector(t, "x", root);
             VectorSchemaRoot batch = new VectorSchemaRoot(List.of(v.getField()), List.<FieldVector>of(v), 1);
             ByteArrayOutputStream bytes = new ByteArrayOutputStream();
             ArrowFileWriter w = new ArrowFileWriter(batch, null, Channels.newChannel(bytes))) {
            w.start();
            w.writeBatch();
            w.end();
            file = bytes.toByteArray();
        }
        try (ArrowFileReader r = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(file), root)) {
            assertTrue(r.loadNextBatch());
            FieldVector col = r.getVectorSchemaRoot().getVector("x");
            FixedShapeTensorVector tv = assertInstanceOf(FixedShapeTensorVector.class, col);
            assertArrayEquals(new long[] {2, 3, 4}, tv.tensorType().shape());
            try (Tensor back = ArrowTensors.wrapRow(scope, tv, 0)) {
                assertArrayEquals(values, back.toFloatArray());
            }
        }
    }

    @Test
    void metadataIsTheCanonicalJson() {
        assertEquals("{\"shape\":[2,3,4]}", FixedShapeTensorType.of(2, 3, 4).serialize());
        assertEquals(24, FixedShapeTensorType.of(2, 3, 4).listSize());
        assertNotNull(ExtensionTypeRegistry.lookup(FixedShapeTensorType.EXTENSION_NAME));
    }

    @Test
    void unusableMetadataIsKeptAsAProblemNotAFailure() {
        ArrowType.FixedSizeList storage = new ArrowType.FixedSizeList(6);
        FixedShapeTensorType ok = (FixedShapeTensorType) FixedShapeTensorType.of(1).deserialize(storage,
                "{\"shape\":[2,3],\"dim_names\":[\"a\",\"b\"],\"permutation\":[0,1]}");
        assertNull(ok.problem());
        assertArrayEquals(new long[] {2, 3}, ok.shape());
        FixedShapeTensorType wrongCount = (FixedShapeTensorType) ok.deserialize(storage, "{\"shape\":[2,4]}");
        assertTrue(wrongCount.problem().contains("(2, 4)") && wrongCount.problem().contains("6"), wrongCount.problem());
        FixedShapeTensorType permuted = (FixedShapeTensorType) ok.deserialize(storage, "{\"shape\":[2,3],\"permutation\":[1,0]}");
        assertTrue(permuted.problem().contains("permutation"), permuted.problem());
        FixedShapeTensorType garbage = (FixedShapeTensorType) ok.deserialize(storage, "not json");
        assertNotNull(garbage.problem());
        assertEquals(new ArrowType.Int(32, true), ok.deserialize(new ArrowType.Int(32, true), "{\"shape\":[1]}"),
                "a non-list storage stays its storage type");
    }

    @Test
    void wrongValueTypeAndForeignRootAreRejectedClearly() {
        try (FixedSizeListVector col = FixedSizeListVector.empty("d", 2, root)) {
            col.addOrGetVector(FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)));
            col.allocateNew();
            ((Float8Vector) col.getDataVector()).setSafe(0, 1.0);
            col.setValueCount(1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ArrowTensors.wrapRow(scope, col, 0, 2));
            assertTrue(e.getMessage().contains("d") && e.getMessage().contains("float32"), e.getMessage());
        }
        try (BufferAllocator other = new RootAllocator();
             Tensor t = scope.allocate(DType.F32, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ArrowTensors.toVector(t, "o", other));
            assertTrue(e.getMessage().contains("root"), e.getMessage());
        }
    }

    @Test
    void shapeMustFitTheListSize() {
        try (FixedSizeListVector col = plainColumn(1, random(17, 6))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ArrowTensors.wrapRow(scope, col, 0, 4, 2));
            assertTrue(e.getMessage().contains("(4, 2)") && e.getMessage().contains("6"), e.getMessage());
        }
    }
}
