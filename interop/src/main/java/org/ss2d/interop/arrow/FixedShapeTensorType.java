package org.ss2d.interop.arrow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
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
    /**
     * Strict JSON: duplicate keys and text after the value are errors (a file that says
     * {@code {"shape":[2],"shape":[3]}} has no one shape).
     */
    public static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS) // NaN is then rejected by name, not as bad JSON
            .build();
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
        } catch (JsonProcessingException e) {
            return new FixedShapeTensorType(new long[] {n}, n, "extension metadata " + abbreviate(serializedData)
                    + " is not JSON of the form {\"shape\":[...]} (" + e.getOriginalMessage() + ")", serializedData);
        } catch (IllegalArgumentException e) {
            return new FixedShapeTensorType(new long[] {n}, n, "extension metadata " + abbreviate(serializedData)
                    + ": " + e.getMessage(), serializedData);
        }
        String mismatch = elementsProblem(parsed, n);
        if (mismatch != null) {
            return new FixedShapeTensorType(parsed, n, "extension " + mismatch, serializedData);
        }
        return new FixedShapeTensorType(parsed, n, null, serializedData);
    }

    /**
     * Null when {@code shape} holds exactly {@code listSize} elements, else what is wrong, in words
     * (a product past 2^63 is "more than ... elements", never an arithmetic error).
     */
    public static String elementsProblem(long[] shape, int listSize) {
        long count = 1;
        for (long d : shape) {
            if (d != 0 && count > Long.MAX_VALUE / d) {
                return "shape " + Shapes.format(shape) + " holds more than " + Long.MAX_VALUE
                        + " elements but the FixedSizeList has " + listSize;
            }
            count *= d;
        }
        return count == listSize ? null
                : "shape " + Shapes.format(shape) + " holds " + count + " elements but the FixedSizeList has " + listSize;
    }

    /**
     * A shape written as a JSON list of sizes ({@code [2, 3]}), as in a plain column's {@code shape}
     * field metadata: integers from 0 to 2^63-1 only (no 2.0, no 2^64 + 2 wrapping to 2).
     *
     * @throws IllegalArgumentException saying what is wrong, in words
     */
    public static long[] parseShapeList(String json) {
        try {
            return longList(JSON.readTree(json), "shape");
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON (" + e.getOriginalMessage() + ")");
        }
    }

    private static String abbreviate(String s) {
        String one = s.replaceAll("\\s+", " ");
        return one.length() > 80 ? one.substring(0, 77) + "..." : one;
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
        if (root == null || !root.isObject()) throw new IllegalArgumentException("not a JSON object");
        JsonNode s = root.get("shape");
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
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new IllegalArgumentException("\"" + key + "\"[" + i + "] = " + abbreviate(v.toString())
                        + " is not an integer from 0 to " + Long.MAX_VALUE);
            }
            out[i] = v.longValue();
        }
        return out;
    }
}
