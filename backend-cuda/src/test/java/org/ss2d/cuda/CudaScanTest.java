package org.ss2d.cuda;

import static org.ss2d.cuda.CudaTests.assertClose;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Selective scan on the GPU against the float64 reference backend, every option, fresh seeded
 * inputs per case, outputs poisoned with NaN. Tolerance: 1e-4 of the largest reference magnitude.
 */
class CudaScanTest {
    private static final double TOL = 1e-4;
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-scan-test");
    }

    /** Inputs die with the scope (arena use); a result tensor left open would still be freed here. */
    @AfterEach
    void close() {
        scope.release();
    }

    /** batch, dim, seqlen, dstate, groups (0: constant B and C, -1: variable 3-D), z, D, bias, softplus, last. */
    record Case(int batch, int dim, int seqlen, int dstate, int groups, boolean z, boolean d, boolean bias,
                boolean softplus, boolean last) {
        @Override
        public String toString() {
            return "Bt=" + batch + " Dm=" + dim + " L=" + seqlen + " N=" + dstate + " G=" + groups + (z ? " z" : "")
                    + (d ? " D" : "") + (bias ? " bias" : "") + (softplus ? " softplus" : "") + (last ? " last" : "");
        }
    }

    static Stream<Case> cases() {
        List<Case> c = new ArrayList<>();
        for (int len : new int[] {1, 2, 127, 129, 2047, 2048, 2049, 5000}) {
            c.add(new Case(2, 8, len, 1, 2, true, true, true, true, true));
            c.add(new Case(1, 8, len, 16, 4, false, true, true, true, true));
        }
        for (int n : new int[] {1, 2, 4, 8, 16, 64, 256}) c.add(new Case(2, 6, 300, n, 2, n % 2 == 0, true, true, true, true));
        c.add(new Case(2, 6, 129, 4, 0, false, true, true, true, true));   // constant B, C: true last state
        c.add(new Case(2, 6, 131, 1, 0, true, false, false, false, true));
        c.add(new Case(2, 4, 200, 3, -1, true, true, false, true, true));  // variable 3-D B, C
        c.add(new Case(3, 64, 1000, 1, 4, false, true, true, true, false)); // many rows: rows-per-warp 2
        c.add(new Case(2, 32, 777, 16, 4, false, true, true, true, true));  // rows-per-warp 4, odd length
        // Enough channels for the pipelined states kernel (ScanLauncherPlanTest pins which one).
        c.add(new Case(4, 2048, 300, 16, 4, true, true, true, true, true));  // pipe, 4 states x 4 lanes
        c.add(new Case(2, 4096, 66, 64, 1, false, true, true, true, true));  // pipe, 8 states x 8 lanes
        c.add(new Case(8, 4352, 64, 16, 4, false, true, true, true, true));  // pipe, 8 states x 2 lanes
        c.add(new Case(8, 4096, 64, 3, 4, true, false, true, false, true));  // pipe, 1 lane per channel
        c.add(new Case(4, 4096, 50, 8, 0, true, true, true, true, true));    // pipe, constant B and C
        c.add(new Case(1, 4096, 37, 256, 1, false, true, true, true, true)); // states, 32 lanes per channel
        // dstate 1, short contiguous rows, enough of them to join 2 and 8 rows per virtual row (n1seg).
        c.add(new Case(8, 2304, 196, 1, 4, false, true, true, true, true));
        c.add(new Case(16, 4224, 100, 1, 4, true, true, true, true, true));
        return c.stream();
    }

    private ScanArgs args(Case k, long seed) {
        long[] bcShape = switch (k.groups()) {
            case 0 -> new long[] {k.dim(), k.dstate()};
            case -1 -> new long[] {k.batch(), k.dstate(), k.seqlen()};
            default -> new long[] {k.batch(), k.groups(), k.dstate(), k.seqlen()};
        };
        Tensor u = RandomWeights.uniform(scope, seed, -1, 1, k.batch(), k.dim(), k.seqlen());
        // Without softplus delta must stay positive; with it, span the threshold region too.
        Tensor delta = k.softplus()
                ? RandomWeights.uniform(scope, seed + 1, -4, 1, k.batch(), k.dim(), k.seqlen())
                : RandomWeights.uniform(scope, seed + 1, 0.001, 0.2, k.batch(), k.dim(), k.seqlen());
        Tensor a = RandomWeights.uniform(scope, seed + 2, -2, -0.1, k.dim(), k.dstate());
        Tensor b = RandomWeights.uniform(scope, seed + 3, -1, 1, bcShape);
        Tensor cc = RandomWeights.uniform(scope, seed + 4, -1, 1, bcShape);
        ScanArgs.Builder builder = ScanArgs.builder(u, delta, a, b, cc).deltaSoftplus(k.softplus())
                .returnLastState(k.last());
        if (k.d()) builder.D(RandomWeights.uniform(scope, seed + 5, 0.5, 1.5, k.dim()));
        if (k.z()) builder.z(RandomWeights.uniform(scope, seed + 6, -2, 2, k.batch(), k.dim(), k.seqlen()));
        if (k.bias()) {
            builder.deltaBias(k.softplus() ? RandomWeights.uniform(scope, seed + 7, -1, 0.5, k.dim())
                    : RandomWeights.uniform(scope, seed + 7, 0, 0.05, k.dim()));
        }
        return builder.build();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void hostTensorsMatchTheReference(Case k) {
        CudaBackend cuda = CudaTests.backend();
        ScanArgs a = args(k, 1000L * k.seqlen() + k.dstate());
        try (ScanArgs.Result ref = Ss2d.on("reference").selectiveScan(scope, a)) {
            Tensor out = scope.allocate(DType.F32, k.batch(), k.dim(), k.seqlen()).fill(Float.NaN);
            Tensor last = k.last() ? scope.allocate(DType.F32, k.batch(), k.dim(), k.dstate()).fill(Float.NaN) : null;
            Ss2d.on(cuda).selectiveScanInto(a, out, last);
            assertClose(out, ref.out(), TOL, k + " out");
            if (k.last()) assertClose(last, ref.lastState(), TOL, k + " last_state");
            out.close();
            if (last != null) last.close();
        }
    }

    /** The same through device tensors: upload once, run on device-poisoned outputs, download once. */
    @Test
    void deviceTensorsMatchTheReference() {
        CudaBackend cuda = CudaTests.backend();
        Ss2d gpu = Ss2d.on(cuda);
        for (Case k : List.of(new Case(2, 8, 2049, 1, 2, true, true, true, true, true),
                new Case(2, 8, 1000, 16, 4, false, true, true, true, true))) {
            ScanArgs h = args(k, 77 + k.dstate());
            Tensor[] t = h.tensors();
            Tensor[] d = new Tensor[t.length];
            for (int i = 0; i < t.length; i++) d[i] = t[i] == null ? null : gpu.toDevice(scope, t[i]);
            ScanArgs dev = new ScanArgs(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], h.deltaSoftplus(),
                    h.returnLastState());
            Tensor out = cuda.allocate(scope, DType.F32, k.batch(), k.dim(), k.seqlen());
            Tensor last = cuda.allocate(scope, DType.F32, k.batch(), k.dim(), k.dstate());
            cuda.diagnostics().fillBits(out, 0x7fc00000);
            cuda.diagnostics().fillBits(last, 0x7fc00000);
            gpu.selectiveScanInto(dev, out, last);
            try (ScanArgs.Result ref = Ss2d.on("reference").selectiveScan(scope, h);
                 Tensor outH = gpu.toHost(scope, out); Tensor lastH = gpu.toHost(scope, last)) {
                assertClose(outH, ref.out(), TOL, k + " device out");
                assertClose(lastH, ref.lastState(), TOL, k + " device last_state");
            }
            out.close();
            last.close();
            for (Tensor x : d) if (x != null) x.close();
        }
    }
}
