package org.ss2d.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ss2d.Backends;
import org.ss2d.conformance.CaseResult;
import org.ss2d.conformance.ConformanceRunner;
import org.ss2d.conformance.Report;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ss2d conformance [--backend NAME...] [--cases DIR] [--json FILE]}: the conformance module's
 * {@link ConformanceRunner} (catalog and PyTorch golden vectors, and/or a folder of case files) on each
 * backend, printed as a matrix; exit status 1 when any cell failed.
 */
@Command(name = "conformance", description = "Cross-backend conformance: the case catalog and the PyTorch golden "
        + "vectors (and/or a folder of case files) on every backend, against the float64 reference and the expected outputs.")
final class ConformanceCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--backend", paramLabel = "NAME", split = ",",
            description = "backends to run on (repeatable or comma-separated; default: every backend on the class path)")
    List<String> backends = new ArrayList<>();

    @Option(names = "--cases", paramLabel = "DIR", description = "also run every *.arrow case file under DIR; "
            + "without --catalog, only those")
    Path cases;

    @Option(names = "--catalog", description = "run the built-in catalog and golden vectors (the default without --cases)")
    boolean catalog;

    @Option(names = "--json", paramLabel = "FILE", description = "write the full matrix as JSON")
    Path json;

    @Option(names = "--summary", description = "print only the summary, not one line per case and backend")
    boolean summary;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<String> known = Backends.names();
        for (String b : backends) {
            if (!known.contains(b)) {
                throw new Errors.Rejected("--backend: unknown backend \"" + b + "\"; valid: " + String.join(", ", known));
            }
        }
        if (cases != null && !Files.isDirectory(cases)) {
            throw new Errors.Rejected("--cases: expected a folder of case files, found " + cases
                    + (Files.exists(cases) ? " (not a folder)" : " (no such folder)"));
        }
        boolean builtIn = cases == null || catalog;
        ConformanceRunner.Options o = new ConformanceRunner.Options(backends, builtIn, builtIn, cases,
                System.console() != null ? new Progress(err) : null);
        Report r = ConformanceRunner.run(o);
        out.print(summary ? r.summary() : r.table());
        if (json != null) {
            Files.writeString(json, r.json(), StandardCharsets.UTF_8);
            out.println("matrix written to " + json);
        }
        return r.passed() ? Main.OK : Main.FAILED;
    }

    /** A one-line progress bar on stderr (only on a terminal). */
    private static final class Progress implements ConformanceRunner.Listener {
        private final PrintWriter err;
        private int failed;

        Progress(PrintWriter err) {
            this.err = err;
        }

        @Override
        public void finished(CaseResult result, int done, int cells) {
            if (!result.status().ok()) failed++;
            if (done % 8 != 0 && done != cells) return;
            int width = 30;
            int filled = cells == 0 ? width : done * width / cells;
            char[] bar = new char[width];
            Arrays.fill(bar, 0, filled, '#');
            Arrays.fill(bar, filled, width, '.');
            err.printf(Locale.ROOT, "\r[%s] %d/%d cells, %d failed", new String(bar), done, cells, failed);
            if (done == cells) err.println();
            err.flush();
        }
    }
}
