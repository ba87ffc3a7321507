package org.ss2d.interop.cases;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.ss2d.interop.arrow.FixedShapeTensorType;

/**
 * Builds case files column by column, in the ways other writers (pyarrow) do and the ways they go
 * wrong: plain FixedSizeList with shape metadata, float64 values, the extension type with field
 * metadata that disagrees, a text column to be ignored, stream instead of file format.
 */
final class ArrowFixtures {
    private final BufferAllocator allocator;
    private final List<FieldVector> vectors = new ArrayList<>();

    ArrowFixtures(BufferAllocator allocator) {
        this.allocator = allocator;
    }

    /** A column with one row. {@code extShape} null: plain FixedSizeList; {@code metaShape} null: no field metadata. */
    ArrowFixtures column(String name, double[] values, boolean float64, long[] extShape, String metaShape) {
        return columnMeta(name, values, float64, extShape, metaShape == null ? null : Map.of(CaseFile.SHAPE_KEY, metaShape));
    }

    ArrowFixtures columnMeta(String name, double[] values, boolean float64, long[] extShape, Map<String, String> md) {
        ArrowType valueType = new ArrowType.FloatingPoint(float64 ? FloatingPointPrecision.DOUBLE : FloatingPointPrecision.SINGLE);
        Field child = new Field("item", FieldType.notNullable(valueType), null);
        ArrowType type = extShape != null ? FixedShapeTensorType.of(extShape) : new ArrowType.FixedSizeList(values.length);
        FieldVector v = new Field(name, new FieldType(false, type, null, md), List.of(child)).createVector(allocator);
        FixedSizeListVector list = v instanceof org.ss2d.interop.arrow.FixedShapeTensorVector e ? e.getUnderlyingVector()
                : (FixedSizeListVector) v;
        list.allocateNew();
        FieldVector data = list.getDataVector();
        for (int i = 0; i < values.length; i++) {
            if (float64) ((Float8Vector) data).setSafe(i, values[i]); else ((Float4Vector) data).setSafe(i, (float) values[i]);
        }
        data.setValueCount(values.length);
        list.setNotNull(0);
        list.setValueCount(1);
        vectors.add(v);
        return this;
    }

    ArrowFixtures f32(String name, double[] values, long... shape) {
        return column(name, values, false, shape, null);
    }

    ArrowFixtures text(String name, String value) {
        VarCharVector v = new VarCharVector(name, allocator);
        v.allocateNew();
        v.setSafe(0, value.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        v.setValueCount(1);
        vectors.add(v);
        return this;
    }

    void write(Path path, Map<String, String> metadata, boolean stream) throws IOException {
        Schema schema = new Schema(vectors.stream().map(FieldVector::getField).toList(), metadata);
        try (VectorSchemaRoot root = new VectorSchemaRoot(schema, vectors, 1);
             FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     StandardOpenOption.TRUNCATE_EXISTING)) {
            if (stream) {
                try (ArrowStreamWriter w = new ArrowStreamWriter(root, null, ch)) {
                    w.start();
                    w.writeBatch();
                    w.end();
                }
            } else {
                try (ArrowFileWriter w = new ArrowFileWriter(root, null, ch)) {
                    w.start();
                    w.writeBatch();
                    w.end();
                }
            }
        }
        vectors.clear();
    }
}
