package org.ss2d.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Rounding to the 16-bit types: nearest, ties to even, overflow to infinity, NaN kept; element access through Tensor. */
class HalfFloatsTest {

    /** Exact round-to-nearest-even by way of double: the reference the bit tricks are held to. */
    static float bf16Reference(float f) {
        if (Float.isNaN(f) || Float.isInfinite(f) || f == 0f) return f;
        int e = Math.getExponent(f);
        if (e < -126) e = -126; // bfloat16 subnormals share float32's exponent floor
        double ulp = Math.scalb(1.0, e - 7);
        double q = Math.rint(f / ulp) * ulp; // rint: ties to even
        return (float) q; // past bfloat16's largest finite this is float32 infinity or a value that rounds to it
    }

    @Test
    void bfloat16RoundsToNearestEvenOverEveryExponent() {
        SplittableRandom r = new SplittableRandom(13);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f)) continue;
            float got = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(f));
            float want = bf16Reference(f);
            if (Math.abs(want) > 0x1.fep127f) want = Math.copySign(Float.POSITIVE_INFINITY, f); // rounds past the largest finite
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got), () -> Float.toHexString(f));
        }
    }

    @Test
    void bfloat16TiesGoToEven() {
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even one (1); 1 + 3*2^-8 goes up to 1 + 2^-6
        assertEquals(1f, HalfFloats.round(DType.BF16, 1f + 0x1p-8f));
        assertEquals(1f + 0x1p-6f, HalfFloats.round(DType.BF16, 1f + 3 * 0x1p-8f));
        assertEquals(1f + 0x1p-7f, HalfFloats.round(DType.BF16, 1f + 0x1p-8f + 0x1p-20f));
    }

    @Test
    void nanStaysNanAndInfinityStaysInfinity() {
        for (DType d : new DType[] {DType.F16, DType.BF16}) {
            assertTrue(Float.isNaN(HalfFloats.round(d, Float.NaN)), d.name());
            assertTrue(Float.isNaN(HalfFloats.round(d, Float.intBitsToFloat(0x7f800001))), d + " NaN with a low payload");
            assertEquals(Float.NEGATIVE_INFINITY, HalfFloats.round(d, Float.NEGATIVE_INFINITY), d.name());
        }
    }

    @Test
    void float16OverflowsToInfinityPast65504() {
        assertEquals(65504f, HalfFloats.round(DType.F16, 65504f));
        assertEquals(65504f, HalfFloats.round(DType.F16, 65519f)); // below the halfway point to 65536
        assertEquals(Float.POSITIVE_INFINITY, HalfFloats.round(DType.F16, 65520f));
        assertEquals(Float.NEGATIVE_INFINITY, HalfFloats.round(DType.F16, -1e6f));
        assertEquals(0x1p-24f, HalfFloats.round(DType.F16, 0x1p-24f)); // smallest subnormal kept
    }

    @Test
    void halfTensorsStoreRoundedValuesAndReadThemBack() {
        try (TensorScope scope = TensorScope.root("half")) {
            float[] v = {1f + 0x1p-9f, -3.14159f, 70000f, 1e-3f};
            for (DType d : new DType[] {DType.F16, DType.BF16}) {
                Tensor t = scope.fromArray("t", d, v, 2, 2);
                assertEquals(8, t.byteSize());
                for (int i = 0; i < v.length; i++) {
                    assertEquals(HalfFloats.round(d, v[i]), t.getFloat(i), d + " element " + i);
                }
                t.set(2.5f, 1, 1);
                assertEquals(2.5f, t.get(1, 1));
                float[] back = t.toFloatArray();
                assertEquals(HalfFloats.round(d, v[0]), back[0]);
                Tensor f = scope.convert(t, DType.F32);
                assertEquals(back[1], f.getFloat(1));
                t.fill(Float.NaN);
                assertTrue(Float.isNaN(t.getFloat(3)), d.name());
                t.close();
                f.close();
            }
        }
    }
}
