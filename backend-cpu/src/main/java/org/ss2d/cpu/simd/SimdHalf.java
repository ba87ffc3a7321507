package org.ss2d.cpu.simd;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.I;
import static org.ss2d.cpu.simd.SimdConstants.ORDER;
import static org.ss2d.cpu.simd.SimdConstants.VL;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;

/**
 * Lane-wise conversions between the 16-bit types and float32. The incubator API has no half-float
 * lanes ({@code S2F} converts integers), so the formats are taken apart with integer lane operations:
 * VL shorts are loaded, zero-extended to int lanes, rebuilt as float32 bit patterns, and back. Every
 * conversion is exact (widening) or rounds to nearest with ties to even (narrowing), bit for bit as
 * {@link Float#floatToFloat16} and {@link HalfFloats#floatToBf16}; the tests hold them to that.
 */
final class SimdHalf {
    private SimdHalf() {}

    /** VL shorts: half the width of a float vector. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(VL * 16));

    /** float16 values in [2^-14, 65504] scaled from float32's exponent bias to float16's: 2^(127-15). */
    private static final float F16_SCALE = 0x1p112f;

    // ------------------------------------------------------------------ widening

    /** {@code n} elements of {@code dtype} from {@code src[srcOff..]} to float32 {@code dst[dstOff..]} (element offsets). */
    static void toFloat(DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff, int n) {
        int bound = F.loopBound(n), i = 0;
        if (dtype == DType.BF16) {
            for (; i < bound; i += VL) bf16Lanes(src, srcOff + i).intoMemorySegment(dst, (dstOff + i) * 4, ORDER);
        } else {
            for (; i < bound; i += VL) f16Lanes(src, srcOff + i).intoMemorySegment(dst, (dstOff + i) * 4, ORDER);
        }
        for (; i < n; i++) {
            dst.setAtIndex(JAVA_FLOAT_UNALIGNED, dstOff + i, HalfFloats.toFloat(dtype, src.getAtIndex(JAVA_SHORT_UNALIGNED, srcOff + i)));
        }
    }

    /** The same into a float array. */
    static void toFloat(DType dtype, MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        int bound = F.loopBound(n), i = 0;
        if (dtype == DType.BF16) {
            for (; i < bound; i += VL) bf16Lanes(src, srcOff + i).intoArray(dst, dstOff + i);
        } else {
            for (; i < bound; i += VL) f16Lanes(src, srcOff + i).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = HalfFloats.toFloat(dtype, src.getAtIndex(JAVA_SHORT_UNALIGNED, srcOff + i));
        }
    }

    /** VL zero-extended 16-bit patterns from element {@code off}. */
    private static IntVector bits(MemorySegment src, long off) {
        return (IntVector) ShortVector.fromMemorySegment(S, src, off * 2, ORDER)
                .convertShape(VectorOperators.S2I, I, 0).lanewise(VectorOperators.AND, 0xffff);
    }

    /** bfloat16 is float32's upper half. */
    static FloatVector bf16Lanes(MemorySegment src, long off) {
        return bits(src, off).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * float16: exponent and fraction shifted into float32's places and scaled by 2^112 (exact, subnormals
     * included: they become float32 subnormals that the multiply normalises); infinity and NaN (exponent
     * all ones) get float32's all-ones exponent instead; the sign goes back last.
     */
    static FloatVector f16Lanes(MemorySegment src, long off) {
        IntVector h = bits(src, off);
        IntVector em = h.lanewise(VectorOperators.AND, 0x7fff);
        IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
        IntVector finite = shifted.reinterpretAsFloats().mul(F16_SCALE).reinterpretAsInts();
        VectorMask<Integer> special = em.compare(VectorOperators.GE, 0x7c00);
        IntVector mag = finite.blend(shifted.lanewise(VectorOperators.OR, 0x7f800000), special);
        IntVector sign = h.lanewise(VectorOperators.AND, 0x8000).lanewise(VectorOperators.LSHL, 16);
        return mag.lanewise(VectorOperators.OR, sign).reinterpretAsFloats();
    }

