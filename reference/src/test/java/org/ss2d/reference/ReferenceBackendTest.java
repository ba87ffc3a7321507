package org.ss2d.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.spi.BackendProvider;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

class ReferenceBackendTest {
    @Test
    void registeredAsReferenceAndNeverPickedByAuto() {
        Backends.Entry e = Backends.list().stream().filter(x -> x.name().equals("reference")).findFirst().orElseThrow();
        BackendProvider p = e.provider();
        assertTrue(e.available());
        assertFalse(p.autoSelectable());
        assertEquals(0, p.rank());
        assertTrue(Backends.autoCandidates().stream().noneMatch(b -> b.name().equals("reference")));
        assertTrue(Backends.get("reference").capabilities().device().contains("float64 reference"));
    }

    @Test
    void facadeOutputsAreTheDoubleResultsRoundedOnce() {
        TensorScope scope = TensorScope.root("ref-facade"); // an arena: inputs and weights die with it
        try {
            int batch = 2, dim = 4, L = 19, n = 3;
            Tensor u = RandomWeights.gaussian(scope, 1, 1, batch, dim, L);
            Tensor delta = RandomWeights.uniform(scope, 2, -3, 1, batch, dim, L);
            Tensor a = RandomWeights.uniform(scope, 3, -2, -0.1, dim, n);
            Tensor b = RandomWeights.gaussian(scope, 4, 1, batch, 2, n, L);
            Tensor c = RandomWeights.gaussian(scope, 5, 1, batch, 2, n, L);
            Tensor d = RandomWeights.gaussian(scope, 6, 1, dim);
            ScanArgs args = ScanArgs.builder(u, delta, a, b, c).D(d).deltaSoftplus(true).returnLastState(true).build();
            Tensor out = scope.allocate(org.ss2d.tensor.DType.F32, batch, dim, L).fill(Float.NaN);
            Tensor last = scope.allocate(org.ss2d.tensor.DType.F32, batch, dim, n).fill(Float.NaN);
            Ss2d ss = Ss2d.on("reference");
            ss.selectiveScanInto(args, out, last);
            assertEquals("reference", ss.lastBackend().name());
            ScanRef.Result r = ScanRef.run(new ScanRef.Problem(batch, dim, L, n, 2, org.ss2d.ops.BCMode.GROUPED,
                    org.ss2d.ops.BCMode.GROUPED, Doubles.of(u), Doubles.of(delta), Doubles.of(a), Doubles.of(b),
                    Doubles.of(c), Doubles.of(d), null, null, true));
            float[] o = out.toFloatArray(), s = last.toFloatArray();
            for (int i = 0; i < o.length; i++) assertEquals((float) r.out()[i], o[i], 0f, "out[" + i + "]");
            for (int i = 0; i < s.length; i++) assertEquals((float) r.lastState()[i], s[i], 0f, "last_state[" + i + "]");

            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(8, 2, 1.0), 3);
            Tensor x = RandomWeights.gaussian(scope, 9, 1, 1, 8, 3, 4);
            Tensor y = scope.allocate(org.ss2d.tensor.DType.F32, 1, 8, 3, 4).fill(Float.NaN);
            ss.ss2dInto(w, x, y);
            double[] expect = SS2DRef.forward(SS2DRef.Params.of(w), Doubles.of(x), 1, 3, 4);
            float[] got = y.toFloatArray();
            for (int i = 0; i < got.length; i++) assertEquals((float) expect[i], got[i], 0f, "ss2d out[" + i + "]");
        } finally {
            scope.release();
        }
    }
}
