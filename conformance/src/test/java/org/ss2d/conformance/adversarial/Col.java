package org.ss2d.conformance.adversarial;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One column of a generated case file: a tensor (its shape, values and how it is encoded) or a note
 * that the contract says to ignore.
 *
 * @param shape      the shape written to the metadata (may lie, see {@link #listSize})
 * @param listSize   the FixedSizeList size actually written (normally the shape's element count)
 * @param encoding   how the shape is declared
 * @param dtype      the stored value type
 * @param metadata   extra field metadata (written as given, lies included)
 * @param nullRow    whether the first row is null
 */
record Col(String name, long[] shape, int listSize, double[] values, Encoding encoding, Dtype dtype,
           Map<String, String> metadata, boolean nullRow) {

    enum Encoding {
        /** {@code arrow.fixed_shape_tensor} through the registered extension type. */
        EXTENSION,
        /** A plain FixedSizeList with the shape in the field metadata {@code shape}. */
        PLAIN,
        /** The extension's keys written by hand into the field metadata (any text as its JSON). */
        RAW_EXTENSION,
        /** A utf8 note column (values ignored). */
        NOTE,
        /** An int32 column of one value per row (values ignored). */
        INT_SCALAR
    }

    enum Dtype { F32, F64, F16, BF16, I32 }

    static Col tensor(String name, long[] shape, double[] values) {
        return new Col(name, shape, values.length, values, Encoding.EXTENSION, Dtype.F32, Map.of(), false);
    }

    Col with(Encoding e) {
        return new Col(name, shape, listSize, values, e, dtype, metadata, nullRow);
    }

    Col with(Dtype d) {
        return new Col(name, shape, listSize, values, encoding, d, metadata, nullRow);
    }

    Col named(String n) {
        return new Col(n, shape, listSize, values, encoding, dtype, metadata, nullRow);
    }

    Col withShape(long[] s) {
        return new Col(name, s, listSize, values, encoding, dtype, metadata, nullRow);
    }

    Col withMetadata(String key, String value) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.put(key, value);
        return new Col(name, shape, listSize, values, encoding, dtype, m, nullRow);
    }

    Col withNullRow() {
        return new Col(name, shape, listSize, values, encoding, dtype, metadata, true);
    }
}
