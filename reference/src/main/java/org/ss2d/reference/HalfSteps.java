package org.ss2d.reference;

import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;

/**
 * The rounding of a block or model run with a half {@code dtype} option, for the float64 reference: an activation
 * that a backend holds in that dtype between two steps is rounded to it at the same point here, and the converted
 * weights are the rounded ones, so the comparison judges each backend's arithmetic, not where it stores. In float32
 * nothing is rounded (the float32 reference stays a pure float64 computation).
 */
public final class HalfSteps {
    private HalfSteps() {}

    /** Every value of {@code a} rounded (in place) to {@code dtype} through float32, as a backend stores it; returns a. */
    public static double[] round(double[] a, DType dtype) {
        if (a == null || dtype == DType.F32) return a;
        for (int i = 0; i < a.length; i++) a[i] = HalfFloats.round(dtype, (float) a[i]);
        return a;
    }

    /** A converted weight: a rounded copy of {@code w} (null stays null; float32 returns w itself). */
    public static double[] weight(double[] w, DType dtype) {
        return w == null || dtype == DType.F32 ? w : round(w.clone(), dtype);
    }
}
