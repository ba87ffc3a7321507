package org.ss2d.tensor;

/**
 * Element types. Arithmetic is float32 everywhere; the two 16-bit types are storage formats: a half
 * tensor is widened to float32 where an op reads it and rounded (to nearest, ties to even) where an op
 * writes it ({@link HalfFloats}). Which op takes which type is the validators' business: today the
 * selective scan takes half activations, every other op float32.
 */
public enum DType {
    /** IEEE 754 binary32, what every op computes in. */
    F32(4, "float32"),
    /** IEEE 754 binary16: 5 exponent bits, 10 fraction bits, largest finite 65504. */
    F16(2, "float16"),
    /** bfloat16: the top 16 bits of a float32 (float32's range, 7 fraction bits). */
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

    /** The name pyarrow/NumPy/PyTorch use for this type ({@code float32}, {@code float16}, {@code bfloat16}). */
    public String arrowName() {
        return arrowName;
    }

    /** {@return whether this is one of the 16-bit types} */
    public boolean isHalf() {
        return this != F32;
    }

    /**
     * The type named {@code float32}, {@code float16} or {@code bfloat16} (also {@code f32}, {@code fp16},
     * {@code bf16}, {@code half}), case-insensitive; null for anything else.
     */
    public static DType byName(String name) {
        if (name == null) return null;
        return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "float32", "f32", "fp32", "float" -> F32;
            case "float16", "f16", "fp16", "half" -> F16;
            case "bfloat16", "bf16" -> BF16;
            default -> null;
        };
    }
}
