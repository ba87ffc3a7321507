package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.ReferenceProvider;
import org.ss2d.reference.VMambaRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;

/**
 * Whole VMamba models on every backend that runs them against the float64 {@link VMambaRef}: each of
 * the nine released configurations, batch 2, logits and the four stage features (through outnorms),
 * outputs poisoned with NaN first. VMamba-T[s1l8] runs at 64x64, the others at 32x32 (stage maps 8x8
 * down to 1x1) to keep CI within its time: the float64 oracle is plain loops. The tiny ones run at full
 * depth; small and base differ from them only in widths and in the depth of stage 3, so they run with
 * stage 3 cut to 2 blocks (their widths, d_state, ratios, stems and downsampling are all exercised).
 */
class VMambaConformanceTest {
    static final int BATCH = 2;

    static VMambaConfig testConfig(String name) {
        VMambaConfig c = VMambaConfig.named(name);
        return name.contains("tiny") ? c : c.withDepths(2, 2, 2, 2);
    }

    @TestFactory
    Stream<DynamicTest> releasedConfigurationsAgainstFloat64() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String backend : Targets.names()) {
            if (backend.equals(ReferenceProvider.NAME)) continue; // the oracle itself
            for (String name : VMambaConfig.RELEASED) {
                int size = name.equals("vmamba_tiny_s1l8") ? 64 : 32;
                tests.add(DynamicTest.dynamicTest("[" + backend + "] vmamba " + name + " x(" + BATCH + ", 3, " + size + ", "
                        + size + ")", () -> check(backend, name, testConfig(name), size)));
            }
        }
        return tests.stream();
    }

    static void check(String backend, String name, VMambaConfig c, int size) {
        String why = Targets.unavailable(backend);
        boolean required = backend.equals(Targets.required());
        if (why != null) {
            if (required) Assertions.fail("-Dss2d.require=" + backend + " but it is unavailable: " + why);
            Assumptions.assumeTrue(false, backend + " unavailable: " + why);
        }
        try (TensorScope scope = TensorScope.root("vmamba-conformance")) {
            VMambaWeights w = VMambaRandomWeights.withOutNorms(scope, VMambaRandomWeights.of(scope, c, 17), 18);
            Tensor x = RandomWeights.gaussian(scope, 19, 1.0, BATCH, 3, size, size);
            VMambaModel model;
            try {
                model = Ss2d.on(backend).vmamba(w);
            } catch (LimitExceededException e) {
                // a backend without whole-model support is skipped with that reason, unless it is the required one
                // (every backend of this project runs whole models: cpu, reference and, since issue 12, cuda)
                if (required) throw e;
                System.err.println("[ss2d] vmamba SKIPPED on " + backend + ": " + e.getMessage());
                Assumptions.assumeTrue(false, backend + ": " + e.getMessage());
                return;
            }
            try (model) {
                Tensor logits = scope.allocate(DType.F32, BATCH, c.numClasses()).fill(Float.NaN);
                long t0 = System.nanoTime();
                model.logitsInto(x, logits);
                long t1 = System.nanoTime();
                double[] xd = Doubles.of(x);
                VMambaRef.Result ref = VMambaRef.forward(w, xd, BATCH, size, size);
                double[] want = ref.logits();
                long t2 = System.nanoTime();
                double tol = Tolerances.VMAMBA_F32;
                Comparison r = Tolerances.compare(want, logits.toFloatArray(), tol);
                System.err.printf(java.util.Locale.ROOT, "[ss2d] vmamba %s on %s: rel %.3e (budget %.0e), %s %.0f ms, reference %.0f ms%n",
                        name, backend, r.maxRelErr(), tol, backend, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
                assertTrue(r.pass(), "[" + backend + "] vmamba " + name + " " + c + " logits: " + r.detail());

                List<Tensor> f = model.features(scope, x);
                List<double[]> fw = ref.features();
                int[][] g = c.grids(size, size);
                for (int i = 0; i < VMambaConfig.STAGES; i++) {
                    assertEquals(List.of((long) BATCH, (long) c.dim(i), (long) g[i][0], (long) g[i][1]),
                            java.util.Arrays.stream(f.get(i).shape()).boxed().toList());
                    Comparison fr = Tolerances.compare(fw.get(i), f.get(i).toFloatArray(), tol);
                    assertTrue(fr.pass(), "[" + backend + "] vmamba " + name + " features[" + i + "]: " + fr.detail());
                }
            }
            scope.release();
        }
    }
}
