package org.ss2d.conformance;

import org.ss2d.interop.cases.OpKind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.tensor.DType;

class TolerancesTest {
    @Test
    void nanAndInfinityNeverPass() {
        double[] e = {1, 2, 3};
        assertFalse(Tolerances.compare(e, new float[] {1, Float.NaN, 3}, 1e300).pass());
        assertFalse(Tolerances.compare(e, new float[] {1, 2, Float.POSITIVE_INFINITY}, 1e300).pass());
        assertEquals(1, Tolerances.compare(e, new float[] {1, Float.NaN, 3}, 1).nonFinite());
    }

    @Test
    void nonFiniteTruthMustComeOutNonFiniteInTheSamePlaces() {
        double[] e = {1, Double.NaN, Double.NEGATIVE_INFINITY, 1e39, 1e6};
        // float32 cannot hold 1e39: NaN or an infinity there is right; the scale is that of the finite values
        assertTrue(Tolerances.compare(e, new float[] {1, Float.NaN, Float.NaN, Float.POSITIVE_INFINITY, 1e6f}, 1e-4).pass());
        var finiteWhereNot = Tolerances.compare(e, new float[] {1, 0f, Float.NaN, Float.MAX_VALUE, 1e6f}, 1e300);
        assertFalse(finiteWhereNot.pass());
        assertEquals(2, finiteWhereNot.nonFinite());
        assertEquals(1, finiteWhereNot.worstIndex());
        assertFalse(Tolerances.compare(e, new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN, 1e6f}, 1e300).pass());
        assertEquals(1e6, Tolerances.compare(e, new float[] {1, Float.NaN, Float.NaN, Float.NaN, 1e6f}, 1e-4).scale());
        // two float64 results: 1e39 is a finite number there
        assertFalse(Tolerances.compare(e, new double[] {1, Double.NaN, Double.NaN, Double.POSITIVE_INFINITY, 1e6}, 1e-4).pass());
    }

    @Test
    void budgetIsRelativeToTheLargestExpectedMagnitude() {
        double[] e = {100, 1e-3};
        // An error of 5e-3 on the small element is 5e-5 of the tensor's scale: within 1e-4.
        assertTrue(Tolerances.compare(e, new float[] {100, 1e-3f + 5e-3f}, 1e-4).pass());
        assertFalse(Tolerances.compare(e, new float[] {100.02f, 1e-3f}, 1e-4).pass());
        var c = Tolerances.compare(e, new float[] {100.02f, 1e-3f}, 1e-4);
        assertEquals(0, c.worstIndex());
        assertEquals(2.0e-4, c.maxRelErr(), 1e-6);
    }

    @Test
    void crossScanMustBeExactAndTheTableIsAsDocumented() {
        assertFalse(Tolerances.compare(new double[] {1}, new float[] {Math.nextUp(1f)}, Tolerances.relative(OpKind.CROSS_SCAN, DType.F32)).pass());
        assertEquals(1e-4, Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.F32));
        assertEquals(2e-4, Tolerances.relative(OpKind.SS2D, DType.F32));
        assertEquals(2e-4, Tolerances.relative(OpKind.VSS_BLOCK, DType.F32));
        assertEquals(1e-6, Tolerances.relative(OpKind.CROSS_MERGE, DType.F32));
        assertEquals(2e-4, Tolerances.crossBackend(OpKind.SELECTIVE_SCAN, DType.F32));
    }

    @Test
    void anAllZeroExpectationIsJudgedOnAnAbsoluteScale() {
        assertTrue(Tolerances.compare(new double[] {0, 0}, new float[] {0, 1e-5f}, 1e-4).pass());
        assertFalse(Tolerances.compare(new double[] {0, 0}, new float[] {0, 1e-3f}, 1e-4).pass());
    }

    @Test
    void aLengthMismatchFails() {
        assertFalse(Tolerances.compare(new double[] {1, 2}, new float[] {1}, 1).pass());
    }
}
