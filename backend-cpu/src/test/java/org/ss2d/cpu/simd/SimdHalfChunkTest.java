package org.ss2d.cpu.simd;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;

/**
 * The chunk conversions the half scan kernels use ({@link SimdHalf#toArray}: bfloat16 shifted, float16 re-biased in
 * integer lanes; {@link SimdHalf#fromArray}) bit for bit against the JDK's and HalfFloats' scalar conversions: every
 * 16-bit pattern at an odd offset with a tail shorter than a vector, and narrowing of random, subnormal, halfway and
 * out-of-range floats. A NaN only has to stay NaN.
 */
@Tag("width")
class SimdHalfChunkTest {
    @Test
    void chunkConversionsAreBitExact() {
        assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "no Vector API in this JVM");
        int n = 65536 + 13, off = 3;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment halves = arena.allocate(2L * (n + off));
            for (int i = 0; i < n; i++) halves.setAtIndex(ValueLayout.JAVA_SHORT, off + i, (short) i);
            float[] got = new float[n + 5];
            short[] tmp = new short[n];
            for (DType d : new DType[] {DType.F16, DType.BF16}) {
                SimdHalf.toArray(d == DType.BF16, halves, off, n, got, 5);
                for (int i = 0; i < n; i++) {
                    float want = HalfFloats.toFloat(d, (short) i), g = got[5 + i];
                    boolean ok = Float.isNaN(want) ? Float.isNaN(g) : Float.floatToRawIntBits(want) == Float.floatToRawIntBits(g);
                    if (!ok) {
                        fail(SimdConstants.BITS + "-bit " + d + " widening of 0x" + Integer.toHexString(i & 0xffff) + ": got "
                                + Float.toHexString(g) + ", expected " + Float.toHexString(want));
                    }
                }
            }
            SplittableRandom r = new SplittableRandom(9);
            float[] f = new float[n + 7];
            MemorySegment out = arena.allocate(2L * (n + off));
            for (int round = 0; round < 6; round++) {
                for (int i = 0; i < n; i++) {
                    f[7 + i] = switch (round) {
                        case 0 -> Float.intBitsToFloat(r.nextInt());
                        case 1 -> (float) (r.nextGaussian() * 70000);
                        case 2 -> (float) (r.nextGaussian() * 1e-5); // float16 subnormals
                        case 3 -> Float.intBitsToFloat(Float.floatToRawIntBits(Float.float16ToFloat((short) i)) + (1 << 12));
                        case 4 -> Float.intBitsToFloat((i << 16) | 0x8000); // bfloat16 halfway
                        default -> 65504f + r.nextInt(-40, 40);
                    };
                }
                for (DType d : new DType[] {DType.F16, DType.BF16}) {
                    SimdHalf.fromArray(d == DType.BF16, f, 7, n, out, off, tmp);
                    for (int i = 0; i < n; i++) {
                        short g = out.getAtIndex(ValueLayout.JAVA_SHORT, off + i), want = HalfFloats.fromFloat(d, f[7 + i]);
                        boolean ok = Float.isNaN(f[7 + i]) ? Float.isNaN(HalfFloats.toFloat(d, g)) : g == want;
                        if (!ok) {
                            fail(SimdConstants.BITS + "-bit " + d + " narrowing of " + Float.toHexString(f[7 + i]) + ": got 0x"
                                    + Integer.toHexString(g & 0xffff) + ", expected 0x" + Integer.toHexString(want & 0xffff));
                        }
                    }
                }
            }
        }
    }
}
