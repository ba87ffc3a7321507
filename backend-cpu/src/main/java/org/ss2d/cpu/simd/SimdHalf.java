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
 * Lane-wise conversions between the 16-bit types and float32. The incubator API has no half-float lanes ({@code S2F}
 * converts integers): bfloat16 is float32's upper half (VL shorts loaded, sign-extended to int lanes, shifted up 16,
 * and back with rounding); float16 is re-biased in integer lanes for the scan kernels' chunks ({@link #toArray}), and
 * goes through the JDK's conversions in array loops, which C2 vectorizes to vcvtph2ps/vcvtps2ph, for the bulk
 * conversions and the narrowing. Every conversion is exact (widening) or rounds to nearest with ties to even
 * (narrowing), bit for bit as {@link Float#floatToFloat16} and {@link HalfFloats#floatToBf16}; the tests hold them to that.
 */
final class SimdHalf {
    private SimdHalf() {}

    /** VL shorts: half the width of a float vector. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(VL * 16));

    // ------------------------------------------------------------------ widening

    /**
     * Elements per pass through a thread's array buffers. Vectors are stored into Java arrays and the arrays
     * copied to the segment in bulk: a vector store to a segment inside a loop made C2 re-check the segment
     * per vector (see SimdScan), measured 0.3-0.4 ns/elem for a widening pass that runs at ~0.05 this way.
     */
    private static final int PASS = 2048;

    private static final class Bufs {
        final float[] f = new float[PASS];
        final short[] h = new short[PASS];
    }

    private static final ThreadLocal<Bufs> BUFS = ThreadLocal.withInitial(Bufs::new);

    /** {@code n} elements of {@code dtype} from {@code src[srcOff..]} to float32 {@code dst[dstOff..]} (element offsets). */
    static void toFloat(DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff, int n) {
        Bufs b = BUFS.get();
        float[] buf = b.f;
        for (int done = 0; done < n; done += PASS) {
            int len = Math.min(PASS, n - done);
            if (dtype == DType.F16) {
                MemorySegment.copy(src, JAVA_SHORT_UNALIGNED, (srcOff + done) * 2, b.h, 0, len);
                f16ToFloat(b.h, buf, len);
            } else {
                bf16ToFloat(src, srcOff + done, buf, len);
            }
            MemorySegment.copy(buf, 0, dst, JAVA_FLOAT_UNALIGNED, (dstOff + done) * 4, len);
        }
    }

    /**
     * float16 through the JDK's own conversion: C2 compiles this loop over arrays to the CPU's vector
     * half-float instructions (F16C vcvtph2ps, 16 lanes per instruction with AVX-512), measured ~0.03 ns/elem
     * against ~0.3 for an integer-lane form (exponent re-biased by a multiply by 2^112, infinities and NaN
     * blended in) that we wrote first. Not a scalar loop in the compiled code.
     */
    private static void f16ToFloat(short[] h, float[] f, int len) {
        for (int i = 0; i < len; i++) f[i] = Float.float16ToFloat(h[i]);
    }

    /** The narrowing counterpart (vcvtps2ph, round to nearest even). */
    private static void floatToF16(float[] f, short[] h, int len) {
        for (int i = 0; i < len; i++) h[i] = Float.floatToFloat16(f[i]);
    }

    /** bfloat16 into a float array. */
    private static void bf16ToFloat(MemorySegment src, long srcOff, float[] dst, int n) {
        int bound = F.loopBound(n), i = 0;
        for (; i < bound; i += VL) bf16Lanes(src, srcOff + i).intoArray(dst, i);
        for (; i < n; i++) dst[i] = HalfFloats.bf16ToFloat(src.getAtIndex(JAVA_SHORT_UNALIGNED, srcOff + i));
    }

    /**
     * bfloat16 is float32's upper half: VL 16-bit patterns from element {@code off}, widened to int lanes (the sign
     * extension's upper bits are shifted out) and moved up 16 bits: a load, vpmovsxwd and a shift.
     */
    static FloatVector bf16Lanes(MemorySegment src, long off) {
        return ((IntVector) ShortVector.fromMemorySegment(S, src, off * 2, ORDER).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    // ------------------------------------------------------------------ chunks of a kernel pass

    /**
     * {@code len} elements of a 16-bit dtype at element {@code off} of {@code src} into {@code dst[at..]}, for the scan
     * kernels' L1 chunk buffers (the float32 rows are never staged whole), in Vector API lanes straight from the segment.
     */
    static void toArray(boolean bf16, MemorySegment src, long off, int len, float[] dst, int at) {
        // the lane conversions are written out in the loops, not called: a helper that C2 happens to compile on its
        // own first is then not inlined ("already compiled into a medium method"), and its vectors get boxed (3x slower)
        int bound = F.loopBound(len), i = 0;
        if (bf16) {
            for (; i < bound; i += VL) {
                IntVector x = (IntVector) ShortVector.fromMemorySegment(S, src, (off + i) * 2, ORDER)
                        .convertShape(VectorOperators.S2I, I, 0);
                x.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, at + i);
            }
            for (; i < len; i++) dst[at + i] = HalfFloats.bf16ToFloat(src.getAtIndex(JAVA_SHORT_UNALIGNED, off + i));
        } else {
            for (; i < bound; i += VL) {
                IntVector x = (IntVector) ShortVector.fromMemorySegment(S, src, (off + i) * 2, ORDER)
                        .convertShape(VectorOperators.S2I, I, 0);
                IntVector mag = x.and(0x7fff);
                IntVector moved = mag.lanewise(VectorOperators.LSHL, 13);
                IntVector scaled = moved.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
                IntVector r = scaled.blend(moved.or(0x7f800000), mag.compare(VectorOperators.GE, 0x7c00));
                r.or(x.and(Integer.MIN_VALUE)).reinterpretAsFloats().intoArray(dst, at + i);
            }
            for (; i < len; i++) dst[at + i] = Float.float16ToFloat(src.getAtIndex(JAVA_SHORT_UNALIGNED, off + i));
        }
    }

    /**
     * {@code len} floats of {@code src[at..]} rounded to the 16-bit dtype into element {@code off} of {@code dst}: the
     * narrowing into {@code tmp} (bfloat16 in Vector API lanes, float16 by the JDK's loop, vcvtps2ph), then one bulk
     * copy (a vector store into a segment inside the loop re-checks the segment per vector, see SimdScan).
     */
    static void fromArray(boolean bf16, float[] src, int at, int len, MemorySegment dst, long off, short[] tmp) {
        if (bf16) {
            int bound = F.loopBound(len), i = 0;
            for (; i < bound; i += VL) { // toBf16 written out (see toArray)
                IntVector x = FloatVector.fromArray(F, src, at + i).reinterpretAsInts();
                IntVector up = x.lanewise(VectorOperators.LSHR, 16);
                IntVector rounded = x.add(up.and(1)).add(0x7fff).lanewise(VectorOperators.LSHR, 16);
                IntVector r = rounded.blend(up.or(0x0040), x.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000));
                ((ShortVector) r.convertShape(VectorOperators.I2S, S, 0)).intoArray(tmp, i);
            }
            for (; i < len; i++) tmp[i] = HalfFloats.floatToBf16(src[at + i]);
        } else {
            for (int i = 0; i < len; i++) tmp[i] = Float.floatToFloat16(src[at + i]);
        }
        MemorySegment.copy(tmp, 0, dst, JAVA_SHORT_UNALIGNED, off * 2, len);
    }

    // ------------------------------------------------------------------ narrowing

    /** {@code n} float32 elements of {@code src[srcOff..]} rounded to {@code dtype} into {@code dst[dstOff..]}. */
    static void fromFloat(DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff, int n) {
        Bufs b = BUFS.get();
        short[] buf = b.h;
        for (int done = 0; done < n; done += PASS) {
            int len = Math.min(PASS, n - done);
            if (dtype == DType.F16) {
                MemorySegment.copy(src, JAVA_FLOAT_UNALIGNED, (srcOff + done) * 4, b.f, 0, len);
                floatToF16(b.f, buf, len);
            } else {
                floatToBf16(src, srcOff + done, buf, len);
            }
            MemorySegment.copy(buf, 0, dst, JAVA_SHORT_UNALIGNED, (dstOff + done) * 2, len);
        }
    }

    /** {@code len <= PASS} float32 elements rounded to bfloat16 into {@code dst[0..len)}. */
    private static void floatToBf16(MemorySegment src, long srcOff, short[] dst, int len) {
        int bound = F.loopBound(len), i = 0;
        for (; i < bound; i += VL) store(toBf16(FloatVector.fromMemorySegment(F, src, (srcOff + i) * 4, ORDER)), dst, i);
        for (; i < len; i++) dst[i] = HalfFloats.floatToBf16(src.getAtIndex(JAVA_FLOAT_UNALIGNED, srcOff + i));
    }

    private static void store(IntVector bits16, short[] dst, int off) {
        ((ShortVector) bits16.convertShape(VectorOperators.I2S, S, 0)).intoArray(dst, off);
    }

    /** Round to nearest even on the upper half; a NaN keeps its upper bits and is made quiet. */
    static IntVector toBf16(FloatVector f) {
        IntVector x = f.reinterpretAsInts();
        IntVector odd = x.lanewise(VectorOperators.LSHR, 16).lanewise(VectorOperators.AND, 1);
        IntVector rounded = x.add(odd).add(0x7fff).lanewise(VectorOperators.LSHR, 16);
        VectorMask<Integer> nan = x.lanewise(VectorOperators.AND, 0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
        return rounded.blend(x.lanewise(VectorOperators.LSHR, 16).lanewise(VectorOperators.OR, 0x0040), nan);
    }
}
