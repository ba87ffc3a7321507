package org.ss2d.conformance;

/**
 * One output compared with its expected values.
 *
 * @param maxAbsErr  largest |actual - expected| over the finite elements
 * @param maxRelErr  {@code maxAbsErr / max |expected|} (the quantity the budget bounds)
 * @param scale      {@code max |expected|} over the finite expected elements
 * @param nonFinite  elements NaN or infinite where the expected value is finite, or finite where it is not (never
 *                   passes)
 * @param worstIndex flat index of the worst element (or the first non-finite one)
 */
public record Comparison(double maxAbsErr, double maxRelErr, double scale, int nonFinite, int worstIndex,
                         double tolerance, boolean pass, String detail) {

    /** The worse of two comparisons (a failure beats a pass, then the larger relative error). */
    public Comparison worse(Comparison other) {
        if (other == null) return this;
        if (pass != other.pass) return pass ? other : this;
        if (nonFinite != other.nonFinite) return nonFinite > other.nonFinite ? this : other;
        return maxRelErr >= other.maxRelErr ? this : other;
    }
}
