package org.ss2d.interop.arrow;

import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Zero-copy bridges between Arrow vectors and {@link Tensor}s, both ways.
 *
 * <p>Element types: float32 values are {@code FloatingPoint(SINGLE)}, float16 values Arrow's
 * {@code HalfFloat}; bfloat16 has no Arrow type, so its bit patterns are {@code uint16} values and the
 * tensor field's metadata says {@code logical_dtype = bfloat16} (a uint16 column without it is not a
 * float tensor).
 *
 * <p>In: a row (or the whole) of a {@code FixedSizeList} / {@code arrow.fixed_shape_tensor}
 * column becomes a tensor over the very bytes of the column's value buffer ({@link TensorScope#wrap}
 * takes its own reference, so the vector may be closed first). Out: a host tensor becomes a one-row
 * {@link FixedShapeTensorVector} whose value buffer is the tensor's own memory, retained into the
 * target allocator. Arrow moves a buffer between allocators only within one root, so the scope and
 * the allocator must share a root (make the scope with {@link TensorScope#of(String, BufferAllocator)}).
 */
public final class ArrowTensors {
    private static final ArrowType F32 = new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
    private static final ArrowType F16 = new ArrowType.FloatingPoint(FloatingPointPrecision.HALF);
    private static final ArrowType U16 = new ArrowType.Int(16, false);
    /** Field metadata key naming a tensor's logical element type where Arrow has none ({@code bfloat16}). */
    public static final String LOGICAL_DTYPE_KEY = "logical_dtype";

    static {
        FixedShapeTensorType.register();
    }

    private ArrowTensors() {}

    /** Field of a one-tensor-per-row float32 column: the extension type over {@code FixedSizeList<float32>[n]}. */
    public static Field tensorField(String name, long... shape) {
        return tensorField(name, DType.F32, shape);
    }

    /**
     * Field of a one-tensor-per-row column of {@code dtype}: the extension type over
     * {@code FixedSizeList<float32 | halffloat | uint16>[n]}, the last with {@code logical_dtype = bfloat16}.
     */
    public static Field tensorField(String name, DType dtype, long... shape) {
        FieldType type = new FieldType(false, FixedShapeTensorType.of(shape), null,
                dtype == DType.BF16 ? java.util.Map.of(LOGICAL_DTYPE_KEY, DType.BF16.arrowName()) : null);
        return new Field(name, type, List.of(new Field("item", new FieldType(false, arrowType(dtype), null), null)));
    }

    /** The Arrow value type that stores {@code dtype}. */
    public static ArrowType arrowType(DType dtype) {
        return switch (dtype) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> U16;
        };
    }

    /**
     * The tensor dtype of a column's values: float32, HalfFloat as float16, uint16 as bfloat16 when the
     * field's metadata says {@code logical_dtype = bfloat16}; null for anything else (float64 included,
     * which is not viewed but converted).
     */
    public static DType dtypeOf(FieldVector values, java.util.Map<String, String> fieldMetadata) {
        if (values instanceof Float4Vector) return DType.F32;
        if (values instanceof org.apache.arrow.vector.Float2Vector) return DType.F16;
        if (values instanceof org.apache.arrow.vector.UInt2Vector && fieldMetadata != null
                && DType.BF16.arrowName().equals(fieldMetadata.get(LOGICAL_DTYPE_KEY))) {
            return DType.BF16;
        }
        return null;
    }

    /** Row {@code row} of a {@code fixed_shape_tensor} column, viewed (not copied) as a tensor of its shape. */
    public static Tensor wrapRow(TensorScope scope, FixedShapeTensorVector column, int row) {
        FixedShapeTensorType type = column.tensorType();
        if (type.problem() != null) {
            throw new IllegalArgumentException(column.getName() + ": " + type.problem());
        }
        return wrapRow(scope, column.getUnderlyingVector(), valueDtype(column.getUnderlyingVector(),
                column.getField().getMetadata()), row, type.shape());
    }

    /**
     * Row {@code row} of a plain {@code FixedSizeList<float32>[n]} column, viewed (not copied) as a
     * tensor of {@code shape}, whose element count must be {@code n}; the column's own field metadata
     * says whether uint16 values are bfloat16.
     */
    public static Tensor wrapRow(TensorScope scope, FixedSizeListVector column, int row, long... shape) {
        return wrapRow(scope, column, valueDtype(column, column.getField().getMetadata()), row, shape);
    }

    /**
     * Row {@code row} of a plain {@code FixedSizeList} column whose values hold {@code dtype}, viewed (not
     * copied) as a tensor of {@code shape}.
     */
    public static Tensor wrapRow(TensorScope scope, FixedSizeListVector column, DType dtype, int row, long... shape) {
        FieldVector values = values(column, dtype);
        int n = column.getListSize();
        if (Shapes.elementCount(shape) != n) {
            throw new IllegalArgumentException(column.getName() + ": shape " + Shapes.format(shape) + " holds "
                    + Shapes.elementCount(shape) + " elements, the FixedSizeList has " + n);
        }
        if (row < 0 || row >= column.getValueCount()) {
            throw new IndexOutOfBoundsException(column.getName() + ": row " + row + " of " + column.getValueCount());
        }
        if (column.isNull(row)) {
            throw new IllegalArgumentException(column.getName() + ": row " + row + " is null");
        }
        long start = (long) column.getElementStartIndex(row);
        requireNoNullValues(column, values, start, n);
        return wrap(scope, column.getName(), values.getDataBuffer(), start * dtype.byteSize(), dtype, shape);
    }

    /** The whole column as one tensor {@code (rows, shape...)}, without copying. */
    public static Tensor wrapColumn(TensorScope scope, FixedShapeTensorVector column) {
        FixedShapeTensorType type = column.tensorType();
        if (type.problem() != null) {
            throw new IllegalArgumentException(column.getName() + ": " + type.problem());
        }
        FixedSizeListVector storage = column.getUnderlyingVector();
        DType dtype = valueDtype(storage, column.getField().getMetadata());
        FieldVector values = values(storage, dtype);
        int rows = storage.getValueCount();
        if (storage.getNullCount() > 0) {
            throw new IllegalArgumentException(column.getName() + ": " + storage.getNullCount()
                    + " null row(s); a tensor has no place for them");
        }
        long n = (long) rows * storage.getListSize();
        requireNoNullValues(storage, values, 0, n);
        long[] rowShape = type.shape();
        long[] shape = new long[rowShape.length + 1];
        shape[0] = rows;
        System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
        return wrap(scope, column.getName(), values.getDataBuffer(), 0, dtype, shape);
    }

    /** A float32 tensor over {@code buffer} from {@code byteOffset}, sharing (and retaining) its memory. */
    public static Tensor wrap(TensorScope scope, String name, ArrowBuf buffer, long byteOffset, long... shape) {
        return wrap(scope, name, buffer, byteOffset, DType.F32, shape);
    }

    /** A tensor of {@code dtype} over {@code buffer} from {@code byteOffset}, sharing (and retaining) its memory. */
    public static Tensor wrap(TensorScope scope, String name, ArrowBuf buffer, long byteOffset, DType dtype, long... shape) {
        sameRoot(buffer, scope.allocator(), name);
        return scope.wrap(name, buffer, byteOffset, dtype, shape);
    }

    /**
     * A one-row {@code arrow.fixed_shape_tensor} column over the tensor's memory: no bytes are copied,
     * the tensor's buffer is retained into {@code allocator}. The vector stays valid after the tensor
     * closes; close the vector to drop its reference.
     */
    public static FixedShapeTensorVector toVector(Tensor tensor, String name, BufferAllocator allocator) {
        ArrowBuf own = tensor.arrowBuf(); // throws for device tensors, naming the device
        sameRoot(own, allocator, name);
        FixedShapeTensorVector v = (FixedShapeTensorVector) tensorField(name, tensor.dtype(), tensor.shape())
                .createVector(allocator);
        try {
            FixedSizeListVector storage = v.getUnderlyingVector();
            FieldVector values = storage.getDataVector();
            long elements = tensor.elementCount();
            ArrowBuf data = elements == 0 ? allocator.getEmpty() : own.slice(tensor.arrowOffset(), tensor.byteSize());
            // loadFieldBuffers retains `data` into the vector's allocator: a second reference, no copy.
            values.loadFieldBuffers(new ArrowFieldNode(elements, 0), List.of(allocator.getEmpty(), data));
            storage.loadFieldBuffers(new ArrowFieldNode(1, 0), List.of(allocator.getEmpty()));
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    /**
     * Like {@link #toVector} but as a plain {@code FixedSizeList<float32>[n]} column whose field metadata
     * holds {@code shape} as a JSON list, for readers that do not know the extension type.
     */
    public static FixedSizeListVector toFixedSizeList(Tensor tensor, String name, BufferAllocator allocator) {
        FixedShapeTensorVector ext = toVector(tensor, name, allocator);
        long[] shape = tensor.shape();
        StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) json.append(i == 0 ? "" : ", ").append(shape[i]);
        java.util.Map<String, String> md = new java.util.HashMap<>();
        md.put("shape", json.append(']').toString());
        if (tensor.dtype() == DType.BF16) md.put(LOGICAL_DTYPE_KEY, DType.BF16.arrowName());
        FieldType plain = new FieldType(false, new ArrowType.FixedSizeList(ext.tensorType().listSize()), null, md);
        FixedSizeListVector v = (FixedSizeListVector) new Field(name, plain, ext.getField().getChildren()).createVector(allocator);
        try (ext) {
            // hand the (retained, not copied) buffers over from the extension vector's storage
            ext.getUnderlyingVector().makeTransferPair(v).transfer();
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    private static DType valueDtype(FixedSizeListVector column, java.util.Map<String, String> fieldMetadata) {
        FieldVector data = column.getDataVector();
        DType d = dtypeOf(data, fieldMetadata);
        if (d == null) {
            throw new IllegalArgumentException(column.getName() + ": zero-copy needs float32, float16 or bfloat16 (uint16 with "
                    + LOGICAL_DTYPE_KEY + " = bfloat16) values, found " + data.getField().getType());
        }
        return d;
    }

    private static FieldVector values(FixedSizeListVector column, DType dtype) {
        FieldVector data = column.getDataVector();
        if (!arrowType(dtype).equals(data.getField().getType())) {
            throw new IllegalArgumentException(column.getName() + ": " + dtype.arrowName() + " values expected, found "
                    + data.getField().getType());
        }
        return data;
    }

    private static void requireNoNullValues(FixedSizeListVector column, FieldVector values, long start, long n) {
        if (values.getNullCount() == 0) {
            return;
        }
        for (long i = start; i < start + n; i++) {
            if (values.isNull((int) i)) {
                throw new IllegalArgumentException(column.getName() + ": value " + (i - start) + " is null");
            }
        }
    }

    private static void sameRoot(ArrowBuf buffer, BufferAllocator target, String name) {
        BufferAllocator from = buffer.getReferenceManager().getAllocator();
        if (from.getRoot() != target.getRoot()) {
            throw new IllegalArgumentException((name == null ? "tensor" : name) + ": Arrow shares memory only between "
                    + "allocators of one root; the buffer belongs to '" + from.getName() + "', the target to '"
                    + target.getName() + "' (make the scope with TensorScope.of(name, allocator))");
        }
    }
}