    // ------------------------------------------------------------------ narrowing

    /** {@code n} float32 elements of {@code src[srcOff..]} rounded to {@code dtype} into {@code dst[dstOff..]}. */
    static void fromFloat(DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff, int n) {
        int bound = F.loopBound(n), i = 0;
        if (dtype == DType.BF16) {
            for (; i < bound; i += VL) {
                store(toBf16(FloatVector.fromMemorySegment(F, src, (srcOff + i) * 4, ORDER)), dst, dstOff + i);
            }
        } else {
            for (; i < bound; i += VL) {
                store(toF16(FloatVector.fromMemorySegment(F, src, (srcOff + i) * 4, ORDER)), dst, dstOff + i);
            }
        }
        for (; i < n; i++) {
            dst.setAtIndex(JAVA_SHORT_UNALIGNED, dstOff + i, HalfFloats.fromFloat(dtype, src.getAtIndex(JAVA_FLOAT_UNALIGNED, srcOff + i)));
        }
    }

    private static void store(IntVector bits16, MemorySegment dst, long off) {
        ((ShortVector) bits16.convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(dst, off * 2, ORDER);
    }

    /** Round to nearest even on the upper half; a NaN keeps its upper bits and is made quiet. */
    static IntVector toBf16(FloatVector f) {
        IntVector x = f.reinterpretAsInts();
        IntVector odd = x.lanewise(VectorOperators.LSHR, 16).lanewise(VectorOperators.AND, 1);
        IntVector rounded = x.add(odd).add(0x7fff).lanewise(VectorOperators.LSHR, 16);
        VectorMask<Integer> nan = x.lanewise(VectorOperators.AND, 0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
        return rounded.blend(x.lanewise(VectorOperators.LSHR, 16).lanewise(VectorOperators.OR, 0x0040), nan);
    }

    /** Bits of 2^16 (values from 65520 on round to infinity; they are caught by the normal path's carry). */
    private static final int F16_OVER = (127 + 16) << 23;
    /** Below 2^-14 the result is subnormal (or zero). */
    private static final int F16_MIN_NORMAL = 113 << 23;
    /** 0.5: adding it aligns a value below 2^-14 so that float32's own rounding leaves the float16 subnormal in the low bits. */
    private static final int DENORM_MAGIC = ((127 - 15) + (23 - 10) + 1) << 23;

    /**
     * float32 to float16, round to nearest even, as three cases blended: overflow, infinity and NaN
     * (exponent too large); subnormal results (float32's own rounding of {@code |f| + 0.5} does the
     * work); normal results (re-biased exponent, then the fraction rounded by adding 0xfff plus the
     * kept fraction's last bit). The sign goes back last.
     */
    static IntVector toF16(FloatVector f) {
        IntVector x = f.reinterpretAsInts();
        IntVector sign = x.lanewise(VectorOperators.LSHR, 16).lanewise(VectorOperators.AND, 0x8000);
        IntVector a = x.lanewise(VectorOperators.AND, 0x7fffffff);
        // normal
        IntVector odd = a.lanewise(VectorOperators.LSHR, 13).lanewise(VectorOperators.AND, 1);
        IntVector normal = a.add((15 - 127) << 23).add(0xfff).add(odd).lanewise(VectorOperators.LSHR, 13);
        // subnormal
        FloatVector magic = IntVector.broadcast(I, DENORM_MAGIC).reinterpretAsFloats();
        IntVector sub = a.reinterpretAsFloats().add(magic).reinterpretAsInts().sub(DENORM_MAGIC);
        // too large: infinity, or a quiet NaN
        IntVector big = IntVector.broadcast(I, 0x7c00).blend(IntVector.broadcast(I, 0x7e00),
                a.compare(VectorOperators.GT, 0x7f800000));
        IntVector r = normal.blend(sub, a.compare(VectorOperators.LT, F16_MIN_NORMAL));
        r = r.blend(big, a.compare(VectorOperators.GE, F16_OVER));
        return r.lanewise(VectorOperators.OR, sign);
    }
}
