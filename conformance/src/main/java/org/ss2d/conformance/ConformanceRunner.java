package org.ss2d.conformance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.ss2d.Backends;
import org.ss2d.conformance.cases.Catalog;
import org.ss2d.conformance.cases.ConformanceCase;
import org.ss2d.conformance.cases.FileCase;
import org.ss2d.conformance.cases.GoldenSet;

/**
 * The conformance run behind {@code ss2d conformance}: the catalog and/or every {@code *.arrow} case file
 * of a folder, on each chosen backend, into a {@link Report} (case x backend: max abs err, max rel err,
 * pass/fail, time).
 *
 * <pre>{@code
 * Report r = ConformanceRunner.run(new ConformanceRunner.Options(List.of("cpu", "cuda"), true, true, Path.of("cases"),
 *         null));
 * System.out.print(r.table());
 * System.exit(r.passed() ? 0 : 1);
 * }</pre>
 */
public final class ConformanceRunner {
    private ConformanceRunner() {}

    /**
     * @param backends names to run on; empty means every backend on the class path (unavailable ones
     *                 are reported as SKIPPED with the probe's reason)
     * @param catalog  whether to run the built-in catalog (seeded cases against the float64 reference)
     * @param golden   whether to run the PyTorch golden vectors packaged in the jar
     * @param casesDir a folder of case files ({@code *.arrow}, recursively), or null
     * @param listener progress callbacks (a progress bar on a terminal), or null
     */
    public record Options(List<String> backends, boolean catalog, boolean golden, Path casesDir, Listener listener) {
        public Options {
            backends = backends == null ? List.of() : List.copyOf(backends);
            listener = listener == null ? Listener.NONE : listener;
        }

        /** {@code ss2d conformance} without {@code --cases}: catalog and golden vectors on {@code backends}. */
        public static Options builtIn(List<String> backends) {
            return new Options(backends, true, true, null, null);
        }
    }

    /** Progress: {@code started} once with the number of (case, backend) cells, then one {@code finished} each. */
    public interface Listener {
        Listener NONE = new Listener() {};

        default void started(int cells) {}

        default void finished(CaseResult result, int done, int cells) {}
    }

    public static Report run(Options o) throws IOException {
        List<String> backends = o.backends().isEmpty() ? Backends.names() : o.backends();
        List<ConformanceCase> cases = new ArrayList<>();
        if (o.catalog()) cases.addAll(Catalog.all());
        if (o.golden()) cases.addAll(GoldenSet.load());
        if (o.casesDir() != null) {
            // Files are opened case by case inside the executor, so a bad one is that case's rejection.
            for (Path p : caseFiles(o.casesDir())) cases.add(new FileCase(p));
        }
        int cells = cases.size() * backends.size();
        o.listener().started(cells);
        List<CaseResult> rows = new ArrayList<>();
        int done = 0;
        CaseExecutor exec = new CaseExecutor();
        for (ConformanceCase c : cases) {
            for (String b : backends) {
                CaseResult r = exec.run(c, b);
                rows.add(r);
                o.listener().finished(r, ++done, cells);
            }
        }
        return new Report(backends, rows);
    }

    /** Every {@code *.arrow} file under {@code dir}, sorted. */
    public static List<Path> caseFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("--cases: " + dir + " is not a folder");
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".arrow")).sorted().toList();
        }
    }
}
