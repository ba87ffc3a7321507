package org.ss2d.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Scalar conversions between float32 and the two 16-bit types, each rounding to nearest with ties to
 * even (IEEE's default, what PyTorch's {@code .half()} and {@code .bfloat16()} do). float16 uses the
 * JDK's own {@link Float#floatToFloat16} / {@link Float#float16ToFloat} (compiled to one instruction
 * where the CPU has one); bfloat16 is float32's upper half, so its conversions are bit operations.
 * Vector kernels have their own lane-wise forms; these are for element access, files and references.
 */
public final class HalfFloats {
    private HalfFloats() {}

    private static final ValueLayout.OfShort S16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    /** Largest finite float16 value; anything that rounds above it becomes infinity. */
    public static final float F16_MAX = 65504f;

    /** The float32 value of bfloat16 bits (exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /**
     * bfloat16 bits nearest to {@code f} (ties to even). NaN stays a (quiet) NaN with its sign; values
     * that round past bfloat16's largest finite become infinity, as in IEEE.
     */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            return (short) ((x >>> 16) | 0x0040); // keep the NaN a NaN (its payload may sit in the low bits only)
        }
        return (short) ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
    }

    /** The float32 value of a 16-bit element of {@code dtype} (F16 or BF16). */
    public static float toFloat(DType dtype, short bits) {
        return switch (dtype) {
            case F16 -> Float.float16ToFloat(bits);
            case BF16 -> bf16ToFloat(bits);
            case F32 -> throw new IllegalArgumentException("f32 is not a 16-bit type");
        };
    }

    /** The bits of {@code f} rounded to {@code dtype} (F16 or BF16). */
    public static short fromFloat(DType dtype, float f) {
        return switch (dtype) {
            case F16 -> Float.floatToFloat16(f);
            case BF16 -> floatToBf16(f);
            case F32 -> throw new IllegalArgumentException("f32 is not a 16-bit type");
        };
    }

    /** {@code f} rounded to {@code dtype} and back: the value a tensor of that type would hold. */
    public static float round(DType dtype, float f) {
        return dtype == DType.F32 ? f : toFloat(dtype, fromFloat(dtype, f));
    }

    /**
     * Element {@code index} of a segment holding {@code dtype} values, as float32.
     *
     * @param s     host memory
     * @param dtype its element type
     * @param index element index
     * @return the value
     */
    public static float get(MemorySegment s, DType dtype, long index) {
        return dtype == DType.F32 ? s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, index)
                : toFloat(dtype, s.getAtIndex(S16, index));
    }

    /** Stores {@code value} (rounded to {@code dtype}) at element {@code index}. */
    public static void set(MemorySegment s, DType dtype, long index, float value) {
        if (dtype == DType.F32) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, index, value);
        } else {
            s.setAtIndex(S16, index, fromFloat(dtype, value));
        }
    }

    /**
     * The half-ulp of {@code dtype} relative to a value: the largest relative error of one rounding to it
     * (2^-24 for float32, 2^-11 for float16's normal range, 2^-8 for bfloat16).
     */
    public static double unitRoundoff(DType dtype) {
        return switch (dtype) {
            case F32 -> 0x1p-24;
            case F16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
        };
    }
}
