package org.ss2d.interop.cdata;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import org.apache.arrow.c.ArrowArray;
import org.apache.arrow.c.ArrowSchema;
import org.apache.arrow.c.Data;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.ss2d.interop.arrow.ArrowTensors;
import org.ss2d.interop.arrow.FixedShapeTensorType;
import org.ss2d.interop.arrow.FixedShapeTensorVector;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Tensors through the Arrow C Data Interface, without copying a byte either way.
 *
 * <p><b>Export</b>: a host tensor becomes a one-row {@code arrow.fixed_shape_tensor} array
 * (storage {@code FixedSizeList<float32>[n]}, extension metadata {@code {"shape":[...]}}; float16 as
 * {@code halffloat} values, bfloat16 as {@code uint16} values with the field metadata
 * {@code logical_dtype = bfloat16}) whose value
 * buffer is the tensor's own memory. The export holds a reference to that memory, so the tensor may
 * be closed at once; the memory is freed when both the tensor is closed and the consumer has called
 * the array's {@code release} callback (exactly once, as the interface requires). pyarrow reads it
 * with {@code pa.Array._import_from_c(array_ptr, schema_ptr)} and
 * {@code .to_numpy_ndarray()} gives the NumPy view.
 *
 * <p><b>Import</b>: an {@code arrow.fixed_shape_tensor} array (one row: the tensor; several: a
 * leading batch axis), a {@code FixedSizeList<float32>} whose field metadata holds {@code shape}, or
 * a plain float32 or float16 array (a vector) becomes a tensor over the producer's buffer; values of
 * the three dtypes as on export. The producer's
 * {@code release} is called once, when the tensor is closed.
 *
 * <p>The structs are moved, as the interface prescribes: after a call they are marked released
 * and may be freed by their owner.
 */
public final class CDataTensors {
    /** {@code sizeof(struct ArrowArray)} and {@code sizeof(struct ArrowSchema)} on 64-bit platforms. */
    public static final long ARRAY_STRUCT_BYTES = 80, SCHEMA_STRUCT_BYTES = 72;

    static {
        FixedShapeTensorType.register();
    }

    private CDataTensors() {}

    /**
     * Exports {@code tensor} into consumer-allocated structs (e.g. pyarrow's
     * {@code ffi.new("struct ArrowArray*")}, or {@link ArrowArray#allocateNew}).
     */
    public static void exportTensor(Tensor tensor, ArrowArray array, ArrowSchema schema) {
        requireExportable(tensor);
        BufferAllocator allocator = tensor.scope().allocator();
        try (FixedShapeTensorVector v = ArrowTensors.toVector(tensor, tensor.name() == null ? "tensor" : tensor.name(), allocator)) {
            // The exporter retains the vector's buffers (a reference, not a copy) until release.
            Data.exportVector(allocator, v, null, array, schema);
        }
    }

    /** As {@link #exportTensor(Tensor, ArrowArray, ArrowSchema)}, into structs in foreign memory (FFM). */
    public static void exportTensor(Tensor tensor, MemorySegment array, MemorySegment schema) {
        requireStruct("array", array, ARRAY_STRUCT_BYTES);
        requireStruct("schema", schema, SCHEMA_STRUCT_BYTES);
        exportTensor(tensor, ArrowArray.wrap(array.address()), ArrowSchema.wrap(schema.address()));
    }

    /** Imports a tensor (moving the structs); its memory stays the producer's until the tensor closes. */
    public static Tensor importTensor(TensorScope scope, ArrowArray array, ArrowSchema schema) {
        rejectOffsets(array, schema);
        FieldVector v;
        try {
            v = Data.importVector(scope.allocator(), array, schema, null);
        } catch (IllegalStateException | IllegalArgumentException | UnsupportedOperationException e) {
            throw new Ss2dArgumentException("array", "a live tensor array", e.getMessage(), null);
        }
        try (v) {
            return wrap(scope, v);
        }
    }

    /** As {@link #importTensor(TensorScope, ArrowArray, ArrowSchema)}, from structs in foreign memory (FFM). */
    public static Tensor importTensor(TensorScope scope, MemorySegment array, MemorySegment schema) {
        requireStruct("array", array, ARRAY_STRUCT_BYTES);
        requireStruct("schema", schema, SCHEMA_STRUCT_BYTES);
        return importTensor(scope, ArrowArray.wrap(array.address()), ArrowSchema.wrap(schema.address()));
    }

