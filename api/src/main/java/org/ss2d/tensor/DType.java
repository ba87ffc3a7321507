package org.ss2d.tensor;

/**
 * Element types. Every op computes in float32 today; F16 and BF16 are declared so that the API,
 * the file contract and capability reports can name them, and are rejected by the validators
 * until a backend announces them in its capabilities.
 */
public enum DType {
    /** IEEE 754 binary32, what every op computes in. */
    F32(4, "float32"),
    /** IEEE 754 binary16 (read from files; the ops refuse it). */
    F16(2, "float16"),
    /** bfloat16 (read from checkpoints and converted; the ops refuse it). */
    BF16(2, "bfloat16");

    private final int byteSize;
    private final String arrowName;

    DType(int byteSize, String arrowName) {
        this.byteSize = byteSize;
        this.arrowName = arrowName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The name pyarrow/NumPy use for this type. */
    public String arrowName() {
        return arrowName;
    }
}
