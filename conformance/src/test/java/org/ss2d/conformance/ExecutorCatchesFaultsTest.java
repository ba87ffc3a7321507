package org.ss2d.conformance;

import org.ss2d.interop.cases.OpKind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.conformance.CaseResult.Status;
import org.ss2d.conformance.cases.BlockCase;
import org.ss2d.conformance.cases.ConformanceCase;
import org.ss2d.conformance.cases.CrossCase;
import org.ss2d.conformance.cases.ScanCase;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.Tensor;

/**
 * The suite must catch a wrong backend: these test doubles wrap the reference and then break one
 * output element (leave it unwritten, nudge it just past the budget), or ignore MAX_DSTATE.
 */
class ExecutorCatchesFaultsTest {
    /** The reference, then {@code damage} applied to every output it wrote. */
    record Faulty(String name, Consumer<Tensor> damage, Capabilities caps) implements Backend {
        Faulty(String name, Consumer<Tensor> damage) {
            this(name, damage, Backends.get("reference").capabilities());
        }

        static Backend ref() {
            return Backends.get("reference");
        }

        @Override
        public Capabilities capabilities() {
            return caps;
        }

        @Override
        public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
            ref().selectiveScan(args, shape, out, lastState);
            damage.accept(out);
        }

        @Override
        public void crossScan(Tensor x, Tensor out) {
            ref().crossScan(x, out);
            damage.accept(out);
        }

        @Override
        public void crossMerge(Tensor ys, Tensor out) {
            ref().crossMerge(ys, out);
            damage.accept(out);
        }

        @Override
        public void ss2d(SS2DWeights w, Tensor x, Tensor out) {
            ref().ss2d(w, x, out);
            damage.accept(out);
        }

        @Override
        public void vssBlock(VSSWeights w, Tensor x, Tensor out) {
            ref().vssBlock(w, x, out);
            damage.accept(out);
        }
    }

    static final ConformanceCase SCAN = new ScanCase(2, 4, 33, 4, 2, BCMode.GROUPED, BCMode.GROUPED, true, true, true, true,
            true, ScanCase.Inputs.NORMAL, 42);
    static final ConformanceCase[] CASES = {SCAN, new CrossCase(OpKind.CROSS_SCAN, 1, 2, 3, 4, 43),
            new CrossCase(OpKind.CROSS_MERGE, 1, 2, 3, 4, 44), BlockCase.ss2d(SS2DConfig.of(8, 1, 1.0), 1, 3, 4, 45),
            BlockCase.vss(SS2DConfig.of(8, 1, 1.0), 1, 3, 4, 46)};

    @Test
    void anUnwrittenElementFails() {
        Faulty lazy = new Faulty("lazy", t -> t.setFloat(t.elementCount() - 1, Float.NaN)); // left as poisoned
        for (ConformanceCase c : CASES) {
            CaseResult r = new CaseExecutor().execute(c, lazy).result();
            assertEquals(Status.FAIL, r.status(), r.describe());
            assertTrue(r.detail().contains("non-finite"), r.describe());
        }
    }

    @Test
    void anErrorJustOverTheBudgetFailsAndJustUnderPasses() {
        for (ConformanceCase c : CASES) {
            double tol = Tolerances.relative(c.op(), c.dtype());
            for (double factor : new double[] {3.0, 0.25}) {
                Faulty nudge = new Faulty("nudge", t -> {
                    float max = 0;
                    for (float v : t.toFloatArray()) max = Math.max(max, Math.abs(v));
                    // cross_scan's budget is 0: any change of one ulp of the largest value must fail
                    float step = tol == 0 ? Math.ulp(max) : (float) (factor * tol * max);
                    if (tol == 0 && factor < 1) return;
                    t.setFloat(0, t.getFloat(0) + step);
                });
                CaseResult r = new CaseExecutor().execute(c, nudge).result();
                assertEquals(factor > 1 ? Status.FAIL : Status.PASS, r.status(), "x" + factor + ": " + r.describe());
            }
        }
    }

    @Test
    void aCaseOverTheBackendsLimitMustBeRejectedNotComputed() {
        Capabilities limited = new Capabilities(16, java.util.Set.of(org.ss2d.tensor.DType.F32), false, "test", 0, false, 1);
        ConformanceCase big = new ScanCase(1, 2, 5, 17, 1, BCMode.VARIABLE, BCMode.VARIABLE, false, false, false, false, false,
                ScanCase.Inputs.NORMAL, 47);
        // Honest: the facade validates against the capabilities, so 17 > 16 is rejected.
        CaseResult ok = new CaseExecutor().execute(big, new Faulty("limited", t -> {}, limited)).result();
        assertEquals(Status.REJECTED, ok.status(), ok.describe());
        assertTrue(ok.detail().contains("MAX_DSTATE=16"), ok.describe());
    }
}
