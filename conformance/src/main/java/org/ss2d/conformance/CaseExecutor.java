package org.ss2d.conformance;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.conformance.CaseResult.Status;
import org.ss2d.conformance.cases.ConformanceCase;
import org.ss2d.conformance.cases.ConformanceCase.Expected;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Runs one case on one backend: fresh inputs in an arena, NaN-poisoned outputs, the op forced onto that
 * backend through the facade, a check that the facade ran it there, and every output compared with its
 * float64 expectation under {@link Tolerances}. Expectations are computed once per case and reused
 * for every backend.
 */
public final class CaseExecutor {
    private final Map<String, Map<String, Expected>> expectedCache = new ConcurrentHashMap<>();
    /**
     * Whether runs enter the {@link RunLedger}: only the conformance suite's own executor, whose runs are
     * the catalog on the backends under test. Suites that deliberately run elsewhere (the adversarial batch
     * on every backend, a fault test on the reference) use a plain executor, so that {@code -Dss2d.require}
     * proves where the catalog ran and is not muddied by them.
     */
    private final boolean keepsLedger;

    /** An executor whose runs are not entered in the {@link RunLedger}. */
    public CaseExecutor() {
        this(false);
    }

    private CaseExecutor(boolean keepsLedger) {
        this.keepsLedger = keepsLedger;
    }

    /** An executor whose runs by backend name are entered in the {@link RunLedger} (the suite's cases). */
    public static CaseExecutor keepingLedger() {
        return new CaseExecutor(true);
    }

    /** Outputs of the last run, for cross-backend comparisons (null when the case did not run). */
    public record Outcome(CaseResult result, Map<String, float[]> actual) {}

    public CaseResult run(ConformanceCase c, String backend) {
        return execute(c, backend).result();
    }

    public Outcome execute(ConformanceCase c, String backend) {
        Backend b;
        try {
            b = Backends.get(backend);
        } catch (RuntimeException e) {
            return new Outcome(result(c, backend, Status.SKIPPED, null, null, Double.NaN, e.getMessage()), null);
        }
        return execute(c, b, keepsLedger);
    }

    /**
     * Runs on a backend instance that need not be on the class path (a test double, say); such runs
     * are not entered in the {@link RunLedger}, which proves what ran among the discovered backends.
     */
    public Outcome execute(ConformanceCase c, Backend b) {
        return execute(c, b, false);
    }

    private Outcome execute(ConformanceCase c, Backend b, boolean ledger) {
        String backend = b.name();
        TensorScope arena = TensorScope.root("conformance");
        ConformanceCase.Prepared p = null;
        try {
            Map<String, Expected> expected;
            try {
                p = c.prepare(arena);
                ConformanceCase.Prepared prepared = p;
                expected = expectedCache.computeIfAbsent(c.id(), k -> prepared.expected());
            } catch (Ss2dArgumentException e) {
                // The case breaks the contract: the same one-line rejection `ss2d run` gives.
                return new Outcome(result(c, backend, Status.INVALID, null, null, Double.NaN, e.getMessage()), null);
            }
            return compare(c, b, ledger, p, expected);
        } catch (Throwable e) {
            // Isolation: whatever one case throws (an OutOfMemoryError included) is that case's failure.
            return new Outcome(result(c, backend, Status.ERROR, null, null, Double.NaN, Failures.describe(e)), null);
        } finally {
            try {
                if (p != null) p.close();
            } catch (RuntimeException ignored) {
                // the case's own outcome is already decided; the arena below frees what is left
            }
            arena.release();
        }
    }

