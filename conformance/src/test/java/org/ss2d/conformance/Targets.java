package org.ss2d.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.ss2d.Backends;
import org.ss2d.conformance.cases.ConformanceCase;

/**
 * The backends under test. Without {@code -Dss2d.require} that is every backend on the class path
 * (an unavailable one is skipped with its probe's reason). With {@code -Dss2d.require=NAME} it is NAME
 * alone, and NAME being unavailable fails the run instead of skipping.
 */
final class Targets {
    private Targets() {}

    /**
     * One executor for the whole JVM, so each case's float64 expectation is computed once; the only one
     * whose runs enter the {@link RunLedger} that {@code ProofOfRunTest} checks.
     */
    static final CaseExecutor EXEC = CaseExecutor.keepingLedger();

    static String required() {
        String r = System.getProperty("ss2d.require");
        return r == null || r.isBlank() ? null : r.trim();
    }

    static List<String> names() {
        String r = required();
        return r != null ? List.of(r) : Backends.names();
    }

    /** Null when the backend can run here, else why not. */
    static String unavailable(String name) {
        var e = Backends.list().stream().filter(x -> x.name().equals(name)).findFirst();
        if (e.isEmpty()) return "no backend named \"" + name + "\" on the class path; found " + Backends.names();
        return e.get().available() ? null : e.get().availability().reason();
    }

    /** Backends under test that are available (the required one is checked by {@link #perBackend}). */
    static List<String> available() {
        List<String> out = new ArrayList<>();
        for (String n : names()) if (unavailable(n) == null) out.add(n);
        return out;
    }

    /** {@code [cpu] selective_scan f32 u(2, 4, 33) N=4 G=1 | <case id>} */
    static String displayName(ConformanceCase c, String backend) {
        return "[" + backend + "] " + c.op().key() + " " + c.dtype().name().toLowerCase(java.util.Locale.ROOT) + " "
                + c.shape() + " | " + c.id();
    }

    /**
     * A container per backend under test holding one test per case, or, for a backend that cannot run
     * here, one test that is skipped with the reason (or fails, when that backend is required).
     */
    static Stream<DynamicNode> perBackend(String what, List<? extends ConformanceCase> cases) {
        return names().stream().map(b -> {
            String why = unavailable(b);
            if (why != null) {
                boolean req = b.equals(required());
                return DynamicTest.dynamicTest("[" + b + "] " + what + ": " + (req ? "REQUIRED but unavailable: " : "skipped: ") + why,
                        () -> {
                            if (req) Assertions.fail("-Dss2d.require=" + b + " but " + b + " is unavailable: " + why);
                            // surefire's console shows skip counts only: say why in the build log too
                            System.err.println("[ss2d] conformance " + what + " SKIPPED on " + b + ": " + why);
                            Assumptions.assumeTrue(false, b + " unavailable: " + why);
                        });
            }
            return DynamicContainer.dynamicContainer("[" + b + "] " + what + " (" + cases.size() + " cases)",
                    cases.stream().map(c -> DynamicTest.dynamicTest(displayName(c, b), () -> check(c, b))));
        });
    }

    static CaseResult check(ConformanceCase c, String backend) {
        CaseResult r = EXEC.run(c, backend);
        if (!r.status().ok()) Assertions.fail(r.describe());
        return r;
    }
}
