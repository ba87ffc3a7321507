package org.ss2d.conformance;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.ss2d.conformance.CaseResult.Status;

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

    public String summary() {
        StringBuilder sb = new StringBuilder();
        for (var e : counts().entrySet()) sb.append(e.getKey()).append(": ").append(e.getValue()).append('\n');
        for (var e : worstByBackendAndOp().entrySet()) {
            sb.append("worst ").append(e.getKey()).append(": rel ").append(num(e.getValue().maxRelErr())).append(" (")
                    .append(e.getValue().caseId()).append(")\n");
        }
        sb.append(passed() ? "PASSED" : "FAILED: " + failures().size() + " cell(s)").append('\n');
        return sb.toString();
    }

    /** The full matrix as JSON (hand-written: the library keeps no JSON dependency of its own). */
    public String json() {
        StringBuilder sb = new StringBuilder("{\n  \"passed\": ").append(passed()).append(",\n  \"backends\": [");
        for (int i = 0; i < backends.size(); i++) sb.append(i == 0 ? "" : ", ").append(str(backends.get(i)));
        sb.append("],\n  \"rows\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            CaseResult r = rows.get(i);
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
            List<String> parts = new ArrayList<>();
            for (var e : m.entrySet()) parts.add(str(e.getKey()) + ": " + value(e.getValue()));
            sb.append("    {").append(String.join(", ", parts)).append(i + 1 < rows.size() ? "},\n" : "}\n");
        }
        return sb.append("  ]\n}\n").toString();
    }

    private static String value(Object v) {
        if (v == null) return "null";
        if (v instanceof Double d) return Double.isFinite(d) ? Double.toString(d) : "null";
        return str(v.toString());
    }

    private static String str(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (ch < 0x20) sb.append(String.format(Locale.ROOT, "\\u%04x", (int) ch)); else sb.append(ch);
                }
            }
        }
        return sb.append('"').toString();
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2e", v);
    }

    private static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "~";
    }
}
