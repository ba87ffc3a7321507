package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.conformance.cases.Catalog;
import org.ss2d.conformance.cases.ConformanceCase;

/**
 * Proof of what ran (runs after every other class). With {@code -Dss2d.require=NAME}: NAME must be
 * available and every case must have run on NAME. Without: every available backend must have run at
 * least one case, and no case may have run anywhere but on the backend it was meant for.
 */
@Order(Integer.MAX_VALUE)
class ProofOfRunTest {
    @Test
    void everyBackendUnderTestRanCasesAndNothingRanElsewhere() {
        String req = Targets.required();
        if (req != null) {
            String why = Targets.unavailable(req);
            if (why != null) fail("-Dss2d.require=" + req + " but it is unavailable: " + why + " (backends: " + Backends.reasons() + ")");
        }
        // Run the smoke set here too, so the proof holds even when this class runs alone.
        for (String b : Targets.available()) {
            for (ConformanceCase c : Catalog.smoke()) Targets.check(c, b);
        }
        Map<String, Integer> ran = RunLedger.casesByBackend();
        System.out.println("conformance: cases run per backend " + ran + "; backends " + Backends.reasons());
        RunLedger.worstErrors().forEach((k, v) -> System.out.println("conformance: worst rel err " + k + ": " + v));
        assertEquals(Map.of(), RunLedger.mismatches(), "cases that ran on another backend than the one they were meant for");
        for (String b : Targets.available()) {
            assertTrue(ran.getOrDefault(b, 0) > 0, "backend " + b + " is available but ran no case: " + ran);
        }
        if (req != null) {
            assertEquals(java.util.Set.of(req), ran.keySet(), "-Dss2d.require=" + req + ": cases ran on " + ran);
        }
    }

    /**
     * Suites that run cases elsewhere on purpose (the adversarial batch on every backend, fault tests on the
     * reference) use a plain executor: its runs leave the ledger as it was, so they never read as "ran elsewhere".
     */
    @Test
    void aPlainExecutorsRunsStayOutOfTheLedger() {
        Map<String, Integer> before = RunLedger.casesByBackend();
        ConformanceCase c = Catalog.smoke().getFirst();
        CaseResult r = new CaseExecutor().run(c, "reference");
        assertEquals(CaseResult.Status.PASS, r.status(), r.describe());
        assertEquals(before, RunLedger.casesByBackend(), "after " + r.describe());
    }
}
