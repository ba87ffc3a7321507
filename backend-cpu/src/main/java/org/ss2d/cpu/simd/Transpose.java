package org.ss2d.cpu.simd;

import static org.ss2d.cpu.simd.SimdConstants.F;
import static org.ss2d.cpu.simd.SimdConstants.I;
import static org.ss2d.cpu.simd.SimdConstants.VL;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * 16 x 16 float tile transposes in registers, for the channel-lane scan's [channel][time] <-> [time][channel]
 * tiles (the scalar loops they replace were ~17% of the S5 scan). Four butterfly stages of two-source
 * permutes (IntVector.selectFrom(v1, v2), one vpermi2d/vpermt2d each): stage s swaps the off-diagonal s x s
 * blocks of every 2s x 2s block. Int, not float, indexes: a float index vector is converted to int at every use.
 * Only for 16 lanes ({@link #ON}); the narrower test widths keep the scalar loops.
 */
final class Transpose {
    private Transpose() {}

    static final boolean ON = VL == 16;

    private static final IntVector LO8 = index(8, false), HI8 = index(8, true), LO4 = index(4, false),
            HI4 = index(4, true), LO2 = index(2, false), HI2 = index(2, true), LO1 = index(1, false),
            HI1 = index(1, true);

    /** Lanes of the first (lo) or second (hi) output of a stage-s pair; indexes >= lanes pick the second input. */
    private static IntVector index(int s, boolean hi) {
        int n = I.length();
        int[] x = new int[n];
        for (int j = 0; j < n; j++) {
            boolean low = (j & s) == 0;
            x[j] = (hi ? (low ? j + s : j + n) : (low ? j : j - s + n)) % (2 * n);
        }
        return IntVector.fromArray(I, x, 0);
    }

    private static IntVector load(float[] a, int i) {
        return FloatVector.fromArray(F, a, i).reinterpretAsInts();
    }

    private static void store(IntVector v, float[] a, int i) {
        v.reinterpretAsFloats().intoArray(a, i);
    }

    /**
     * {@code dst[dOff + t * ds + c] = src[sOff + c * ss + t]} for c, t in [0, 16), through {@code tmp} (256 floats):
     * stages 8 and 4 into tmp, then 2 and 1 (the stages commute), each on four groups of four rows. Four rows
     * per call, from one call site in a loop, because C2 stops inlining at its node budget
     * (NodeCountInliningCutoff): the 16-row methods tried first got their vectors boxed (2x slower than scalar).
     */
    static void tile(float[] src, int sOff, int ss, float[] dst, int dOff, int ds, float[] tmp) {
        for (int g = 0; g < 4; g++) quad(src, sOff + g * ss, 8 * ss, 4 * ss, tmp, g * 16, 128, 64, false);
        for (int g = 0; g < 16; g += 4) quad(tmp, g * 16, 32, 16, dst, dOff + g * ds, 2 * ds, ds, true);
    }

    /**
     * Two butterfly stages on rows at offsets 0, a, b and a + b: rows a apart pair in stage 8 (or 2 when
     * {@code second}), rows b apart in stage 4 (or 1). The indexes are picked here from the constants, not
     * passed in: a parameter typed IntVector left C2 no static binding for selectFrom (not inlined, boxed).
     */
    private static void quad(float[] src, int s0, int sa, int sb, float[] dst, int d0, int da, int db, boolean second) {
        final IntVector loA = second ? LO2 : LO8, hiA = second ? HI2 : HI8, loB = second ? LO1 : LO4, hiB = second ? HI1 : HI4;
        IntVector x0 = load(src, s0), xa = load(src, s0 + sa), xb = load(src, s0 + sb), xab = load(src, s0 + sa + sb);
        IntVector y0 = loA.selectFrom(x0, xa), ya = hiA.selectFrom(x0, xa);
        IntVector yb = loA.selectFrom(xb, xab), yab = hiA.selectFrom(xb, xab);
        store(loB.selectFrom(y0, yb), dst, d0);
        store(hiB.selectFrom(y0, yb), dst, d0 + db);
        store(loB.selectFrom(ya, yab), dst, d0 + da);
        store(hiB.selectFrom(ya, yab), dst, d0 + da + db);
    }
}
