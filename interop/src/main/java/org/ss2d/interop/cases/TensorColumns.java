package org.ss2d.interop.cases;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.ss2d.interop.arrow.ArrowTensors;
import org.ss2d.interop.arrow.FixedShapeTensorType;
import org.ss2d.interop.arrow.FixedShapeTensorVector;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Shapes;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The contract's rules for one tensor column, in one place: its declared shape (extension type and/or
 * {@code shape} field metadata, which must agree), its value type (float32, float64, float16 as Arrow's
 * HalfFloat, or bfloat16 as uint16 with {@code logical_dtype = bfloat16}; which op takes which is the
 * validators' business), and a first row that is neither null nor holds a null value.
 * Every fault names the column.
 */
final class TensorColumns {
    private TensorColumns() {}

    static final String SHAPE_KEY = "shape";
    static final String LOGICAL_DTYPE_KEY = "logical_dtype";

    /** The column's storage: the FixedSizeList under the extension type, or the plain list itself. */
    static FixedSizeListVector storage(String column, FieldVector v) {
        if (v instanceof FixedShapeTensorVector e) return e.getUnderlyingVector();
        if (v instanceof FixedSizeListVector l) return l;
        throw new Ss2dArgumentException(column, "a FixedSizeList or " + FixedShapeTensorType.EXTENSION_NAME + " column",
                dtypeName(v.getField().getType()), null);
    }

    /** The shape the column declares, checked against its list size and between its two declarations. */
    static long[] declaredShape(String column, FieldVector v) {
        Field f = v.getField();
        String logical = metadata(f, LOGICAL_DTYPE_KEY);
        if (logical != null && logical.toLowerCase(Locale.ROOT).startsWith("complex")) {
            throw new Ss2dArgumentException(column, "real values", logical + " (complex tensors are not supported)", null);
        }
        FixedSizeListVector list = storage(column, v);
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
        if (meta == null) {
            throw new Ss2dArgumentException(column, "field metadata \"shape\" (a JSON list) or the "
                    + FixedShapeTensorType.EXTENSION_NAME + " type", "a plain FixedSizeList[" + list.getListSize()
                    + "] without a shape", null);
        }
        String mismatch = FixedShapeTensorType.elementsProblem(meta, list.getListSize());
        if (mismatch != null) {
            throw new Ss2dArgumentException(column, "a shape with " + list.getListSize() + " elements (the list size)",
                    mismatch, null);
        }
        return meta;
    }

    /**
     * The tensor dtype a column's values are viewed as: float32, float16, bfloat16; null for float64
     * (converted to float32 on load).
     */
    static DType viewDtype(FieldVector v) {
        return ArrowTensors.dtypeOf(storage("column", v).getDataVector(), v.getField().getMetadata());
    }

    /** Checks the first row: present, no null values, float values (see the class comment). Returns the value vector. */
    static FieldVector firstRow(String column, FieldVector v) {
        declaredShape(column, v);
        FixedSizeListVector list = storage(column, v);
        FieldVector values = list.getDataVector();
        if (!(values instanceof Float8Vector) && ArrowTensors.dtypeOf(values, v.getField().getMetadata()) == null) {
            String logical = metadata(v.getField(), LOGICAL_DTYPE_KEY);
            String found = logical != null ? logical + " stored as " + dtypeName(values.getField().getType())
                    : dtypeName(values.getField().getType());
            boolean u16 = values instanceof org.apache.arrow.vector.UInt2Vector;
            throw new Ss2dArgumentException(column, "float32, float64, float16 or bfloat16 values" + (u16
                    ? " (uint16 holds bfloat16 only with field metadata " + LOGICAL_DTYPE_KEY + " = bfloat16)" : ""), found, null);
        }
        if (list.getValueCount() < 1 || list.isNull(0)) {
            throw new Ss2dArgumentException(column, "a tensor in the first row", "null", null);
        }
        int n = list.getListSize();
        int start = list.getElementStartIndex(0);
        if (values.getNullCount() > 0) {
            for (int i = 0; i < n; i++) {
                if (values.isNull(start + i)) {
                    throw new Ss2dArgumentException(column, "no null values", "a null at flat index " + i, null);
                }
            }
        }
        return values;
    }

    /** {@code float32}, {@code float16}, {@code uint16}, ... for messages; other types as Arrow prints them. */
    static String dtypeName(ArrowType t) {
        if (t instanceof ArrowType.FloatingPoint fp) {
            return fp.getPrecision() == FloatingPointPrecision.HALF ? "float16"
                    : fp.getPrecision() == FloatingPointPrecision.SINGLE ? "float32" : "float64";
        }
        if (t instanceof ArrowType.Int i) return (i.getIsSigned() ? "int" : "uint") + i.getBitWidth();
        if (t instanceof ArrowType.FixedSizeList l) return "a FixedSizeList[" + l.getListSize() + "]";
        return t.toString();
    }

    /**
     * The tensor type of a column that Arrow read as its plain storage because no extension type was
     * registered when the schema was read (the keys are then still in the field metadata).
     */
    private static FixedShapeTensorType unregisteredExtension(Field f) {
        if (!FixedShapeTensorType.EXTENSION_NAME.equals(metadata(f, "ARROW:extension:name"))) return null;
        String json = metadata(f, "ARROW:extension:metadata");
        return FixedShapeTensorType.of(1).deserialize(f.getType(), json == null ? "" : json)
                instanceof FixedShapeTensorType t ? t : null;
    }

    private static long[] metadataShape(String column, Field f) {
        String text = metadata(f, SHAPE_KEY);
        if (text == null) return null;
        try {
            return FixedShapeTensorType.parseShapeList(text);
        } catch (IllegalArgumentException e) {
            throw new Ss2dArgumentException(column, "field metadata shape as a JSON list of sizes, e.g. [2, 3]",
                    Messages.abbreviate(text) + " (" + e.getMessage() + ")", null);
        }
    }

    private static String metadata(Field f, String key) {
        Map<String, String> md = f.getMetadata();
        return md == null ? null : md.get(key);
    }
}
