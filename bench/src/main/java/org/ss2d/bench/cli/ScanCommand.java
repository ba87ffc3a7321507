package org.ss2d.bench.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ss2d.bench.ScanBench;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ss2d bench scan}: the selective scan as the C anchor runs it (grouped B/C, D, delta_bias, softplus). */
@Command(name = "scan", sortOptions = false,
        description = {"Selective scan: u, delta (batch, dim, seqlen), A (dim, dstate), grouped B, C "
                + "(batch, groups, dstate, seqlen), D, delta_bias, softplus on, no z.",
                "Defaults are shape S1 (32, 768, 4, 3136, 1). Prints ms, ns per (batch, dim, step) element and "
                        + "GB/s of the minimum bytes."})
final class ScanCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    ScanShapeOptions shape = new ScanShapeOptions();

    @Option(names = "--seed", defaultValue = "42", description = "seed of the inputs (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--dtype", defaultValue = "float32",
            description = "dtype of u, delta, B, C and out: float32, float16 or bfloat16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @CommandLine.Mixin
    Common common = new Common();

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        shape.checkSizes(cl);
        shape.checkGroupsDivideDim(cl);
        org.ss2d.tensor.DType dt = org.ss2d.tensor.DType.byName(dtype);
        if (dt == null) {
            throw new CommandLine.ParameterException(cl, "--dtype: expected float32, float16 or bfloat16, got " + dtype);
        }
        common.check(cl);
        String backend = common.backendName(cl);
        ScanBench.Result r = ScanBench.run(new ScanBench.Config(backend, shape.batch, shape.dim, shape.groups, shape.seqlen, shape.dstate,
                common.threads, common.warmupCalls(), common.repsFor(backend), common.checkBatches, seed, dt));
        PrintWriter out = cl.getOut();
        out.printf(Locale.ROOT, "scan %s %s (%d, %d, %d, %d, %d) on %s, %d threads: median %.4f ms, %.4f ns/elem, %.1f GB/s, check %.2e%s%n",
                r.backend(), r.dtype(), r.batch(), r.dim(), r.groups(), r.seqlen(), r.dstate(), r.device(), r.threads(),
                r.medianMs(), r.nsPerElem(), r.gbPerS(), r.checkRelErr(), Double.isFinite(r.copyGbPerS())
                        ? String.format(Locale.ROOT, " (device events; %.1f%% of a %.0f GB/s copy; %.4f ms wall per call with sync;"
                                + " host part %.1f us; %.4f ms per call queued back to back; load %.2f per core)",
                                r.pctOfCopy(), r.copyGbPerS(), r.wallMs(), r.hostUs(), r.queuedMs(), r.hostLoad())
                        : "");
        if (r.kernel() != null) {
            out.printf(Locale.ROOT, "  kernel %s: %.1f MB moved, %.1f GB/s%s%n", r.kernel(), r.bytesMoved() / 1e6, r.gbPerSMoved(),
                    Double.isFinite(r.copyGbPerS()) ? String.format(Locale.ROOT, " (%.1f%% of copy)", r.pctOfCopyMoved()) : "");
        }
        common.printJson(out, r);
        return 0;
    }
}
