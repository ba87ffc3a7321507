package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;
import org.ss2d.conformance.CaseResult.Status;
import org.ss2d.conformance.cases.Catalog;
import org.ss2d.conformance.cases.ConformanceCase;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.TensorScope;

/**
 * One case of a batch that throws anything short of a JVM crash (an OutOfMemoryError included) is that
 * case's ERROR, and the next case runs. An OutOfMemoryError used to escape the executor and end the
 * batch, losing every result after it.
 */
class BatchIsolationTest {
    /** A case whose inputs cannot be made: {@code thrown} comes out of prepare or of the run. */
    record Throwing(Throwable thrown, boolean inRun) implements ConformanceCase {
        public String id() {
            return "throws " + thrown.getClass().getSimpleName() + (inRun ? " in run" : " in prepare");
        }

        public OpKind op() {
            return OpKind.CROSS_SCAN;
        }

        public DType dtype() {
            return DType.F32;
        }

        public String shape() {
            return "x(1, 1, 1, 1)";
        }

        public int dstate() {
            return 0;
        }

        public Prepared prepare(TensorScope arena) {
            if (!inRun) throw sneaky(thrown);
            return new Prepared() {
                public Map<String, Expected> expected() {
                    return Map.of("out", new Expected(new double[] {1}, OpKind.CROSS_SCAN));
                }

                public Map<String, float[]> run(Ss2d ss) {
                    throw sneaky(thrown);
                }
            };
        }

        @SuppressWarnings("unchecked")
        private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
            throw (T) t;
        }
    }

    @Test
    void aCaseThatRunsOutOfMemoryIsThatCasesErrorAndTheBatchGoesOn() {
        CaseExecutor exec = new CaseExecutor();
        ConformanceCase good = Catalog.all().getFirst();
        for (Throwable t : new Throwable[] {new OutOfMemoryError("Java heap space"), new StackOverflowError(),
                new AssertionError("a kernel's assert"), new IllegalStateException("a bug")}) {
            for (boolean inRun : new boolean[] {false, true}) {
                CaseResult r = exec.run(new Throwing(t, inRun), "reference");
                assertEquals(Status.ERROR, r.status(), r.describe());
                assertTrue(!r.detail().isBlank() && !r.detail().contains("\n"), r.detail());
                assertEquals(Status.PASS, exec.run(good, "reference").status(), "the next case after " + r.caseId());
            }
        }
        CaseResult oom = exec.run(new Throwing(new OutOfMemoryError("Java heap space"), true), "reference");
        assertTrue(oom.detail().startsWith("ran out of memory"), oom.detail());
    }
}
