package org.ss2d.conformance.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ExtensionTypeVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * A small reader of case files (shared spec case-files.md) for the conformance suite: every column
 * that is an {@code arrow.fixed_shape_tensor} or a {@code FixedSizeList<float32|float64>} with a
 * {@code shape} in its field metadata is read (row 0) into doubles; other columns are ignored.
 *
 * <p>It reads with plain {@link ArrowFileReader}, whether or not the api's extension type is
 * registered, and copies the values: the suite wants float64 expectations anyway. The engine's own
 * zero-copy reader ({@code org.ss2d.io}) is what {@code ss2d run} uses.
 */
public final class CaseFileReader {
    private CaseFileReader() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tensor column: its shape, values (row 0) and whether the file stored float64. */
    public record Column(String name, long[] shape, double[] values, boolean float64) {}

    /** A case file: {@code ss2d.kind}, the {@code ss2d.options} object (empty when absent), tensor columns by name. */
    public record CaseFile(Path path, String kind, JsonNode options, Map<String, Column> columns) {
        public Column column(String name) {
            Column c = columns.get(name);
            if (c == null) {
                throw new Ss2dArgumentException(name, "a column \"" + name + "\" in " + path.getFileName(),
                        "columns " + columns.keySet(), null);
            }
            return c;
        }

        public boolean has(String name) {
            return columns.containsKey(name);
        }

        public long option(String name, long fallback) {
            JsonNode n = options.get(name);
            return n == null || n.isNull() ? fallback : n.asLong();
        }
    }

    public static CaseFile read(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(path, ch);
        }
    }

    /** A case file held in memory (a class-path resource, say); {@code label} names it in messages. */
    public static CaseFile read(Path label, byte[] bytes) throws IOException {
        return read(label, new ByteArrayReadableSeekableByteChannel(bytes));
    }

    private static CaseFile read(Path path, SeekableByteChannel ch) throws IOException {
        try {
            return readChecked(path, ch);
        } catch (Ss2dArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            // Arrow's own faults (not an IPC file, truncated, bad flatbuffers) become one clear rejection.
            throw new Ss2dArgumentException("file", "an Arrow IPC file with one record batch (case-files.md)",
                    path + ": " + e, null);
        }
    }

    private static CaseFile readChecked(Path path, SeekableByteChannel ch) throws IOException {
        try (BufferAllocator alloc = new RootAllocator();
             ArrowFileReader reader = new ArrowFileReader(ch, alloc)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            Map<String, String> meta = root.getSchema().getCustomMetadata();
            String kind = meta == null ? null : meta.get("ss2d.kind");
            JsonNode options = JSON.createObjectNode();
            if (meta != null && meta.get("ss2d.options") != null) {
                options = JSON.readTree(meta.get("ss2d.options"));
                if (!options.isObject()) {
                    throw new Ss2dArgumentException("ss2d.options", "a JSON object", meta.get("ss2d.options"), null);
                }
            }
            if (reader.getRecordBlocks().size() != 1) {
                throw new Ss2dArgumentException("file", "one record batch", reader.getRecordBlocks().size() + " in " + path, null);
            }
            if (!reader.loadNextBatch() || root.getRowCount() < 1) {
                throw new Ss2dArgumentException("file", "a record batch with one row", "no rows in " + path, null);
            }
            Map<String, Column> cols = new LinkedHashMap<>();
            for (FieldVector v : root.getFieldVectors()) {
                Column c = column(v);
                if (c != null) cols.put(c.name(), c);
            }
            return new CaseFile(path, kind, options, cols);
        }
    }

    private static Column column(FieldVector v) throws IOException {
        Field f = v.getField();
        FieldVector storage = v instanceof ExtensionTypeVector<?> e ? e.getUnderlyingVector() : v;
        if (!(storage instanceof FixedSizeListVector list)) return null; // unknown columns are ignored
        long[] shape = shape(f);
        if (shape == null) return null;
        int n = list.getListSize();
        long count = 1;
        for (long s : shape) count *= s;
        if (count != n) {
            throw new Ss2dArgumentException(f.getName(), "a shape of " + n + " elements (the list size)",
                    java.util.Arrays.toString(shape), null);
        }
        FieldVector data = list.getDataVector();
        double[] values = new double[n];
        boolean f64;
        if (data instanceof Float4Vector f4) {
            for (int i = 0; i < n; i++) values[i] = f4.get(i);
            f64 = false;
        } else if (data instanceof Float8Vector f8) {
            for (int i = 0; i < n; i++) values[i] = f8.get(i);
            f64 = true;
        } else {
            throw new Ss2dArgumentException(f.getName(), "float32 or float64 values", data.getField().getType().toString(), null);
        }
        return new Column(f.getName(), shape, values, f64);
    }

    /** The tensor shape from the extension metadata or the field's {@code shape} metadata; null if neither. */
    private static long[] shape(Field f) throws IOException {
        String json = null;
        if (f.getType() instanceof ArrowType.ExtensionType ext) {
            if (!"arrow.fixed_shape_tensor".equals(ext.extensionName())) return null;
            json = ext.serialize();
        }
        Map<String, String> md = f.getMetadata();
        if (json == null && md != null && "arrow.fixed_shape_tensor".equals(md.get("ARROW:extension:name"))) {
            json = md.get("ARROW:extension:metadata");
        }
        JsonNode shapeNode = null;
        if (json != null) {
            shapeNode = JSON.readTree(json).get("shape");
        } else if (md != null && md.get("shape") != null) {
            shapeNode = JSON.readTree(md.get("shape"));
        }
        if (shapeNode == null || !shapeNode.isArray()) return null;
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = shapeNode.get(i).asLong();
        return shape;
    }
}
