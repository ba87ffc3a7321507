package org.ss2d.bench.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ss2d.bench.ScanBackwardBench;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ss2d bench scan-backward}: the selective scan backward beside its forward, same inputs as {@code bench scan}. */
@Command(name = "scan-backward", sortOptions = false,
        description = {"Selective scan backward and forward in the same run: the inputs of 'bench scan' (grouped B, C, D, "
                + "delta_bias, softplus, no z) and a random dout; per-element gradients of the first batch checked against "
                + "float64 first.",
                "Defaults are shape S1 (32, 768, 4, 3136, 1). Host backends alternate forward and backward rounds "
                        + "(wall clock); device backends time each with device events on device-resident tensors and "
                        + "report the device memory the backward adds."})
final class ScanBackwardCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    ScanShapeOptions shape = new ScanShapeOptions();

    @Option(names = "--rounds", paramLabel = "R", defaultValue = "11",
            description = "timed calls of each (device: after 10 untimed; default: ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "3.0",
            description = "host backends: untimed forward+backward pairs for this long first, so that C2 has compiled "
                    + "the kernels (default: ${DEFAULT-VALUE})")
    double warmupSeconds;

    @CommandLine.Mixin
    Common common = new Common();

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        shape.checkSizes(cl);
        Common.atLeast(cl, "--rounds", rounds, 1);
        if (!(warmupSeconds >= 0 && warmupSeconds <= 600)) {
            throw new CommandLine.ParameterException(cl, "--warmup-seconds: must be in [0, 600], got " + warmupSeconds);
        }
        shape.checkGroupsDivideDim(cl);
        common.check(cl);
        String backend = common.backendName(cl);
        ScanBackwardBench.Result r = ScanBackwardBench.run(backend, shape.batch, shape.dim, shape.groups, shape.seqlen, shape.dstate,
                common.threads, rounds, warmupSeconds);
        PrintWriter out = cl.getOut();
        out.printf(Locale.ROOT, "scan-backward %s f32 (%d, %d, %d, %d, %d) on %s: forward %.4f ms, backward %.4f ms "
                        + "(x%.2f, %s), %.4f ns/elem, check %.2e%s%n",
                r.backend(), r.batch(), r.dim(), r.groups(), r.seqlen(), r.dstate(), r.device(), r.forwardMs(),
                r.backwardMs(), r.ratio(), r.timing(), r.backwardNsPerElem(), r.checkRelErr(),
                r.backwardExtraDeviceBytes() >= 0
                        ? String.format(Locale.ROOT, ", backward workspace %.1f MiB", r.backwardExtraDeviceBytes() / 1048576.0)
                        : "");
        common.printJson(out, r);
        return 0;
    }
}