    /**
     * Arrow Java's importer (19.0) ignores {@code ArrowArray.offset}, so a sliced array (pyarrow's
     * {@code arr[1:]}) would be read from its buffer's start: wrong data, silently. We refuse it
     * instead, and release the structs we were handed, as the new owner must.
     */
    private static void rejectOffsets(ArrowArray array, ArrowSchema schema) {
        MemorySegment a = MemorySegment.ofAddress(array.memoryAddress()).reinterpret(ARRAY_STRUCT_BYTES);
        if (a.get(ValueLayout.ADDRESS, 64).equals(MemorySegment.NULL)) {
            return; // released already: Arrow's importer says so in its own words
        }
        long offset = offsetOf(a, 0);
        if (offset != 0) {
            array.release();
            schema.release();
            throw new Ss2dArgumentException("array", "offset 0 (a contiguous array; pyarrow: pa.concat_arrays([arr]) "
                    + "copies a slice into one)", "offset " + offset + " (a sliced array)", null);
        }
    }

    /** The array's offset, or the first non-zero offset among its descendants. */
    private static long offsetOf(MemorySegment a, int depth) {
        long own = a.get(ValueLayout.JAVA_LONG, 16);
        if (own != 0 || depth > 8) return own;
        long n = a.get(ValueLayout.JAVA_LONG, 32);
        if (n <= 0 || n > 64) return 0;
        MemorySegment kids = a.get(ValueLayout.ADDRESS, 48).reinterpret(8 * n);
        for (long i = 0; i < n; i++) {
            MemorySegment c = kids.getAtIndex(ValueLayout.ADDRESS, i);
            if (c.equals(MemorySegment.NULL)) continue;
            long o = offsetOf(c.reinterpret(ARRAY_STRUCT_BYTES), depth + 1);
            if (o != 0) return o;
        }
        return 0;
    }

    private static Tensor wrap(TensorScope scope, FieldVector v) {
        String name = v.getName();
        if (v instanceof FixedShapeTensorVector t) {
            if (t.tensorType().problem() != null) {
                throw new Ss2dArgumentException(name, "usable arrow.fixed_shape_tensor metadata", t.tensorType().problem(), null);
            }
            return t.getValueCount() == 1 ? ArrowTensors.wrapRow(scope, t, 0) : ArrowTensors.wrapColumn(scope, t);
        }
        if (v instanceof FixedSizeListVector list && v.getValueCount() == 1) {
            Map<String, String> meta = v.getField().getMetadata();
            String shape = meta == null ? null : meta.get("shape");
            long[] dims = shape == null ? new long[] {list.getListSize()} : parseShape(name, shape);
            return ArrowTensors.wrapRow(scope, list, 0, dims);
        }
        DType flat = ArrowTensors.dtypeOf(v, v.getField().getMetadata());
        if (flat != null) {
            if (v.getNullCount() > 0) {
                throw new Ss2dArgumentException(name, "no null values", v.getNullCount() + " null(s)", null);
            }
            return ArrowTensors.wrap(scope, name, v.getDataBuffer(), 0, flat, v.getValueCount());
        }
        throw new Ss2dArgumentException(name == null || name.isEmpty() ? "array" : name,
                "arrow.fixed_shape_tensor, one-row FixedSizeList of float32/float16/bfloat16, or such a flat array",
                v.getField().toString(), null);
    }

    private static long[] parseShape(String name, String json) {
        String s = json.trim();
        if (!s.startsWith("[") || !s.endsWith("]")) {
            throw new Ss2dArgumentException(name, "field metadata shape as a JSON list", json, null);
        }
        String body = s.substring(1, s.length() - 1).trim();
        if (body.isEmpty()) return new long[0];
        String[] parts = body.split(",");
        long[] out = new long[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) out[i] = Long.parseLong(parts[i].trim());
        } catch (NumberFormatException e) {
            throw new Ss2dArgumentException(name, "field metadata shape as a JSON list of integers", json, null);
        }
        return out;
    }

    private static void requireExportable(Tensor t) {
        if (t.isClosed()) {
            throw new IllegalStateException(t.describe() + " was used after it was closed");
        }
        if (!t.isHost()) {
            throw new Ss2dArgumentException(t.name() == null ? "tensor" : t.name(), "a host tensor (the C Data "
                    + "Interface carries host memory; copy it to the host first)", t.describe(), null);
        }
    }

    private static void requireStruct(String what, MemorySegment s, long bytes) {
        if (s == null || s.address() == 0 || s.byteSize() < bytes) {
            throw new Ss2dArgumentException(what, "a struct Arrow" + (what.equals("array") ? "Array" : "Schema")
                    + " of " + bytes + " bytes", s == null ? "null" : s.toString(), null);
        }
    }
}
