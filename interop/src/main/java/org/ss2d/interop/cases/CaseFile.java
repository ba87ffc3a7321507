package org.ss2d.interop.cases;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.ss2d.interop.arrow.ArrowTensors;
import org.ss2d.interop.arrow.FixedShapeTensorType;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * A case file opened for reading, per {@code case-files.md}: an Arrow IPC file with one record batch
 * whose columns hold one tensor each, in the first row. Columns become tensors on request: float32
 * columns are viewed in place (no copy), and so are float16 and bfloat16 ones (as tensors of that dtype:
 * the op decides whether it takes them); float64 is rounded to float32. Every fault is
 * an {@link Ss2dArgumentException} naming {@code file} or the column, with what was expected and
 * what was found.
 *
 * <p>Tensors handed out belong to this case's own child scope and close with it.
 */
public final class CaseFile implements AutoCloseable {
    public static final String KIND_KEY = "ss2d.kind";
    public static final String OPTIONS_KEY = "ss2d.options";
    /** Field metadata naming a plain FixedSizeList column's shape, as a JSON list. */
    public static final String SHAPE_KEY = TensorColumns.SHAPE_KEY;
    public static final String LOGICAL_DTYPE_KEY = TensorColumns.LOGICAL_DTYPE_KEY;
    private static final byte[] MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);

    static {
        FixedShapeTensorType.register();
    }

    private final Path path;
    private final BufferAllocator allocator;
    private final ArrowFileReader reader;
    private final VectorSchemaRoot batch;
    private final Map<String, String> metadata;
    private final TensorScope tensors;
    private final Map<String, Tensor> loaded = new HashMap<>();
    /** Columns converted to another dtype ({@link #tensor(String, DType)}), closed with the views. */
    private final Map<String, Map<DType, Tensor>> converted = new HashMap<>();

    private CaseFile(Path path, BufferAllocator allocator, ArrowFileReader reader, VectorSchemaRoot batch,
                     Map<String, String> metadata, TensorScope tensors) {
        this.path = path;
        this.allocator = allocator;
        this.reader = reader;
        this.batch = batch;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** Opens and checks the file; tensors come from a child of {@code scope}. */
    public static CaseFile open(TensorScope scope, Path path) {
        checkPath(path);
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new Ss2dArgumentException("file", "a readable Arrow IPC file", path + " (" + Messages.inWords(e) + ")", null);
        }
        return open(scope, path, channel);
    }

    /** A case file held in memory (a class-path resource, say); {@code label} names it in messages. */
    public static CaseFile open(TensorScope scope, Path label, byte[] bytes) {
        return open(scope, label, new ByteArrayReadableSeekableByteChannel(bytes));
    }

    private static CaseFile open(TensorScope scope, Path path, SeekableByteChannel channel) {
        BufferAllocator alloc = null;
        ArrowFileReader reader = null;
        try {
            checkContainer(path, channel);
            IpcPreflight.check(path, channel);
            alloc = scope.allocator().newChildAllocator("case " + path.getFileName(), 0, Long.MAX_VALUE);
            reader = new ArrowFileReader(channel, alloc);
            int batches = reader.getRecordBlocks().size();
            if (batches != 1) {
                throw new Ss2dArgumentException("file", "an Arrow IPC file with one record batch",
                        batches + " record batches in " + path, null);
            }
            if (!reader.loadNextBatch()) {
                throw new Ss2dArgumentException("file", "one record batch", "none in " + path, null);
            }
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            if (root.getRowCount() < 1) {
                throw new Ss2dArgumentException("file", "at least one row (the first row holds the tensors)",
                        "0 rows in " + path, null);
            }
            Map<String, String> md = new HashMap<>(reader.getMetaData() == null ? Map.of() : reader.getMetaData());
            Map<String, String> schemaMd = root.getSchema().getCustomMetadata();
            if (schemaMd != null) md.putAll(schemaMd); // the schema's metadata is the contract; footer's is a fallback
            TensorScope child = scope.child("case " + path.getFileName());
            return new CaseFile(path, alloc, reader, root, Map.copyOf(md), child);
        } catch (Ss2dArgumentException e) {
            closeQuietly(reader, channel, alloc);
            throw e;
        } catch (IOException | RuntimeException e) {
            closeQuietly(reader, channel, alloc);
            throw new Ss2dArgumentException("file", "a valid Arrow IPC file", "unreadable content in " + path
                    + " (" + Messages.inWords(e) + ")", null);
        }
    }

    private static void checkPath(Path path) {
        if (Files.isDirectory(path)) {
            throw new Ss2dArgumentException("file", "an Arrow IPC file", "a directory: " + path, null);
        }
        if (!Files.exists(path)) {
            throw new Ss2dArgumentException("file", "an Arrow IPC file", "no such file: " + path, null);
        }
    }

    /** Cheap checks that give a precise message before Arrow's reader gives a vague one. */
    private static void checkContainer(Path path, SeekableByteChannel ch) throws IOException {
        long size = ch.size();
        byte[] head = new byte[8];
        byte[] tail = new byte[6];
        ch.position(0);
        ch.read(ByteBuffer.wrap(head));
        if (size >= tail.length) {
            ch.position(size - tail.length);
            ch.read(ByteBuffer.wrap(tail));
        }
        ch.position(0);
        boolean headOk = size >= MAGIC.length && Arrays.equals(Arrays.copyOf(head, MAGIC.length), MAGIC);
        if (!headOk) {
            boolean stream = size >= 4 && head[0] == (byte) 0xFF && head[1] == (byte) 0xFF && head[2] == (byte) 0xFF
                    && head[3] == (byte) 0xFF;
            throw new Ss2dArgumentException("file", "an Arrow IPC file (starting with ARROW1)", stream
                    ? "an Arrow IPC stream in " + path + " (write it with pyarrow.ipc.new_file, not new_stream)"
                    : "no Arrow file header in " + path + " (" + size + " bytes)", null);
        }
        if (size < 2L * MAGIC.length + 8 || !Arrays.equals(tail, MAGIC)) {
            throw new Ss2dArgumentException("file", "a complete Arrow IPC file (ending with ARROW1)",
                    "a truncated file " + path + " (" + size + " bytes, no footer)", null);
        }
    }

    public Path path() {
        return path;
    }

    /** {@code ss2d.kind}, or null when the file does not name one. */
    public String kind() {
        return metadata.get(KIND_KEY);
    }

    public CaseOptions options() {
        return CaseOptions.parse(metadata.get(OPTIONS_KEY));
    }

    /** Schema metadata (with footer metadata where the schema has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public List<String> columns() {
        return batch.getSchema().getFields().stream().map(Field::getName).toList();
    }

    public boolean has(String column) {
        return batch.getVector(column) != null;
    }

    /** The column's tensor (first row); float32 columns are viewed in place. Throws naming the column. */
    public Tensor tensor(String column) {
        Tensor t = loaded.get(column);
        if (t != null) return t;
        t = load(column, vector(column));
        loaded.put(column, t);
        return t;
    }

    /**
     * The column's tensor in {@code dtype}: the view itself when it is stored so, else a copy in this case's scope
     * rounded to nearest even (widening is exact). Made once per column and dtype; which conversions an op allows
     * is the op's business ({@link ActivationDtype}).
     */
    public Tensor tensor(String column, DType dtype) {
        Tensor t = tensor(column);
        if (t.dtype() == dtype) return t;
        Map<DType, Tensor> byDtype = converted.computeIfAbsent(column, k -> new java.util.EnumMap<>(DType.class));
        Tensor c = byDtype.get(dtype);
        if (c == null) {
            c = tensors.convert(t, dtype);
            byDtype.put(dtype, c);
        }
        return c;
    }

    /** The tensor, or null when the column is absent. */
    public Tensor optional(String column) {
        return has(column) ? tensor(column) : null;
    }

    /** The shape a column declares (extension type and/or field metadata), checked for agreement. */
    public long[] shape(String column) {
        return TensorColumns.declaredShape(column, vector(column));
    }

    /** The declared shape, or null when the file has no such column (for {@code ConfigInference}). */
    public long[] shapeIfPresent(String column) {
        return has(column) ? shape(column) : null;
    }

    /**
     * The column's values (first row) as stored, widened to double: float64 columns keep their
     * precision (expected outputs, float64 references); float32 is exact in double.
     */
    public double[] doubles(String column) {
        FieldVector v = vector(column);
        FieldVector values = TensorColumns.firstRow(column, v);
        FixedSizeListVector list = TensorColumns.storage(column, v);
        int n = list.getListSize();
        int start = list.getElementStartIndex(0);
        double[] out = new double[n];
        if (values instanceof Float8Vector d) {
            for (int i = 0; i < n; i++) out[i] = d.get(start + i);
        } else if (values instanceof Float4Vector f) {
            for (int i = 0; i < n; i++) out[i] = f.get(start + i);
        } else {
            DType half = TensorColumns.viewDtype(v);
            org.apache.arrow.memory.ArrowBuf data = values.getDataBuffer();
            for (int i = 0; i < n; i++) {
                out[i] = org.ss2d.tensor.HalfFloats.toFloat(half, data.getShort(2L * (start + i)));
            }
        }
        return out;
    }

    /** A {@code uint8} column's values (first row), as images are stored ({@code preprocess_image}). */
    public byte[] uint8(String column) {
        FieldVector v = vector(column);
        TensorColumns.declaredShape(column, v);
        FixedSizeListVector list = TensorColumns.storage(column, v);
        if (list.getValueCount() < 1 || list.isNull(0)) throw new Ss2dArgumentException(column, "a tensor in the first row", "null", null);
        if (!(list.getDataVector() instanceof org.apache.arrow.vector.UInt1Vector u)) {
            throw new Ss2dArgumentException(column, "uint8 values", TensorColumns.dtypeName(list.getDataVector().getField().getType()), null);
        }
        int n = list.getListSize(), start = list.getElementStartIndex(0);
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            if (u.isNull(start + i)) throw new Ss2dArgumentException(column, "no null values", "a null at flat index " + i, null);
            out[i] = u.get(start + i);
        }
        return out;
    }

    /** The stored value type of a tensor column ({@code float32}, {@code float64}, {@code float16}...), or null. */
    public String storedDtype(String column) {
        FieldVector v = batch.getVector(column);
        if (v == null) return null;
        if (TensorColumns.viewDtype(v) == DType.BF16) return DType.BF16.arrowName();
        return TensorColumns.dtypeName(TensorColumns.storage(column, v).getDataVector().getField().getType());
    }

    private FieldVector vector(String column) {
        FieldVector v = batch.getVector(column);
        if (v == null) {
            throw new Ss2dArgumentException(column, "a column \"" + column + "\"",
                    "no such column in " + path.getFileName() + " (columns: " + String.join(", ", columns()) + ")", null);
        }
        return v;
    }

    private Tensor load(String column, FieldVector v) {
        long[] shape = TensorColumns.declaredShape(column, v);
        FieldVector values = TensorColumns.firstRow(column, v);
        FixedSizeListVector list = TensorColumns.storage(column, v);
        DType view = TensorColumns.viewDtype(v);
        if (view != null) {
            return ArrowTensors.wrapRow(tensors, list, view, 0, shape);
        }
        Float8Vector d = (Float8Vector) values;
        int n = list.getListSize();
        int start = list.getElementStartIndex(0);
        Tensor t = tensors.allocate(column, DType.F32, shape);
        for (int i = 0; i < n; i++) t.setFloat(i, (float) d.get(start + i)); // round to the compute dtype
        return t;
    }

    private static void closeQuietly(ArrowFileReader reader, SeekableByteChannel channel, BufferAllocator alloc) {
        try {
            if (reader != null) reader.close();
            if (channel != null) channel.close();
        } catch (Exception ignored) {
            // already failing; the first error is the one to report
        }
        try {
            if (alloc != null) alloc.close();
        } catch (RuntimeException ignored) {
            // ditto
        }
    }

    /** Closes the tensors handed out, then the reader and its memory. */
    @Override
    public void close() {
        RuntimeException failure = null;
        try {
            for (Map<DType, Tensor> m : converted.values()) m.values().forEach(Tensor::close);
            converted.clear();
            for (Tensor t : loaded.values()) t.close();
            loaded.clear();
            tensors.close();
        } catch (RuntimeException e) {
            failure = e;
        }
        try {
            reader.close();
        } catch (IOException | RuntimeException e) {
            RuntimeException r = e instanceof RuntimeException re ? re : new java.io.UncheckedIOException((IOException) e);
            if (failure == null) failure = r; else failure.addSuppressed(r);
        }
        try {
            allocator.close();
        } catch (RuntimeException e) {
            if (failure == null) failure = e; else failure.addSuppressed(e);
        }
        if (failure != null) throw failure;
    }
}
