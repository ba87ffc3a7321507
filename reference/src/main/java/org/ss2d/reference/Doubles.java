package org.ss2d.reference;

import org.ss2d.tensor.Tensor;

/** Conversions between float32 host tensors and the double arrays the reference computes on. */
public final class Doubles {
    private Doubles() {}

    /** The tensor's values widened to double (exactly), or null for a null tensor. */
    public static double[] of(Tensor t) {
        if (t == null) return null;
        return widen(t.toFloatArray());
    }

    public static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** Each value rounded to the nearest float. */
    public static float[] narrow(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    /** Writes {@code values} rounded to float32 into {@code out}. */
    public static void store(double[] values, Tensor out) {
        out.copyFrom(narrow(values));
    }
}
