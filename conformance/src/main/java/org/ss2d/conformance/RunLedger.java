package org.ss2d.conformance;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Proof of what ran: for every case executed in this JVM by a ledger-keeping executor ({@link
 * CaseExecutor#keepingLedger()}, the suite's catalog runs), the backend it was meant for and the one the
 * facade says ran it. {@code ProofOfRun} checks it against {@code -Dss2d.require}.
 */
public final class RunLedger {
    private RunLedger() {}

    private static final Map<String, AtomicInteger> RAN = new ConcurrentHashMap<>();
    private static final Map<String, String> MISMATCHES = new ConcurrentHashMap<>();

    static void record(String intended, String ranOn, String caseId) {
        RAN.computeIfAbsent(ranOn == null ? "(none)" : ranOn, k -> new AtomicInteger()).incrementAndGet();
        if (ranOn != null && !ranOn.equals(intended)) {
            MISMATCHES.putIfAbsent(caseId + " for " + intended, ranOn);
        }
    }

    private static final Map<String, Object[]> WORST = new ConcurrentHashMap<>();

    /** Keeps the largest relative error seen per backend and op (for the closing summary). */
    static void recordError(String backend, String op, double rel, String caseId) {
        if (Double.isNaN(rel)) return;
        WORST.merge(backend + " " + op, new Object[] {rel, caseId},
                (a, b) -> (double) a[0] >= (double) b[0] ? a : b);
    }

    /** {@code "cpu selective_scan" -> "3.1e-06 (case id)"}, sorted. */
    public static Map<String, String> worstErrors() {
        Map<String, String> m = new TreeMap<>();
        WORST.forEach((k, v) -> m.put(k, String.format(java.util.Locale.ROOT, "%.2e (%s)", (double) v[0], v[1])));
        return m;
    }

    /** Cases run, by the backend that ran them. */
    public static Map<String, Integer> casesByBackend() {
        Map<String, Integer> m = new TreeMap<>();
        RAN.forEach((k, v) -> m.put(k, v.get()));
        return m;
    }

    /** Case (and intended backend) to the backend that actually ran it, where they differ. */
    public static Map<String, String> mismatches() {
        return new TreeMap<>(MISMATCHES);
    }
}
