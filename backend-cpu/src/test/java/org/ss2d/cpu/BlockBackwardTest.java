package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.ss2d.reference.Doubles.of;

import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.reference.BlockBackwardRef;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.Tensor;

/**
 * The SS2D and VSS block backward of the CPU backend against the float64 adjoint ({@link BlockBackwardRef}, itself
 * checked against PyTorch autograd), every gradient (x and each parameter) within 4e-4 of its largest magnitude;
 * and the same bits twice.
 */
class BlockBackwardTest {
    static final double TOL = 4e-4;
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    @ParameterizedTest(name = "d_model {0}, d_state {1}, ssm_ratio {2}, conv bias {3}, {4}x{5}, batch {6}, vss {7}")
    @CsvSource({"8, 1, 1.0, false, 5, 6, 2, false", "12, 2, 2.0, true, 3, 7, 1, false", "8, 4, 1.0, false, 4, 4, 1, false",
            "8, 1, 1.0, false, 5, 6, 2, true", "12, 2, 2.0, true, 3, 3, 1, true"})
    void matchesTheFloat64Adjoint(int dm, int n, double ratio, boolean bias, int h, int w, int batch, boolean vss) {
        try (Fixture f = new Fixture("block-backward", dm * 31L + n)) {
            SS2DConfig c = SS2DConfig.of(dm, n, ratio).withConvBias(bias);
            Tensor x = f.gauss(1.0, batch, dm, h, w), dout = f.gauss(1.0, batch, dm, h, w);
            Map<String, Tensor> got;
            Map<String, double[]> want;
            if (vss) {
                VSSWeights wt = RandomWeights.vss(f.scope, c, 4.0, 5);
                got = Ss2d.on(backend).vssBlockBackward(f.scope, wt, x, dout);
                want = BlockBackwardRef.vss(VSSRef.Params.of(wt), of(x), of(dout), batch, h, w);
            } else {
                SS2DWeights wt = RandomWeights.ss2d(f.scope, c, 5);
                got = Ss2d.on(backend).ss2dBackward(f.scope, wt, x, dout);
                want = BlockBackwardRef.ss2d(SS2DRef.Params.of(wt), of(x), of(dout), batch, h, w);
            }
            assertEquals(want.keySet(), got.keySet());
            for (var e : want.entrySet()) {
                Checks.close(Fixture.who(backend) + (vss ? " vss_block_backward " : " ss2d_backward ") + c + " " + h + "x" + w
                        + " batch " + batch + " " + e.getKey(), got.get(e.getKey()).toFloatArray(), e.getValue(), TOL);
            }
            f.scope.release();
        }
    }

    @Test
    void sameBitsTwice() {
        try (Fixture f = new Fixture("block-backward-bits", 9)) {
            SS2DConfig c = SS2DConfig.of(8, 2, 1.0);
            VSSWeights wt = RandomWeights.vss(f.scope, c, 4.0, 6);
            Tensor x = f.gauss(1.0, 2, 8, 4, 5), dout = f.gauss(1.0, 2, 8, 4, 5);
            Map<String, Tensor> a = Ss2d.on(backend).vssBlockBackward(f.scope, wt, x, dout);
            Map<String, Tensor> b = Ss2d.on(backend).vssBlockBackward(f.scope, wt, x, dout);
            for (String k : a.keySet()) {
                assertArrayEquals(a.get(k).toFloatArray(), b.get(k).toFloatArray(), Fixture.who(backend) + " " + k);
            }
            f.scope.release();
        }
    }
}
