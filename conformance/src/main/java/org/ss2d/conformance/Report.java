package org.ss2d.conformance;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.ss2d.conformance.CaseResult.Status;
import org.ss2d.report.ReportJson;

/** The case x backend matrix of a conformance run, as a text table or JSON. */
public record Report(List<String> backends, List<CaseResult> rows) {
    public Report {
        backends = List.copyOf(backends);
        rows = List.copyOf(rows);
    }

    /** No FAIL, ERROR or INVALID (SKIPPED backends do not fail a run; REJECTED is the expected outcome over a limit). */
    public boolean passed() {
        return rows.stream().noneMatch(r -> r.status() == Status.FAIL || r.status() == Status.ERROR || r.status() == Status.INVALID);
    }

    public List<CaseResult> failures() {
        return rows.stream().filter(r -> r.status() == Status.FAIL || r.status() == Status.ERROR || r.status() == Status.INVALID).toList();
    }

    /** Cells not run because the backend is unavailable here (the reason is in each detail). */
    public List<CaseResult> skipped() {
        return rows.stream().filter(r -> r.status() == Status.SKIPPED).toList();
    }

    /** Count per backend and status. */
    public Map<String, Map<Status, Integer>> counts() {
        Map<String, Map<Status, Integer>> m = new TreeMap<>();
        for (CaseResult r : rows) m.computeIfAbsent(r.backend(), k -> new TreeMap<>()).merge(r.status(), 1, Integer::sum);
        return m;
    }

    /** Worst relative error per backend and op, over the cases that ran. */
    public Map<String, CaseResult> worstByBackendAndOp() {
        Map<String, CaseResult> m = new TreeMap<>();
        for (CaseResult r : rows) {
            if (Double.isNaN(r.maxRelErr())) continue;
            m.merge(r.backend() + " " + r.op(), r, (a, b) -> a.maxRelErr() >= b.maxRelErr() ? a : b);
        }
        return m;
    }

    /** One line per (case, backend), then the summary. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-9s %-10s %-14s %-34s %-10s %-10s %-8s %9s%n", "status", "backend", "op",
                "shape", "max abs", "max rel", "budget", "ms"));
        for (CaseResult r : rows) {
            sb.append(String.format(Locale.ROOT, "%-9s %-10s %-14s %-34s %-10s %-10s %-8s %9s  %s%n", r.status(), r.backend(),
                    r.op(), clip(r.shape(), 34), num(r.maxAbsErr()), num(r.maxRelErr()), num(r.tolerance()),
                    Double.isNaN(r.millis()) ? "-" : String.format(Locale.ROOT, "%.2f", r.millis()),
                    r.status().ok() && r.status() != Status.REJECTED ? r.caseId() : r.caseId() + ": " + r.detail()));
        }
        sb.append(summary());
        return sb.toString();
    }

    /**
     * Cells per backend and status, the worst relative error per backend and op, and the verdict:
     * <pre>
     * BACKEND    PASS  REJECTED  FAIL  INVALID  ERROR  SKIPPED
     * cpu         455         0     0        0      0        0
     *
     * WORST      OP              MAX REL   CASE
     * cpu        selective_scan  3.1e-06   ...
     * PASSED
     * </pre>
     */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-10s", "BACKEND"));
        for (Status s : Status.values()) sb.append(String.format(Locale.ROOT, " %9s", s.name()));
        sb.append('\n');
        for (var e : counts().entrySet()) {
            sb.append(String.format(Locale.ROOT, "%-10s", e.getKey()));
            for (Status s : Status.values()) sb.append(String.format(Locale.ROOT, " %9d", e.getValue().getOrDefault(s, 0)));
            sb.append('\n');
        }
        if (!worstByBackendAndOp().isEmpty()) {
            sb.append(String.format(Locale.ROOT, "%n%-10s %-16s %-9s %s%n", "WORST", "OP", "MAX REL", "CASE"));
            for (CaseResult r : worstByBackendAndOp().values()) {
                sb.append(String.format(Locale.ROOT, "%-10s %-16s %-9s %s%n", r.backend(), r.op(), num(r.maxRelErr()), r.caseId()));
            }
        }
        sb.append(passed() ? "PASSED" : "FAILED: " + failures().size() + " cell(s)").append('\n');
        return sb.toString();
    }

    /** The full matrix as JSON (the project's one report writer, {@link ReportJson}). */
    public String json() {
        List<Map<String, Object>> cells = new ArrayList<>();
        for (CaseResult r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("case", r.caseId());
            m.put("op", r.op());
            m.put("dtype", r.dtype());
            m.put("shape", r.shape());
            m.put("backend", r.backend());
            m.put("status", r.status().name());
            m.put("ran_on", r.ranOn());
            m.put("max_abs_err", r.maxAbsErr());
            m.put("max_rel_err", r.maxRelErr());
            m.put("tolerance", r.tolerance());
            m.put("ms", r.millis());
            m.put("detail", r.detail());
            cells.add(m);
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("passed", passed());
        report.put("backends", backends);
        report.put("rows", cells);
        return ReportJson.pretty(report);
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2e", v);
    }

    private static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "~";
    }
}
