package org.ss2d.bench.cli;

import java.io.PrintWriter;
import org.ss2d.Backends;
import org.ss2d.report.ReportJson;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** The options every benchmark takes, and the checks that name the option. */
final class Common {
    @Option(names = "--backend", paramLabel = "NAME", defaultValue = "auto",
            description = "backend to time: cpu, cuda, reference or auto (default: ${DEFAULT-VALUE}, the best available)")
    String backend;

    @Option(names = "--threads", paramLabel = "T", defaultValue = "0",
            description = "threads of a host backend (default: 0 = the backend's own, -Dss2d.cpu.threads or all cores)")
    int threads;

    @Option(names = "--warmup", paramLabel = "CALLS",
            description = "untimed calls first (default: as many as fit in 3 s, at least 3)")
    Integer warmup;

    @Option(names = "--reps", paramLabel = "CALLS",
            description = "timed calls; the median is reported (default: 50 on a device backend, 11 on the host)")
    Integer reps;

    @Option(names = "--check-batches", paramLabel = "K", defaultValue = "1",
            description = "batch rows compared with float64 before timing (default: ${DEFAULT-VALUE}; 0 skips the check)")
    int checkBatches;

    @Option(names = "--json", description = "also print the result as one JSON object, on the last line")
    boolean json;

    /** A value out of range: exit 2 with {@code --name: must be >= min, got v}. */
    static void atLeast(CommandLine cl, String option, long value, long min) {
        if (value < min) {
            throw new CommandLine.ParameterException(cl, option + ": must be >= " + min + ", got " + value);
        }
    }

    void check(CommandLine cl) {
        atLeast(cl, "--threads", threads, 0);
        if (warmup != null) atLeast(cl, "--warmup", warmup, 0);
        if (reps != null) atLeast(cl, "--reps", reps, 1);
        atLeast(cl, "--check-batches", checkBatches, 0);
    }

    /** The backend's name (auto resolved), rejecting unknown names with the valid ones (exit 2). */
    String backendName(CommandLine cl) {
        try {
            return backend.equalsIgnoreCase("auto") ? Backends.best().name() : Backends.get(backend).name();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--backend: " + e.getMessage());
        }
    }

    int warmupCalls() {
        return warmup == null ? -1 : warmup; // -1: time-based (Timing.measure)
    }

    int repsFor(String backendName) {
        return reps != null ? reps : Backends.get(backendName).capabilities().deviceResident() ? 50 : 11;
    }

    void printJson(PrintWriter out, Object result) {
        if (json) out.println(ReportJson.line(result));
    }
}
