package org.ss2d.conformance.adversarial;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float2Vector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.ss2d.interop.arrow.FixedShapeTensorType;
import org.ss2d.interop.arrow.FixedShapeTensorVector;

/**
 * Writes case files for tests, valid or lying: {@link #write} encodes a {@link CaseSpec} with Arrow's
 * own writer (so every lie in it is one the metadata can carry: shapes, dtypes, options), and
 * {@link #relie} rewrites a file's record batch with edited bookkeeping (row count, node lengths)
 * or its footer block (offset, metadata and body lengths), which Arrow's writer would never produce.
 */
final class IpcForge {
    private IpcForge() {}

    static {
        FixedShapeTensorType.register();
    }

    /** The record batch as Arrow's loader sees it: rows, one node per field, buffers in order. */
    record Batch(int rows, List<ArrowFieldNode> nodes, List<byte[]> buffers) {
        Batch withRows(int r) {
            return new Batch(r, nodes, buffers);
        }

        Batch withNode(int i, long length, long nullCount) {
            List<ArrowFieldNode> n = new ArrayList<>(nodes);
            n.set(i, new ArrowFieldNode(length, nullCount));
            return new Batch(rows, n, buffers);
        }
    }

    static byte[] write(CaseSpec spec) {
        try (BufferAllocator alloc = new RootAllocator()) {
            List<FieldVector> vectors = new ArrayList<>();
            try {
                for (Col c : spec.columns()) vectors.add(vector(c, alloc));
                Schema schema = new Schema(vectors.stream().map(FieldVector::getField).toList(), spec.metadata());
                try (VectorSchemaRoot root = new VectorSchemaRoot(schema, vectors, 1)) {
                    vectors = List.of();
                    ByteArrayOutputStream bos = new ByteArrayOutputStream();
                    try (ArrowFileWriter w = new ArrowFileWriter(root, null, Channels.newChannel(bos))) {
                        w.start();
                        w.writeBatch();
                        w.end();
                    }
                    return bos.toByteArray();
                }
            } finally {
                vectors.forEach(FieldVector::close);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] relie(byte[] file, UnaryOperator<Batch> editBatch, UnaryOperator<ArrowBlock> editBlock) {
        return relie(file, UnaryOperator.identity(), editBatch, editBlock);
    }

    /** Reads {@code file} with Arrow, edits its schema, batch and footer block, writes it again. */
    static byte[] relie(byte[] file, UnaryOperator<Schema> editSchema, UnaryOperator<Batch> editBatch,
                        UnaryOperator<ArrowBlock> editBlock) {
        try (BufferAllocator alloc = new RootAllocator();
             ArrowFileReader r = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(file), alloc)) {
            r.loadNextBatch();
            VectorSchemaRoot root = r.getVectorSchemaRoot();
            Batch b;
            try (ArrowRecordBatch rb = new VectorUnloader(root).getRecordBatch()) {
                List<byte[]> bufs = new ArrayList<>();
                for (ArrowBuf a : rb.getBuffers()) {
                    byte[] bytes = new byte[(int) a.readableBytes()];
                    a.getBytes(0, bytes);
                    bufs.add(bytes);
                }
                b = new Batch(rb.getLength(), new ArrayList<>(rb.getNodes()), bufs);
            }
            return forge(editSchema.apply(root.getSchema()), editBatch.apply(b), editBlock, alloc);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] forge(Schema schema, Batch b, UnaryOperator<ArrowBlock> editBlock, BufferAllocator alloc)
            throws IOException {
        List<ArrowBuf> bufs = new ArrayList<>();
        try (VectorSchemaRoot empty = VectorSchemaRoot.create(schema, alloc)) {
            for (byte[] bytes : b.buffers()) {
                ArrowBuf a = alloc.buffer(Math.max(bytes.length, 1));
                a.setBytes(0, bytes);
                a.writerIndex(bytes.length);
                bufs.add(a);
            }
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            try (ArrowRecordBatch rb = new ArrowRecordBatch(b.rows(), b.nodes(), bufs);
                 Writer w = new Writer(empty, bos)) {
                w.start();
                w.write(rb);
                List<ArrowBlock> blocks = w.getRecordBlocks();
                blocks.set(0, editBlock.apply(blocks.get(0)));
                w.end();
            }
            return bos.toByteArray();
        } finally {
            bufs.forEach(ArrowBuf::close);
        }
    }

    /** Arrow's file writer, with its record batch entry point opened up. */
    private static final class Writer extends ArrowFileWriter {
        Writer(VectorSchemaRoot root, ByteArrayOutputStream out) {
            super(root, null, Channels.newChannel(out));
        }

        void write(ArrowRecordBatch rb) throws IOException {
            writeRecordBatch(rb);
        }
    }

    /** Where the record batch (its metadata, then its body) lies in {@code file}: {start, end}. */
    static long[] body(byte[] file) {
        try (BufferAllocator alloc = new RootAllocator();
             ArrowFileReader r = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(file), alloc)) {
            ArrowBlock b = r.getRecordBlocks().getFirst();
            return new long[] {b.getOffset(), b.getOffset() + b.getMetadataLength() + b.getBodyLength()};
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static FieldVector vector(Col c, BufferAllocator alloc) {
        Map<String, String> md = new LinkedHashMap<>(c.metadata());
        return switch (c.encoding()) {
            case NOTE -> {
                VarCharVector v = new VarCharVector(new Field(c.name(), new FieldType(true, ArrowType.Utf8.INSTANCE, null,
                        md.isEmpty() ? null : md), null), alloc);
                v.allocateNew();
                v.setSafe(0, ("note " + c.name()).getBytes(StandardCharsets.UTF_8));
                v.setValueCount(1);
                yield v;
            }
            case INT_SCALAR -> {
                IntVector v = new IntVector(new Field(c.name(), new FieldType(true, new ArrowType.Int(32, true), null,
                        md.isEmpty() ? null : md), null), alloc);
                v.allocateNew(1);
                v.set(0, 7);
                v.setValueCount(1);
                yield v;
            }
            case EXTENSION -> {
                Field f = new Field(c.name(), new FieldType(true, FixedShapeTensorType.of(c.shape()), null,
                        md.isEmpty() ? null : md), List.of(item(c.dtype())));
                FixedShapeTensorVector v = (FixedShapeTensorVector) f.createVector(alloc);
                fill(v.getUnderlyingVector(), c);
                v.setValueCount(1);
                yield v;
            }
            case PLAIN, RAW_EXTENSION -> {
                if (c.encoding() == Col.Encoding.PLAIN) md.putIfAbsent("shape", shapeJson(c.shape()));
                Field f = new Field(c.name(), new FieldType(true, new ArrowType.FixedSizeList(c.listSize()), null, md),
                        List.of(item(c.dtype())));
                FixedSizeListVector v = (FixedSizeListVector) f.createVector(alloc);
                fill(v, c);
                yield v;
            }
        };
    }

    static String shapeJson(long[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) sb.append(i == 0 ? "" : ", ").append(shape[i]);
        return sb.append(']').toString();
    }

    private static Field item(Col.Dtype d) {
        ArrowType t = switch (d) {
            case F32 -> new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
            case F64 -> new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
            case F16 -> new ArrowType.FloatingPoint(FloatingPointPrecision.HALF);
            case BF16 -> new ArrowType.Int(16, false);
            case I32 -> new ArrowType.Int(32, true);
        };
        return new Field("item", new FieldType(true, t, null), null);
    }

    private static void fill(FixedSizeListVector list, Col c) {
        int n = c.listSize();
        list.allocateNew();
        FieldVector data = list.getDataVector();
        data.setInitialCapacity(Math.max(n, 1));
        data.allocateNew();
        for (int i = 0; i < n; i++) {
            double x = i < c.values().length ? c.values()[i] : 0.25 * (i % 7) - 0.5;
            switch (data) {
                case Float4Vector f -> f.setSafe(i, (float) x);
                case Float8Vector f -> f.setSafe(i, x);
                case Float2Vector f -> f.setSafe(i, Float.floatToFloat16((float) x));
                case UInt2Vector f -> f.setSafe(i, (char) (Float.floatToIntBits((float) x) >>> 16));
                case IntVector f -> f.setSafe(i, (int) Math.round(x * 8));
                default -> throw new IllegalStateException(data.getClass().getSimpleName());
            }
        }
        data.setValueCount(n);
        if (c.nullRow()) list.setNull(0); else list.setNotNull(0);
        list.setValueCount(1);
    }
}