    private Outcome compare(ConformanceCase c, Backend b, boolean ledger, ConformanceCase.Prepared p,
                            Map<String, Expected> expected) {
        String backend = b.name();
        // over the backend's limits: a dstate above its MAX_DSTATE, or an input dtype it does not take
        // (blocks and models: a dtype option the backend does not run them in)
        boolean blockOp = c.op() == org.ss2d.interop.cases.OpKind.SS2D || c.op() == org.ss2d.interop.cases.OpKind.VSS_BLOCK
                || c.op() == org.ss2d.interop.cases.OpKind.VMAMBA;
        java.util.Set<org.ss2d.tensor.DType> dtypes = blockOp ? b.capabilities().blockDtypes() : b.capabilities().dtypes();
        boolean overLimit = c.dstate() > b.capabilities().maxDstate() || !dtypes.contains(c.dtype());
        Ss2d ss = Ss2d.on(b);
        long t0 = System.nanoTime();
        Map<String, float[]> actual;
        try {
            actual = p.run(ss);
        } catch (LimitExceededException e) {
            if (overLimit) {
                return new Outcome(result(c, backend, Status.REJECTED, null, null, Double.NaN, e.getMessage()), null);
            }
            return new Outcome(result(c, backend, Status.FAIL, null, null, Double.NaN,
                    "rejected a case within its limits: " + e.getMessage()), null);
        } catch (Ss2dArgumentException e) {
            return new Outcome(result(c, backend, Status.FAIL, null, null, Double.NaN,
                    "rejected a case the reference accepts: " + e.getMessage()), null);
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        String ranOn = p.ranOn(ss, backend);
        if (ledger) RunLedger.record(backend, ranOn, c.id());
        if (overLimit) {
            return new Outcome(result(c, backend, Status.FAIL, ranOn, null, ms, "dstate " + c.dstate() + " / dtype "
                    + c.dtype() + " is over the backend's limits (MAX_DSTATE " + b.capabilities().maxDstate() + ", dtypes "
                    + dtypes + ") but was not rejected"), actual);
        }
        if (!backend.equals(ranOn)) {
            return new Outcome(result(c, backend, Status.FAIL, ranOn, null, ms, "ran on " + ranOn + ", not " + backend),
                    actual);
        }
        Comparison worst = null;
        String worstName = null;
        for (var e : expected.entrySet()) {
            float[] a = actual.get(e.getKey());
            if (a == null) {
                return new Outcome(result(c, backend, Status.FAIL, ranOn, null, ms, "no output " + e.getKey()), actual);
            }
            Expected want = e.getValue();
            Comparison cmp = Tolerances.compare(want.values(), a,
                    Tolerances.relative(want.op(), want.dtype(), Tolerances.Gemm.of(b), want.blocks()), want.dtype());
            if (ledger) RunLedger.recordError(backend, e.getValue().op().key(), cmp.maxRelErr(), c.id() + " " + e.getKey());
            if (worst == null || cmp.worse(worst) == cmp) {
                worst = cmp;
                worstName = e.getKey();
            }
        }
        if (worst == null) {
            return new Outcome(result(c, backend, Status.FAIL, ranOn, null, ms, "no expected outputs"), actual);
        }
        return new Outcome(result(c, backend, worst.pass() ? Status.PASS : Status.FAIL, ranOn, worst, ms,
                worstName + ": " + worst.detail()), actual);
    }

    private static CaseResult result(ConformanceCase c, String backend, Status s, String ranOn, Comparison cmp, double ms,
                                     String detail) {
        String shape;
        try {
            shape = c.shape();
        } catch (RuntimeException e) {
            shape = "?";
        }
        return new CaseResult(c.id(), safeOp(c), c.dtype().name().toLowerCase(java.util.Locale.ROOT), shape, backend, s,
                ranOn, cmp == null ? Double.NaN : cmp.maxAbsErr(), cmp == null ? Double.NaN : cmp.maxRelErr(),
                cmp == null ? Double.NaN : cmp.tolerance(), ms, detail);
    }

    private static String safeOp(ConformanceCase c) {
        try {
            return c.op().key();
        } catch (RuntimeException e) {
            return "?"; // a file whose kind cannot be read
        }
    }
}
