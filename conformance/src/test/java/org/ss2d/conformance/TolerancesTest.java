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
    void halfOutputsAddOneRoundingOfTheirDtypeAndTf32ItsOwnBudget() {
        assertEquals(1e-4 + 0x1p-11, Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.F16));
        assertEquals(1e-4 + 0x1p-8, Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.BF16));
        assertEquals(0.0, Tolerances.relative(OpKind.CROSS_SCAN, DType.BF16), "a permutation stays exact");
        assertEquals(2e-4 + Tolerances.TF32_BLOCK, Tolerances.relative(OpKind.SS2D, DType.F32, Tolerances.Gemm.TF32));
        assertEquals(1e-4, Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.F32, Tolerances.Gemm.TF32), "a scan has no products");
        // one bfloat16 rounding of the largest value passes, two do not
        double[] e = {1000.0, 3.0};
        float got = (float) (1000.0 * (1 + 0x1p-8));
        assertTrue(Tolerances.compare(e, new float[] {got, 3f}, Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.BF16), DType.BF16).pass());
        float twice = (float) (1000.0 * (1 + 0x1p-7));
        assertFalse(Tolerances.compare(e, new float[] {twice, 3f}, Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.BF16), DType.BF16).pass());
    }

    @Test
    void opsWithRoundedIntermediatesAddAFlipPerBlockInQuadrature() {
        double u16 = 0x1p-11, u8 = 0x1p-8;
        assertEquals(org.ss2d.reference.HalfRounding.SINGLE, Tolerances.rounding(OpKind.SELECTIVE_SCAN));
        assertEquals(org.ss2d.reference.HalfRounding.STAGED, Tolerances.rounding(OpKind.VSS_BLOCK));
        // a block: its output's rounding plus one ulp (2u) of a flip on the residual path
        assertEquals(2e-4 + 3 * u16, Tolerances.relative(OpKind.SS2D, DType.F16), 1e-15);
        assertEquals(2e-4 + 3 * u8, Tolerances.relative(OpKind.VSS_BLOCK, DType.BF16), 1e-15);
        assertEquals(2e-4 + 3 * u8, Tolerances.relative(OpKind.VSS_BLOCK, DType.BF16, Tolerances.Gemm.FLOAT32, 9), 1e-15,
                "a block's output is one block away whatever the caller says");
        // a model: u (1 + 2 sqrt(D)) for an output through D blocks; float32 and the scan do not move
        assertEquals(2e-4 + 9 * u8, Tolerances.relative(OpKind.VMAMBA, DType.BF16, Tolerances.Gemm.FLOAT32, 16), 1e-15);
        assertEquals(2e-4 + 3 * u16, Tolerances.relative(OpKind.VMAMBA, DType.F16), 1e-15);
        assertEquals(Tolerances.VMAMBA_F32, Tolerances.relative(OpKind.VMAMBA, DType.F32, Tolerances.Gemm.FLOAT32, 16));
        assertEquals(1e-4 + u8, Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.BF16, Tolerances.Gemm.FLOAT32, 16));
        assertEquals(14, org.ss2d.reference.HalfRounding.blocksThrough(new int[] {2, 2, 8, 2}, 3));
        assertEquals(1, org.ss2d.reference.HalfRounding.blocksThrough(new int[] {0, 2, 8, 2}, 0), "the stem rounds too");
    }

    @Test
    void aFloat16OutputIsInfiniteExactlyWhereTheExpectedValuePassesItsRange() {
        double[] e = {70000, -1e5, 65504, 3};
        double tol = Tolerances.relative(OpKind.SELECTIVE_SCAN, DType.F16);
        float inf = Float.POSITIVE_INFINITY;
        assertTrue(Tolerances.compare(e, new float[] {inf, -inf, 65504f, 3f}, tol, DType.F16).pass());
        assertFalse(Tolerances.compare(e, new float[] {65504f, -inf, 65504f, 3f}, tol, DType.F16).pass(),
                "a finite float16 where the value is past 65504 is wrong");
        assertFalse(Tolerances.compare(e, new float[] {inf, -inf, 65504f, 3f}, tol, DType.F32).pass(),
                "the same infinities from a float32 output are wrong");
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
