package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanShape;
import org.ss2d.tensor.DType;

/**
 * The 16-bit kernel {@code ScanLauncher.planHalf} picks for each case of {@code CudaHalfScanTest}'s kernel table, on
 * an H100 (132 SMs, 232448 bytes of opt-in shared memory per block), without a GPU: a case whose shape sends the plan
 * to the widened path fails here rather than on the GPU host. Same parameters as {@code CudaDiagnostics.scanKernelFor}.
 */
class HalfScanPlanTest {
    private static final int H100_SMS = 132;
    private static final int H100_OPTIN = 232448;

    @ParameterizedTest(name = "{7}: {0} out_float32={1} Bt={2} Dm={3} L={4} N={5} G={6}")
    @MethodSource("org.ss2d.cuda.CudaHalfScanTest#kernelCases")
    void eachCaseGetsItsKernelAt132Sms(DType d, boolean oflex, int b, int dm, int l, int n, int g, String expect) {
        ScanShape shape = new ScanShape(b, dm, l, n, g, BCMode.GROUPED, g > 1 ? BCMode.GROUPED : BCMode.CONSTANT);
        String what = d + " out_float32=" + oflex + " " + shape + " at " + H100_SMS + " SMs";
        ScanLauncher.Plan plan = ScanLauncher.planHalf(ScanParams.forShape(shape, true), d == DType.BF16 ? 2 : 1,
                !oflex, H100_SMS);
        assertNotNull(plan, what + ": planned the widened path, expected a kernel containing " + expect);
        assertTrue(plan.kernel().contains(expect), what + ": expected a kernel containing " + expect + ", planned "
                + plan.kernel());
        assertTrue(plan.sharedBytes() <= H100_OPTIN, what + ": " + plan.kernel() + " needs " + plan.sharedBytes()
                + " bytes of shared memory");
    }
}
