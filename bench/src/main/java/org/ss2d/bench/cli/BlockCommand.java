package org.ss2d.bench.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ss2d.bench.BlockBench;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ss2d bench block}: an SS2D block (or, with --vss, a whole VSS block) with seeded weights. */
@Command(name = "block", sortOptions = false,
        description = {"SS2D block (VMamba v05_noz) or, with --vss, the VSS block around it, on x (batch, d_model, "
                + "height, width) with seeded weights.",
                "Defaults are VMamba-T stage 1: d_model 96, d_state 1, ssm_ratio 1, 56x56, batch 2. Prints ms, ms per "
                        + "image, images/s and, where the backend profiles, the share of each step."})
final class BlockCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "2", description = "images per call (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--d-model", paramLabel = "C", defaultValue = "96", description = "channels (default: ${DEFAULT-VALUE})")
    int dModel;

    @Option(names = "--d-state", paramLabel = "N", defaultValue = "1", description = "state size (default: ${DEFAULT-VALUE})")
    int dState;

    @Option(names = "--ssm-ratio", paramLabel = "R", defaultValue = "1.0",
            description = "d_inner / d_model (default: ${DEFAULT-VALUE})")
    double ssmRatio;

    @Option(names = "--height", paramLabel = "H", defaultValue = "56", description = "(default: ${DEFAULT-VALUE})")
    int height;

    @Option(names = "--width", paramLabel = "W", defaultValue = "56", description = "(default: ${DEFAULT-VALUE})")
    int width;

    @Option(names = "--vss", negatable = true,
            description = "time the VSS block (LayerNorm, SS2D, residual, LayerNorm, MLP, residual) instead of SS2D alone")
    boolean vss;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "float32",
            description = "the blocks' activation dtype: float32, float16 or bfloat16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--seed", defaultValue = "42", description = "seed of the weights and input (default: ${DEFAULT-VALUE})")
    long seed;

    @CommandLine.Mixin
    Common common = new Common();

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        Common.atLeast(cl, "--batch", batch, 1);
        Common.atLeast(cl, "--d-model", dModel, 1);
        Common.atLeast(cl, "--d-state", dState, 1);
        Common.atLeast(cl, "--height", height, 1);
        Common.atLeast(cl, "--width", width, 1);
        if (!(ssmRatio > 0) || Double.isInfinite(ssmRatio) || (int) (ssmRatio * dModel) < 1) {
            throw new CommandLine.ParameterException(cl, "--ssm-ratio: must be > 0 and give d_inner = ssm_ratio * d_model >= 1, got " + ssmRatio);
        }
        org.ss2d.tensor.DType dt = org.ss2d.tensor.DType.byName(dtype);
        if (dt == null) {
            throw new CommandLine.ParameterException(cl, "--dtype: expected float32, float16 or bfloat16, got " + dtype);
        }
        common.check(cl);
        String backend = common.backendName(cl);
        BlockBench.Result r = BlockBench.run(new BlockBench.Config(backend, batch, dModel, dState, ssmRatio, height, width,
                common.threads, vss, common.warmupCalls(), common.repsFor(backend), common.checkBatches, seed, dt));
        PrintWriter out = cl.getOut();
        out.printf(Locale.ROOT, "%s %s %s batch %d d_model %d d_state %d %dx%d on %s: median %.3f ms, %.3f ms/image, %.1f images/s, check %.2e%n",
                r.block(), r.dtype(), r.backend(), r.batch(), r.dModel(), r.dState(), r.height(), r.width(), r.device(),
                r.medianMs(), r.msPerImage(), r.imagesPerS(), r.checkRelErr());
        if (Double.isFinite(r.hostUs())) {
            out.printf(Locale.ROOT, "  device events: host part of a call %.1f us; %.3f ms per call queued back to back;"
                    + " load %.2f per core%n", r.hostUs(), r.queuedMs(), r.hostLoad());
        }
        common.printJson(out, r);
        return 0;
    }
}
