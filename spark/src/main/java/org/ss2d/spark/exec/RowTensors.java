package org.ss2d.spark.exec;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Row;
import org.ss2d.validate.Ss2dArgumentException;
import scala.collection.Seq;

/**
 * Reads a tensor held in two columns of a row: {@code array<float>} values and an {@code array<int>} or
 * {@code array<bigint>} shape. Every inconsistency is an {@link Ss2dArgumentException} naming the column,
 * which the partition turns into that row's error.
 */
final class RowTensors {
    private RowTensors() {}

    static long[] shape(Row row, int index, String column) {
        if (row.isNullAt(index)) throw new Ss2dArgumentException(column, "a shape", "null", null);
        List<Object> dims = row.getList(index);
        long[] shape = new long[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            Object d = dims.get(i);
            if (!(d instanceof Number n)) throw new Ss2dArgumentException(column, "non-null integer dimensions", dims.toString(), null);
            shape[i] = n.longValue();
            if (shape[i] < 1) throw new Ss2dArgumentException(column, "dimensions >= 1", dims.toString(), null);
        }
        return shape;
    }

    static float[] values(Row row, int index, String column, long[] shape) {
        if (row.isNullAt(index)) throw new Ss2dArgumentException(column, "an array<float>", "null", null);
        Object v = row.get(index);
        long expected = 1;
        for (long d : shape) expected = Math.multiplyExact(expected, d);
        float[] out;
        if (v instanceof float[] f) {
            out = f;
        } else if (v instanceof Seq<?> seq) {
            // Spark's row deserializer gives a Scala sequence; one unboxing pass is the copy it forces.
            int n = seq.length();
            if (n != expected) throw lengthMismatch(column, shape, expected, n);
            out = new float[n];
            scala.collection.Iterator<?> it = seq.iterator();
            for (int i = 0; i < n; i++) out[i] = element(it.next(), column, i);
            return out;
        } else {
            List<Object> list = row.getList(index);
            out = new float[list.size()];
            for (int i = 0; i < out.length; i++) out[i] = element(list.get(i), column, i);
        }
        if (out.length != expected) throw lengthMismatch(column, shape, expected, out.length);
        return out;
    }

    private static float element(Object o, String column, int i) {
        if (o instanceof Float f) return f;
        throw new Ss2dArgumentException(column + "[" + i + "]", "a float", o == null ? "null" : o.getClass().getSimpleName(), null);
    }

    private static Ss2dArgumentException lengthMismatch(String column, long[] shape, long expected, long found) {
        return new Ss2dArgumentException(column, expected + " values (shape " + Arrays.toString(shape) + ")",
                found + " values", null);
    }
}
