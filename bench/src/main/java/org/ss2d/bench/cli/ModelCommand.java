package org.ss2d.bench.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ss2d.bench.ModelBench;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.validate.Ss2dArgumentException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ss2d bench model}: a whole VMamba model ({@link ModelBench}) with seeded weights. */
@Command(name = "model", sortOptions = false,
        description = {"A whole VMamba classification model on a random (batch, 3, size, size) input with seeded weights.",
                "Prints images/s, ms per image, peak memory and, with --profile, the time per layer kind (a separate "
                        + "series of calls). The logits are checked against the reference backend at 32x32 first."})
final class ModelCommand implements Callable<Integer> {
    static final class Models extends java.util.ArrayList<String> {
        Models() {
            super(VMambaConfig.RELEASED);
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "NAME", defaultValue = "vmamba_tiny_s1l8", completionCandidates = Models.class,
            description = "one of ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "1", description = "images per call (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--size", paramLabel = "PIXELS", defaultValue = "224", description = "input height and width (default: ${DEFAULT-VALUE})")
    int size;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "float32",
            description = "the model's activation dtype: float32, float16 or bfloat16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--profile", description = "also time each layer kind (patch_embed, norm_in, in_proj, scan, ..., classifier) and, on a device "
                    + "backend, set each against its floor (bytes at the measured copy bandwidth or FLOPs at cuBLAS's measured rate)")
    boolean profile;

    @Option(names = "--seed", defaultValue = "42", description = "seed of the weights and input (default: ${DEFAULT-VALUE})")
    long seed;

    @CommandLine.Mixin
    Common common = new Common();

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        try {
            VMambaConfig.named(model);
        } catch (Ss2dArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--model: " + e.getMessage());
        }
        org.ss2d.tensor.DType dt = org.ss2d.tensor.DType.byName(dtype);
        if (dt == null) {
            throw new CommandLine.ParameterException(cl, "--dtype: expected float32, float16 or bfloat16, got " + dtype);
        }
        Common.atLeast(cl, "--batch", batch, 1);
        Common.atLeast(cl, "--size", size, 4);
        common.check(cl);
        String backend = common.backendName(cl);
        ModelBench.Result r = ModelBench.run(new ModelBench.Config(backend, model, batch, size, common.threads,
                common.warmupCalls(), common.repsFor(backend), profile, seed, dt));
        PrintWriter out = cl.getOut();
        out.printf(Locale.ROOT, "%s %s batch %d %dx%d on %s (%s, %d threads): %.2f images/s, %.3f ms/image (median %.2f ms per call), check vs reference %.2e%n",
                r.model(), r.dtype().arrowName(), r.batch(), r.size(), r.size(), r.backend(), r.device(), r.threads(), r.imagesPerS(),
                r.msPerImage(), r.timing().medianMs(), r.checkRelErr());
        out.printf(Locale.ROOT, "peak memory: JVM heap %.1f MiB, process resident %s%s%n", heapPeak() / 1048576.0, rssPeak(),
                r.peakDeviceBytes() >= 0 ? String.format(Locale.ROOT, ", device %.1f MiB (weights, activations and "
                        + "scratch at their peak over the timed calls)", r.peakDeviceBytes() / 1048576.0) : "");
        ModelBench.profileTable(r).forEach(out::println);
        if (common.json) out.println(r.toJson());   // ModelBench writes its own line (through ReportJson)
        return 0;
    }

    private static long heapPeak() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) sum += p.getPeakUsage().getUsed();
        }
        return sum;
    }

    /** VmHWM of /proc/self/status (Linux): the process's peak resident set, Arrow's off-heap memory included. */
    private static String rssPeak() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmHWM:")) return String.format(Locale.ROOT, "%.1f MiB", Long.parseLong(l.replaceAll("\\D", "")) / 1024.0);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no figure
        }
        return "n/a";
    }
}
