package org.ss2d.interop.cases;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float2Vector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.ss2d.interop.arrow.ArrowTensors;
import org.ss2d.interop.arrow.FixedShapeTensorType;
import org.ss2d.interop.arrow.FixedShapeTensorVector;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * A case file opened for reading, per {@code case-files.md}: an Arrow IPC file with one record batch
 * whose columns hold one tensor each, in the first row. Columns become tensors on request: float32
 * columns are viewed in place (no copy), float64 and float16 are rounded to float32. Every fault is
 * an {@link Ss2dArgumentException} naming {@code file} or the column, with what was expected and
 * what was found.
 *
 * <p>Tensors handed out belong to this case's own child scope and close with it.
 */
public final class CaseFile implements AutoCloseable {
    public static final String KIND_KEY = "ss2d.kind";
    public static final String OPTIONS_KEY = "ss2d.options";
    /** Field metadata naming a plain FixedSizeList column's shape, as a JSON list. */
    public static final String SHAPE_KEY = "shape";
    public static final String LOGICAL_DTYPE_KEY = "logical_dtype";
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
            throw new Ss2dArgumentException("file", "a readable Arrow IPC file", path + " (" + oneLine(e) + ")", null);
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
                    + " (" + oneLine(e) + ")", null);
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
        FieldVector v = batch.getVector(column);
        if (v == null) {
            throw new Ss2dArgumentException(column, "a column \"" + column + "\"",
                    "no such column in " + path.getFileName() + " (columns: " + String.join(", ", columns()) + ")", null);
        }
        t = load(column, v);
        loaded.put(column, t);
        return t;
    }

    /** The tensor, or null when the column is absent. */
    public Tensor optional(String column) {
        return has(column) ? tensor(column) : null;
    }

    /** The shape a column declares (extension type and/or field metadata), checked for agreement. */
    public long[] shape(String column) {
        FieldVector v = batch.getVector(column);
        if (v == null) {
            throw new Ss2dArgumentException(column, "a column \"" + column + "\"", "no such column", null);
        }
        return declaredShape(column, v);
    }

    /** The declared shape, or null when the file has no such column (for {@code ConfigInference}). */
    public long[] shapeIfPresent(String column) {
        return has(column) ? shape(column) : null;
    }

    /**
     * The column's values (first row) as stored, widened to double: float64 columns keep their
     * precision (expected outputs, float64 references), float32 and float16 are exact in double.
     */
    public double[] doubles(String column) {
        FieldVector v = batch.getVector(column);
        if (v == null) {
            throw new Ss2dArgumentException(column, "a column \"" + column + "\"", "no such column", null);
        }
        declaredShape(column, v);
        FixedSizeListVector list = v instanceof FixedShapeTensorVector e ? e.getUnderlyingVector() : (FixedSizeListVector) v;
        FieldVector values = list.getDataVector();
        int n = list.getListSize();
        int start = list.getElementStartIndex(0);
        double[] out = new double[n];
        switch (values) {
            case Float8Vector d -> { for (int i = 0; i < n; i++) out[i] = d.get(start + i); }
            case Float4Vector f -> { for (int i = 0; i < n; i++) out[i] = f.get(start + i); }
            default -> {
                Tensor t = tensor(column); // rejects what is no float tensor, by name
                for (int i = 0; i < n; i++) out[i] = t.getFloat(i);
            }
        }
        return out;
    }

    /** The stored value type of a tensor column: {@code float32}, {@code float64}, ... */
    public String storedDtype(String column) {
        FieldVector v = batch.getVector(column);
        if (v == null) return null;
        FixedSizeListVector list = v instanceof FixedShapeTensorVector e ? e.getUnderlyingVector() : (FixedSizeListVector) v;
        return switch (list.getDataVector()) {
            case Float8Vector d -> "float64";
            case Float4Vector f -> "float32";
            case Float2Vector h -> "float16";
            default -> list.getDataVector().getField().getType().toString();
        };
    }

    private Tensor load(String column, FieldVector v) {
        long[] shape = declaredShape(column, v);
        FixedSizeListVector list = v instanceof FixedShapeTensorVector e ? e.getUnderlyingVector() : (FixedSizeListVector) v;
        if (list.isNull(0)) {
            throw new Ss2dArgumentException(column, "a tensor in the first row", "null", null);
        }
        FieldVector values = list.getDataVector();
        int n = list.getListSize();
        int start = list.getElementStartIndex(0);
        for (int i = 0; i < n && values.getNullCount() > 0; i++) {
            if (values.isNull(start + i)) {
                throw new Ss2dArgumentException(column, "no null values", "a null at flat index " + i, null);
            }
        }
        if (values instanceof Float4Vector) {
            return ArrowTensors.wrapRow(tensors, list, 0, shape);
        }
        Tensor t = tensors.allocate(column, DType.F32, shape);
        if (values instanceof Float8Vector d) {
            for (int i = 0; i < n; i++) t.setFloat(i, (float) d.get(start + i)); // round to the compute dtype
        } else if (values instanceof Float2Vector h) {
            for (int i = 0; i < n; i++) t.setFloat(i, Float.float16ToFloat(h.get(start + i)));
        } else {
            t.close();
            throw new Ss2dArgumentException(column, "float32, float64 or float16 values",
                    values.getField().getType().toString(), null);
        }
        return t;
    }

    private long[] declaredShape(String column, FieldVector v) {
        Field f = v.getField();
        String logical = f.getMetadata() == null ? null : f.getMetadata().get(LOGICAL_DTYPE_KEY);
        if (logical != null && logical.toLowerCase(java.util.Locale.ROOT).startsWith("complex")) {
            throw new Ss2dArgumentException(column, "real values", logical + " (complex tensors are not supported)", null);
        }
        long[] meta = metadataShape(column, f);
        FixedShapeTensorType type = v instanceof FixedShapeTensorVector e ? e.tensorType() : unregisteredExtension(f);
        if (type != null) {
            if (type.problem() != null) {
                throw new Ss2dArgumentException(column, "a usable " + FixedShapeTensorType.EXTENSION_NAME + " type",
                        type.problem(), null);
            }
            long[] ext = type.shape();
            if (meta != null && !Arrays.equals(meta, ext)) {
                throw new Ss2dArgumentException(column, "field metadata shape equal to the extension shape "
                        + Shapes.format(ext), Shapes.format(meta), null);
            }
            return ext;
        }
        if (!(v instanceof FixedSizeListVector list)) {
            throw new Ss2dArgumentException(column, "a FixedSizeList or " + FixedShapeTensorType.EXTENSION_NAME + " column",
                    f.getType().toString(), null);
        }
        if (meta == null) {
            throw new Ss2dArgumentException(column, "field metadata \"shape\" (a JSON list) or the "
                    + FixedShapeTensorType.EXTENSION_NAME + " type", "a plain FixedSizeList[" + list.getListSize()
                    + "] without a shape", null);
        }
        long count = Shapes.elementCount(meta);
        if (count != list.getListSize()) {
            throw new Ss2dArgumentException(column, "a shape with " + list.getListSize() + " elements (the list size)",
                    Shapes.format(meta) + " = " + count + " elements", null);
        }
        return meta;
    }

    /**
     * The tensor type of a column that Arrow read as its plain storage because no extension type was
     * registered when the schema was read (the keys are then still in the field metadata).
     */
    private static FixedShapeTensorType unregisteredExtension(Field f) {
        Map<String, String> md = f.getMetadata();
        if (md == null || !FixedShapeTensorType.EXTENSION_NAME.equals(md.get("ARROW:extension:name"))) return null;
        String json = md.getOrDefault("ARROW:extension:metadata", "");
        return FixedShapeTensorType.of(1).deserialize(f.getType(), json) instanceof FixedShapeTensorType t ? t : null;
    }

    private static long[] metadataShape(String column, Field f) {
        String text = f.getMetadata() == null ? null : f.getMetadata().get(SHAPE_KEY);
        if (text == null) return null;
        try {
            JsonNode n = CaseOptions.JSON.readTree(text);
            if (n == null || !n.isArray()) throw new IllegalArgumentException("not a list");
            long[] s = new long[n.size()];
            for (int i = 0; i < s.length; i++) {
                JsonNode d = n.get(i);
                if (!d.isIntegralNumber() || d.asLong() < 0) throw new IllegalArgumentException("not a size");
                s[i] = d.asLong();
            }
            return s;
        } catch (Exception e) {
            throw new Ss2dArgumentException(column, "field metadata shape as a JSON list of sizes, e.g. [2, 3]",
                    CaseOptions.abbreviate(text), null);
        }
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
        return CaseOptions.abbreviate(m);
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
