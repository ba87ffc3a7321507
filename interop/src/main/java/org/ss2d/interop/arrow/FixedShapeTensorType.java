package org.ss2d.interop.arrow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.ExtensionTypeRegistry;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.ss2d.tensor.Shapes;

/**
 * Arrow's canonical extension type {@code arrow.fixed_shape_tensor}: each value of a
 * {@code FixedSizeList<value>[n]} column is one row-major tensor of a fixed shape, given by the
 * extension metadata {@code {"shape":[...]}}. Arrow Java does not ship it, so it lives here and
 * {@link #register()} adds it to {@link ExtensionTypeRegistry} (the IPC reader then hands out
 * {@link FixedShapeTensorVector}s for such columns).
 *
 * <p>Metadata that we cannot honour (a shape that does not multiply to {@code n}, a non-identity
 * {@code permutation}, unparsable JSON) does not fail deserialisation: a file whose bad column is
 * never used must still load. The problem is kept in {@link #problem()} and reported, naming the
 * column, by whoever reads that column.
 */
public final class FixedShapeTensorType extends ArrowType.ExtensionType {
    public static final String EXTENSION_NAME = "arrow.fixed_shape_tensor";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FixedShapeTensorType PROTOTYPE = new FixedShapeTensorType(new long[] {0}, 0, null, "{\"shape\":[0]}");

    private final long[] shape;
    private final int listSize;
    private final String problem;
    private final String metadata;

    private FixedShapeTensorType(long[] shape, int listSize, String problem, String metadata) {
        this.shape = shape;
        this.listSize = listSize;
        this.problem = problem;
        this.metadata = metadata;
    }

    /** The type for tensors of {@code shape}; the element count must fit a FixedSizeList (an int). */
    public static FixedShapeTensorType of(long... shape) {
        long n = Shapes.elementCount(shape);
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shape " + Shapes.format(shape) + ": " + n
                    + " elements do not fit one FixedSizeList value (at most " + Integer.MAX_VALUE + ")");
        }
        return new FixedShapeTensorType(shape.clone(), (int) n, null, serializeShape(shape));
    }

    /** Adds the type to Arrow's registry (idempotent; readers call it before opening a file). */
    public static void register() {
        if (!(ExtensionTypeRegistry.lookup(EXTENSION_NAME) instanceof FixedShapeTensorType)) {
            ExtensionTypeRegistry.register(PROTOTYPE);
        }
    }

    /** The tensor shape (a copy). Meaningful only when {@link #problem()} is null. */
    public long[] shape() {
        return shape.clone();
    }

    /** {@code n}, the FixedSizeList length of the storage. */
    public int listSize() {
        return listSize;
    }

    /** Why the metadata cannot be used, or null when it is sound. */
    public String problem() {
        return problem;
    }

    @Override
    public ArrowType storageType() {
        return new ArrowType.FixedSizeList(listSize);
    }

    @Override
    public String extensionName() {
        return EXTENSION_NAME;
    }

    @Override
    public boolean extensionEquals(ArrowType.ExtensionType other) {
        return other instanceof FixedShapeTensorType o && o.listSize == listSize && Arrays.equals(o.shape, shape)
                && java.util.Objects.equals(o.problem, problem);
    }

    @Override
    public String serialize() {
        return metadata;
    }

    @Override
    public ArrowType deserialize(ArrowType storageType, String serializedData) {
        if (!(storageType instanceof ArrowType.FixedSizeList fsl)) {
            // Not a tensor column we can use: leave it as its storage type (with the extension keys
            // still in its metadata) so that the rest of the file loads.
            return storageType;
        }
        int n = fsl.getListSize();
        long[] parsed;
        try {
            parsed = parseShape(JSON.readTree(serializedData));
        } catch (Exception e) {
            return new FixedShapeTensorType(new long[] {n}, n, "extension metadata " + serializedData
                    + " is not of the form {\"shape\":[...]}: " + e.getMessage(), serializedData);
        }
        long count;
        try {
            count = Shapes.elementCount(parsed);
        } catch (RuntimeException e) {
            count = -1;
        }
        if (count != n) {
            return new FixedShapeTensorType(parsed, n, "extension shape " + Shapes.format(parsed) + " holds "
                    + count + " elements but the FixedSizeList has " + n, serializedData);
        }
        return new FixedShapeTensorType(parsed, n, null, serializedData);
    }

    @Override
    public FieldVector getNewVector(String name, FieldType fieldType, BufferAllocator allocator) {
        FieldType storage = new FieldType(fieldType.isNullable(), storageType(), fieldType.getDictionary(),
                fieldType.getMetadata());
        return new FixedShapeTensorVector(name, fieldType, allocator, new FixedSizeListVector(name, allocator, storage, null));
    }

    @Override
    public String toString() {
        return EXTENSION_NAME + Shapes.format(shape) + (problem == null ? "" : " (invalid: " + problem + ")");
    }

    /** {@code {"shape":[2,3]}} */
    static String serializeShape(long[] shape) {
        StringBuilder sb = new StringBuilder("{\"shape\":[");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) sb.append(',');
            sb.append(shape[i]);
        }
        return sb.append("]}").toString();
    }

    /** Reads {@code shape}; rejects a non-identity {@code permutation} (we only do row-major). */
    private static long[] parseShape(JsonNode root) {
        JsonNode s = root == null ? null : root.get("shape");
        long[] shape = longList(s, "shape");
        JsonNode perm = root.get("permutation");
        if (perm != null && !perm.isNull()) {
            long[] p = longList(perm, "permutation");
            for (int i = 0; i < p.length; i++) {
                if (p[i] != i) {
                    throw new IllegalArgumentException("permutation " + Arrays.toString(p)
                            + " is not the identity; only row-major tensors are supported");
                }
            }
        }
        return shape;
    }

    private static long[] longList(JsonNode node, String key) {
        if (node == null || !node.isArray()) {
            throw new IllegalArgumentException("\"" + key + "\" is not a JSON list");
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0) {
                throw new IllegalArgumentException("\"" + key + "\"[" + i + "] = " + v + " is not a size >= 0");
            }
            out[i] = v.asLong();
        }
        return out;
    }
}
