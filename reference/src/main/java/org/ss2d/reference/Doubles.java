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

    /**
     * The first {@code count} values of a host float32 tensor widened to double: the leading batches of
     * a row-major tensor, for checking a slice of a large output.
     *
     * @throws IllegalArgumentException if {@code count} is negative or more than the tensor holds
     */
    public static double[] first(Tensor t, long count) {
        if (count < 0 || count > t.elementCount()) {
            throw new IllegalArgumentException("count: expected 0.." + t.elementCount() + " for " + t.describe()
                    + ", found " + count);
        }
        double[] d = new double[Math.toIntExact(count)];
        for (int i = 0; i < d.length; i++) d[i] = t.getFloat(i);
        return d;
    }

    /**
     * {@code max |got - want| / max |want|}, the error measure of the benchmarks' checks: NaN if either
     * side holds a NaN (so NaN never passes a {@code <=} test), 0 for two all-zero arrays, infinity for
     * a non-zero result against an all-zero one.
     *
     * @throws IllegalArgumentException if the lengths differ
     */
    public static double relativeError(float[] got, double[] want) {
        if (got.length != want.length) {
            throw new IllegalArgumentException("got " + got.length + " values, want " + want.length);
        }
        double maxWant = 0, maxDiff = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(got[i]) || Double.isNaN(want[i])) return Double.NaN;
            maxWant = Math.max(maxWant, Math.abs(want[i]));
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        }
        return maxWant == 0 ? (maxDiff == 0 ? 0 : Double.POSITIVE_INFINITY) : maxDiff / maxWant;
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
